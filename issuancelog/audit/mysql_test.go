package audit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
	"github.com/signet-dev/signet/test/mariadbdev"
)

// TestMySQLLogOnMariaDB runs the issuance log on Tessera's MySQL driver
// against a real MariaDB (Debian's 10.11): concurrent appends get unique
// indices and each is proven through the served tiles; a second log on the
// same database continues it; a key that did not sign the database's
// checkpoint is refused.
func TestMySQLLogOnMariaDB(t *testing.T) {
	db := mariadbdev.Start(t)
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	cfg := issuancelog.Config{Type: issuancelog.TypeMySQL, DSN: db.DSN, Origin: logtest.Origin,
		CheckpointInterval: time.Second} // tessera's MySQL driver publishes at most once a second
	l := logtest.Open(t, cfg, s)
	if err := l.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	var ders [][]byte
	for i := range 30 {
		ders = append(ders, ca.Leaf(t, fmt.Sprintf("https://github.com/acme/r%d/.github/workflows/x.yml@refs/heads/main", i), "https://issuer.example"))
	}
	idx := logtest.Append(t, l, ders...)
	seen := map[uint64]bool{}
	for _, i := range idx {
		if seen[i] || i >= uint64(len(ders)) {
			t.Fatalf("indices %v are not 0..%d, each once", idx, len(ders)-1)
		}
		seen[i] = true
	}
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, s.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	for i, der := range ders {
		inc, err := c.Prove(t.Context(), der, 10*time.Second)
		if err != nil || inc.Index != idx[i] {
			t.Fatalf("certificate %d: Prove = %+v, %v; want index %d", i, inc, err, idx[i])
		}
	}
	logtest.Close(t, l)

	// The same database, opened again: the log continues.
	l2 := logtest.Open(t, cfg, s)
	more := logtest.Append(t, l2, ca.Leaf(t, "https://github.com/acme/later/.github/workflows/x.yml@refs/heads/main", "https://issuer.example"))
	if more[0] != uint64(len(ders)) {
		t.Errorf("after reopening, index %d, want %d", more[0], len(ders))
	}
	logtest.Close(t, l2)

	// Another key: refused before anything is appended.
	if _, err := issuancelog.Open(t.Context(), cfg, logtest.Signer(t, logtest.Origin), nil); err == nil ||
		!strings.Contains(err.Error(), "not this log's") {
		t.Errorf("Open with another key: %v, want a refusal naming the checkpoint", err)
	}
}
