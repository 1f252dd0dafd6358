package issuancelog_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/signet-dev/signet/issuancelog/internal/logtest"
	"github.com/signet-dev/signet/test/testclock"
)

// TestHandler serves the tlog-tiles resources with their cache headers,
// the key as text, and nothing else.
func TestHandler(t *testing.T) {
	ca := logtest.NewCA(t)
	dir := t.TempDir()
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(dir), s)
	ders := make([][]byte, layout.EntryBundleWidth+2) // one full bundle and tile, one partial
	for i := range ders {
		ders[i] = ca.Leaf(t, "alice@example.com", "https://issuer.example")
	}
	logtest.Append(t, l, ders...)
	// Full tiles are immutable only once a checkpoint covers them.
	for deadline := testclock.WallNow().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cp, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
		if lines := strings.Split(string(cp), "\n"); len(lines) > 1 && lines[1] == strconv.Itoa(len(ders)) {
			break
		}
		if testclock.WallNow().After(deadline) {
			t.Fatalf("no checkpoint of size %d within 10s", len(ders))
		}
	}
	// A full tile no checkpoint covers yet (as a group that failed before
	// its tree state was saved leaves one): it may still be rewritten.
	for _, f := range []string{"tile/0/000", "tile/entries/000"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(f, "000")+"005"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Files the handler must never serve, though they are in or near the
	// directory: tessera's state, a temporary file, an outside secret.
	if err := os.WriteFile(filepath.Join(dir, "checkpoint.12345"), []byte("tmp"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, hc := logtest.Serve(t, l)

	for _, tc := range []struct {
		method, path string
		status       int
		cache        string
		body         string
	}{
		{"GET", "/key", 200, "public, max-age=300", s.VerifierKey()},
		{"GET", "/checkpoint", 200, "no-cache", logtest.Origin + "\n"},
		{"HEAD", "/checkpoint", 200, "no-cache", ""},
		{"GET", "/tile/0/000", 200, "public, max-age=31536000, immutable", ""},
		{"GET", "/tile/entries/000", 200, "public, max-age=31536000, immutable", ""},
		{"GET", "/tile/0/005", 200, "public, max-age=60", ""},
		{"GET", "/tile/entries/005", 200, "public, max-age=60", ""},
		{"GET", "/tile/0/001.p/2", 200, "public, max-age=60", ""},
		{"GET", "/tile/entries/001.p/2", 200, "public, max-age=60", ""},
		{"GET", "/tile/1/000.p/1", 200, "public, max-age=60", ""},
		{"GET", "/tile/0/002", 404, "", ""},
		{"GET", "/tile/0/0", 404, "", ""},          // not canonical
		{"GET", "/tile/0/x000/000", 404, "", ""},   // not canonical
		{"GET", "/tile/0/001.p/256", 404, "", ""},  // width out of range
		{"GET", "/tile/0/001.p/02", 404, "", ""},   // not canonical
		{"GET", "/tile/64/000", 404, "", ""},       // level out of range
		{"GET", "/tile/", 404, "", ""},             // no listing
		{"GET", "/tile/0/", 404, "", ""},           // no listing
		{"GET", "/tile/entries/", 404, "", ""},     // no listing
		{"GET", "/", 404, "", ""},                  // no listing
		{"GET", "/.state/treeState", 404, "", ""},  // private state
		{"GET", "/checkpoint.12345", 404, "", ""},  // temporary file
		{"GET", "/tile/../../secret", 404, "", ""}, // traversal
		{"GET", "/tile/..%2f..%2fsecret", 404, "", ""},
		{"GET", "/tile/0/..%2f..%2f..%2fsecret", 404, "", ""},
		{"GET", "/%2e%2e/secret", 404, "", ""},
		{"POST", "/checkpoint", 405, "", ""},
		{"DELETE", "/tile/0/000", 405, "", ""},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			u, err := url.Parse(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: tc.method, URL: u, Header: http.Header{}}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if strings.Contains(string(body), "secret") && tc.status != 200 {
				t.Fatalf("body %q leaks the outside file", body)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if !strings.HasPrefix(string(body), tc.body) {
				t.Errorf("body %q, want it to start with %q", body, tc.body)
			}
			if tc.method == "GET" && len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
}
