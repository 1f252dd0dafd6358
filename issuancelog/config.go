package issuancelog

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
)

// Storage types of Config.Type.
const (
	// TypePOSIX keeps the log in a directory, the embedded default.
	TypePOSIX = "posix"
	// TypeMySQL keeps the log in a MySQL (or MariaDB) database.
	TypeMySQL = "mysql"
	// TypeOff runs without a log.
	TypeOff = "off"
)

// Defaults of the Config durations, chosen with BenchmarkAppend.
const (
	// DefaultAppendTimeout bounds one Append.
	DefaultAppendTimeout = 5 * time.Second
	// DefaultBatchMaxAge is how long an entry waits for others to share
	// its write to disk.
	DefaultBatchMaxAge = 2 * time.Millisecond
	// DefaultCheckpointInterval is how often a new checkpoint is signed
	// and published when the log has grown.
	DefaultCheckpointInterval = time.Second
	// MinCheckpointInterval is the least interval tessera's POSIX storage
	// accepts.
	MinCheckpointInterval = 100 * time.Millisecond
	// MaxCheckpointInterval is the longest checkpoint interval: a closing
	// log waits for the next checkpoint to cover its last append, and
	// that must come well within CloseTimeout.
	MaxCheckpointInterval = 5 * time.Second
	// CloseTimeout is how long a stopping server gives the log to close:
	// its appends to finish and a checkpoint to cover them.
	CloseTimeout = 10 * time.Second
	// batchMaxSize flushes a batch early once this many entries wait: one
	// entry bundle's worth.
	batchMaxSize = 256
)

// Config is the issuance log's part of signet's configuration.
type Config struct {
	// Type is posix (the default), mysql or off.
	Type string `yaml:"type,omitempty"`
	// Dir is the log directory of a posix log; it is created if missing.
	Dir string `yaml:"dir,omitempty"`
	// DSN is the data source name of a mysql log.
	DSN string `yaml:"dsn,omitempty"`
	// DSNFile is a file holding the data source name instead (a mounted
	// Secret), so that the database password stays out of signet.yaml;
	// it is read when the log opens.
	DSNFile string `yaml:"dsn-file,omitempty"`
	// Origin is the log's name: the first line of its checkpoints and the
	// name of its checkpoint key, such as "signet.example.com/log".
	Origin string `yaml:"origin,omitempty"`
	// AppendTimeout bounds how long issuing a certificate waits for its
	// entry to be stored; default 5s.
	AppendTimeout time.Duration `yaml:"append-timeout,omitempty"`
	// BatchMaxAge is how long an entry waits to be written with others;
	// default 2ms.
	BatchMaxAge time.Duration `yaml:"batch-max-age,omitempty"`
	// CheckpointInterval is how often a grown log publishes a new signed
	// checkpoint; default 1s, at least 100ms.
	CheckpointInterval time.Duration `yaml:"checkpoint-interval,omitempty"`
}

// Effective returns c with every default filled in.
func (c Config) Effective() Config {
	if c.Type == "" {
		c.Type = TypePOSIX
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AppendTimeout, DefaultAppendTimeout)
	def(&c.BatchMaxAge, DefaultBatchMaxAge)
	def(&c.CheckpointInterval, DefaultCheckpointInterval)
	return c
}

// Enabled reports whether c asks for a log at all.
func (c Config) Enabled() bool { return c.Effective().Type != TypeOff }

// Validate checks c after defaults (see Effective) without side effects;
// each error names the log.* field at fault.
func (c Config) Validate() error {
	c = c.Effective()
	var errs []error
	switch c.Type {
	case TypeOff:
		return nil
	case TypePOSIX:
		if c.Dir == "" {
			errs = append(errs, errors.New("log.dir is required for a posix log"))
		}
	case TypeMySQL:
		switch {
		case c.DSN == "" && c.DSNFile == "":
			errs = append(errs, errors.New("log.dsn (or log.dsn-file) is required for a mysql log"))
		case c.DSN != "" && c.DSNFile != "":
			errs = append(errs, errors.New("log.dsn and log.dsn-file are exclusive: set one"))
		}
	default:
		errs = append(errs, fmt.Errorf("log.type %q is not one of posix, mysql, off", c.Type))
	}
	if err := validOrigin(c.Origin); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"append-timeout", c.AppendTimeout, time.Millisecond, time.Minute},
		{"batch-max-age", c.BatchMaxAge, 0, time.Second},
		{"checkpoint-interval", c.CheckpointInterval, minInterval(c.Type), MaxCheckpointInterval},
	} {
		if f.v < f.min || f.v > f.max {
			errs = append(errs, fmt.Errorf("log.%s %s must be between %s and %s", f.name, f.v, f.min, f.max))
		}
	}
	return errors.Join(errs...)
}

// validOrigin checks that origin can name a note key: not empty, no
// spaces, no '+'.
func validOrigin(origin string) error {
	switch {
	case origin == "":
		return errors.New("log.origin is required, such as \"signet.example.com/log\"")
	case strings.ContainsRune(origin, '+') || strings.IndexFunc(origin, unicode.IsSpace) >= 0:
		return fmt.Errorf("log.origin %q must contain no spaces and no '+'", origin)
	}
	return nil
}

// minInterval is the least checkpoint interval a storage accepts:
// tessera's MySQL driver publishes at most once a second.
func minInterval(typ string) time.Duration {
	if typ == TypeMySQL {
		return time.Second
	}
	return MinCheckpointInterval
}

// dataSource is the mysql log's data source name: DSN, or what DSNFile
// holds, trimmed of surrounding space. Errors never quote the file's
// content, which holds a password.
func (c Config) dataSource() (string, error) {
	if c.DSNFile == "" {
		return c.DSN, nil
	}
	b, err := os.ReadFile(c.DSNFile)
	if err != nil {
		return "", fmt.Errorf("log.dsn-file: %w", err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("log.dsn-file %s is empty", c.DSNFile)
	}
	return dsn, nil
}
