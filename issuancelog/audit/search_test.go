package audit_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

const (
	issuerA  = "https://accounts.example.com"
	issuerGH = "https://token.actions.githubusercontent.com"
	workflow = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
)

// TestSearch selects certificates by identity, unexpected identity,
// issuer, serial and starting index, and describes them fully.
func TestSearch(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	dir := t.TempDir()
	l := logtest.Open(t, logtest.Config(dir), s)
	sans := []string{"alice@example.com", workflow, "bob@example.com", "mallory@evil.example"}
	ders := make([][]byte, len(sans))
	for i, san := range sans {
		iss := issuerA
		if strings.HasPrefix(san, "https://") {
			iss = issuerGH
		}
		ders[i] = ca.Leaf(t, san, iss)
		logtest.Append(t, l, ders[i]) // one at a time: index i
	}
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, s.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	waitSize(t, c, uint64(len(sans)))
	bob, err := x509.ParseCertificate(ders[2])
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		f     audit.Filter
		since uint64
		want  []uint64
	}{
		{"all", audit.Filter{}, 0, []uint64{0, 1, 2, 3}},
		{"identity", audit.Filter{Identity: regexp.MustCompile(`@example\.com$`)}, 0, []uint64{0, 2}},
		{"not identity", audit.Filter{NotIdentity: regexp.MustCompile(`^(alice|bob)@example\.com$|^https://github\.com/org/`)}, 0, []uint64{3}},
		{"issuer", audit.Filter{Issuer: issuerGH}, 0, []uint64{1}},
		{"serial", audit.Filter{Serial: "0x" + strings.ToUpper(bob.SerialNumber.Text(16))}, 0, []uint64{2}},
		{"since", audit.Filter{Identity: regexp.MustCompile(`example`)}, 2, []uint64{2, 3}},
		{"since the end", audit.Filter{}, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []audit.Entry
			cp, err := c.Search(t.Context(), tc.f, tc.since, func(e audit.Entry) { got = append(got, e) })
			if err != nil || cp.Size != 4 {
				t.Fatalf("Search = %d, %v", cp.Size, err)
			}
			var idx []uint64
			for _, e := range got {
				idx = append(idx, e.Index)
				cert, err := x509.ParseCertificate(ders[e.Index])
				if err != nil {
					t.Fatal(err)
				}
				if e.SAN != sans[e.Index] || e.Serial != cert.SerialNumber.Text(16) || !e.NotBefore.Equal(cert.NotBefore) || e.Error != "" ||
					(e.Issuer != issuerA && e.Issuer != issuerGH) {
					t.Errorf("entry %+v does not describe its certificate", e)
				}
			}
			if !slices.Equal(idx, tc.want) {
				t.Errorf("found %v, want %v", idx, tc.want)
			}
		})
	}
	if _, err := c.Search(t.Context(), audit.Filter{Serial: "xyz"}, 0, func(audit.Entry) {}); err == nil {
		t.Error("Search accepted a serial that is not hex")
	}

	// A log that serves other entries than it committed to is caught
	// before any entry of the altered bundle is emitted.
	bundle := filepath.Join(dir, "tile/entries/000.p/4")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	writeFile(t, bundle, b)
	var emitted int
	_, err = c.Search(t.Context(), audit.Filter{}, 0, func(audit.Entry) { emitted++ })
	if !errors.Is(err, audit.ErrInconsistent) || emitted != 0 {
		t.Errorf("Search of an altered bundle = %v after %d entries, want ErrInconsistent before any", err, emitted)
	}
	// Prove, not finding the altered entry, proves its absence the same
	// way, and so names the inconsistency rather than "not found".
	if _, err := c.Prove(t.Context(), ders[3], 0); !errors.Is(err, audit.ErrInconsistent) || errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Prove of the altered entry = %v, want ErrInconsistent", err)
	}
}
