package issuancelog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog"
)

// TestConfig fills defaults and names the field at fault.
func TestConfig(t *testing.T) {
	eff := issuancelog.Config{Dir: "/d", Origin: "o/log"}.Effective()
	if eff.Type != "posix" || eff.AppendTimeout != 5*time.Second || eff.BatchMaxAge != issuancelog.DefaultBatchMaxAge || eff.CheckpointInterval != time.Second {
		t.Errorf("Effective = %+v", eff)
	}
	if err := eff.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
	if err := (issuancelog.Config{Type: "off"}).Validate(); err != nil || (issuancelog.Config{Type: "off"}).Enabled() {
		t.Errorf("off: Validate = %v", err)
	}
	for _, tc := range []struct {
		c    issuancelog.Config
		want string
	}{
		{issuancelog.Config{Origin: "o/log"}, "log.dir is required"},
		{issuancelog.Config{Type: "mysql", Origin: "o/log"}, "log.dsn (or log.dsn-file) is required"},
		{issuancelog.Config{Type: "mysql", Origin: "o/log", DSN: "u:p@/db", DSNFile: "/run/dsn"}, "exclusive"},
		{issuancelog.Config{Type: "s3", Origin: "o/log"}, `log.type "s3"`},
		{issuancelog.Config{Dir: "/d"}, "log.origin is required"},
		{issuancelog.Config{Dir: "/d", Origin: "a+b"}, "log.origin"},
		{issuancelog.Config{Dir: "/d", Origin: "a b"}, "log.origin"},
		{issuancelog.Config{Dir: "/d", Origin: "o", AppendTimeout: -1}, "log.append-timeout"},
		{issuancelog.Config{Dir: "/d", Origin: "o", BatchMaxAge: 2 * time.Second}, "log.batch-max-age"},
		{issuancelog.Config{Dir: "/d", Origin: "o", CheckpointInterval: time.Millisecond}, "log.checkpoint-interval"},
		// A longer interval would make every shutdown time out waiting for
		// the checkpoint over the last appends.
		{issuancelog.Config{Dir: "/d", Origin: "o", CheckpointInterval: 6 * time.Second}, "log.checkpoint-interval 6s must be between 100ms and 5s"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
