package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/signet-dev/signet/issuancelog"
)

// Log is the issuance log: where it is stored (issuancelog.Config) and
// its checkpoint key.
type Log struct {
	issuancelog.Config `yaml:",inline"`
	// Key is the log's checkpoint key. A path is a file holding a note
	// private key (PRIVATE+KEY+...) whose name must be the log's origin.
	// When the CA is in Vault, "transit:NAME" names a transit ed25519 key
	// instead (its latest version signs; the key never leaves Vault), which
	// `signet ca init --backend vault` creates as transit:signet-log.
	Key string `yaml:"key,omitempty"`
}

// TransitKeyPrefix marks a log.key that names a Vault transit key.
const TransitKeyPrefix = "transit:"

// TransitKey returns the transit key name of a log.key of the form
// transit:NAME; ok is false for a key file.
func (l Log) TransitKey() (name string, ok bool) {
	return strings.CutPrefix(l.Key, TransitKeyPrefix)
}

// EffectiveLog returns the log settings with defaults filled in: posix
// storage, and an origin of the public URL's host and path plus "/log".
func (c *Config) EffectiveLog() Log {
	l := c.Log
	l.Config = l.Config.Effective()
	if l.Origin == "" {
		l.Origin = DefaultLogOrigin(c.EffectivePublicURL())
	}
	return l
}

// DefaultLogOrigin is the log origin of a server at publicURL: its host
// and path with "/log" appended, e.g. "signet.example.com/log".
func DefaultLogOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return "signet/log"
	}
	return u.Host + strings.TrimSuffix(u.Path, "/") + "/log"
}

// Ephemeral reports a posix log with neither dir nor key: the server then
// logs to a temporary directory under a key made at start, which is only
// honest for development (memory keys, --dev).
func (l Log) Ephemeral() bool {
	return l.Effective().Type == issuancelog.TypePOSIX && l.Dir == "" && l.Key == ""
}

// validateLog checks the log block. A server with real CA keys (file or
// Vault) needs a durable log or an explicit `type: off`.
func (c *Config) validateLog() error {
	l := c.EffectiveLog()
	switch {
	case l.Type == issuancelog.TypeOff:
		return nil
	case l.Type == issuancelog.TypeMySQL && l.Key == "":
		return errors.New("config: log.key is required for a mysql log (the checkpoint key; `signet ca init` writes one)")
	case l.Type == issuancelog.TypeMySQL:
		// validated below: log.dsn or log.dsn-file is required
	case l.Type != issuancelog.TypePOSIX:
		return fmt.Errorf("config: log.type %q is not one of posix, mysql, off", l.Type)
	case l.Ephemeral() && c.CA.Type != BackendMemory:
		return fmt.Errorf("config: log.dir and log.key are required when the CA has %s keys (`signet ca init` writes them), or set log.type: off to run without an issuance log", c.CA.Type)
	case l.Ephemeral():
		l.Dir = "(temporary)"
	case l.Dir == "" || l.Key == "":
		return errors.New("config: log.dir and log.key go together: set both, or neither for a temporary development log")
	}
	if name, ok := l.TransitKey(); ok {
		switch {
		case c.CA.Type != BackendVault:
			return fmt.Errorf("config: log.key %q names a Vault transit key, which needs ca.type vault (the CA is %s): use a key file", l.Key, c.CA.Type)
		case name == "" || strings.ContainsAny(name, "/ \t\n"):
			return fmt.Errorf("config: log.key %q: want transit:NAME, NAME a transit key name", l.Key)
		}
	}
	if err := l.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// LogWarnings lists what `signet config validate` warns about the log.
func (c *Config) LogWarnings() []string {
	l := c.EffectiveLog()
	switch {
	case l.Type == issuancelog.TypeOff:
		return []string{"log.type is off: certificates are issued without a record; nobody can audit what this server issued"}
	case l.Ephemeral():
		return []string{"log has no dir and key: it lives in a temporary directory under a key made at start, for development only"}
	}
	return nil
}
