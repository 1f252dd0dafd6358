package identity

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/problem"
)

// FuzzUnverifiedIssuer feeds arbitrary strings to the first parser a token
// meets: it must never panic, and every refusal must be a 401.
//
//	go test -run '^$' -fuzz FuzzUnverifiedIssuer -fuzztime 30s ./identity/
func FuzzUnverifiedIssuer(f *testing.F) {
	for _, seed := range []string{
		"", "a.b.c", "..", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3gifQ.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOjF9.AAAA", strings.Repeat("A", 100) + ".." + strings.Repeat("B", 10),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		iss, err := unverifiedIssuer(raw)
		var pe *problem.Error
		switch {
		case err != nil && (!errors.As(err, &pe) || pe.Status != http.StatusUnauthorized):
			t.Fatalf("refusal %v is not a 401", err)
		case err == nil && (iss == "" || strings.Count(raw, ".") != 2 || len(raw) > MaxTokenSize):
			t.Fatalf("accepted %q as a token of issuer %q", raw, iss)
		}
	})
}

// FuzzSPIFFEID checks that whatever the SPIFFE ID parser accepts is a
// spiffe:// URI of a valid trust domain.
//
//	go test -run '^$' -fuzz FuzzSPIFFEID -fuzztime 30s ./identity/
func FuzzSPIFFEID(f *testing.F) {
	for _, seed := range []string{"spiffe://example.org/ns/a", "spiffe://example.org", "spiffe://a/../b", "spiffe://EX/a", "spiffe://x//"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		td, err := spiffeTrustDomain(id)
		if err != nil {
			return
		}
		if validTrustDomain(td) != nil || !strings.HasPrefix(id, "spiffe://"+td) {
			t.Fatalf("accepted %q with trust domain %q", id, td)
		}
		if _, err := absoluteURI(id); err != nil {
			t.Fatalf("accepted %q, which is not an absolute URI: %v", id, err)
		}
	})
}
