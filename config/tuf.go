package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// TUF is the TUF repository signet serves at /tuf/: its targets are the
// trusted root and the signing config, signed by an online key, under a
// root that `signet tuf init` writes and verifiers pin.
type TUF struct {
	// Root is the signed root.json (`signet tuf init` writes it); every
	// replica serves the same file.
	Root string `yaml:"root,omitempty"`
	// Key is the online key of the targets, snapshot and timestamp roles:
	// a PEM PKCS #8 private key file (Ed25519 or ECDSA P-256), or, with the
	// CA in Vault, "transit:NAME" for a transit ed25519 or ecdsa-p256 key
	// (`signet tuf init` creates transit:signet-tuf). Ed25519 signatures are
	// deterministic, so replicas then serve byte-identical metadata.
	Key string `yaml:"key,omitempty"`
	// Period is how often new metadata versions are signed; default 1h.
	// Versions are the Unix times (in milliseconds) periods start at, so
	// replicas agree.
	Period time.Duration `yaml:"period,omitempty"`
	// Expiry is how long metadata stays valid after its period starts;
	// default 24h, at least two periods.
	Expiry time.Duration `yaml:"expiry,omitempty"`
}

// Defaults of the TUF repository.
const (
	DefaultTUFPeriod = time.Hour
	DefaultTUFExpiry = 24 * time.Hour
	// TUFTransitKey is the transit key `signet tuf init` creates when
	// the CA is in Vault.
	TUFTransitKey = "signet-tuf"
)

// TransitKey returns the transit key name of a key of the form
// transit:NAME; ok is false for a key file.
func (t TUF) TransitKey() (name string, ok bool) {
	return strings.CutPrefix(t.Key, TransitKeyPrefix)
}

// EffectiveTUF returns the TUF settings with defaults filled in.
func (c *Config) EffectiveTUF() TUF {
	t := c.TUF
	if t.Period == 0 {
		t.Period = DefaultTUFPeriod
	}
	if t.Expiry == 0 {
		t.Expiry = max(DefaultTUFExpiry, 2*t.Period)
	}
	return t
}

// TUFEnabled reports whether the server publishes a TUF repository: when
// configured, or in dev mode (under keys made at start).
func (c *Config) TUFEnabled() bool { return c.TUF.Root != "" || c.TUF.Key != "" || c.Dev }

// TUFEphemeral reports a dev-mode repository with no configured root or
// key: both are made at start, and the root changes on every restart.
func (c *Config) TUFEphemeral() bool { return c.Dev && c.TUF.Root == "" && c.TUF.Key == "" }

// validateTUF checks the tuf block.
func (c *Config) validateTUF() error {
	t := c.EffectiveTUF()
	if !c.TUFEnabled() || c.TUFEphemeral() {
		return nil
	}
	switch {
	case t.Root == "" || t.Key == "":
		return errors.New("config: tuf.root and tuf.key go together (`signet tuf init` writes both)")
	case t.Period < time.Second || t.Period%time.Second != 0:
		return fmt.Errorf("config: tuf.period %s: want a whole number of seconds, at least 1s", t.Period)
	case t.Expiry < 2*t.Period:
		return fmt.Errorf("config: tuf.expiry %s is shorter than two periods (%s): clients would see expired metadata", t.Expiry, 2*t.Period)
	}
	if name, ok := t.TransitKey(); ok {
		switch {
		case c.CA.Type != BackendVault:
			return fmt.Errorf("config: tuf.key %q names a Vault transit key, which needs ca.type vault (the CA is %s): use a key file", t.Key, c.CA.Type)
		case name == "" || strings.ContainsAny(name, "/ \t\n"):
			return fmt.Errorf("config: tuf.key %q: want transit:NAME, NAME a transit key name", t.Key)
		}
	}
	return nil
}
