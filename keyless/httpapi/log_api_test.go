package httpapi_test

import (
	"crypto/elliptic"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/keyless/httpapi"
	"github.com/signet-dev/signet/test/harness"
)

// TestCertificatesCarryTheirLogIndex: every certificate endpoint answers
// the entry's index in the issuance log (a temporary one for memory keys),
// each index once, and the log is served for monitors.
func TestCertificatesCarryTheirLogIndex(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	seen := map[int]bool{}
	for _, ep := range certEndpoints {
		for range 2 {
			resp := env.PostJSON(t, ep.path, token, ep.body(t, newKey(t, elliptic.P256()), sub))
			if resp.Status != ep.ok {
				t.Fatalf("%s: status %d: %s", ep.path, resp.Status, resp.Body)
			}
			idx, err := strconv.Atoi(resp.Header.Get(httpapi.LogIndexHeader))
			if err != nil || idx < 0 || seen[idx] {
				t.Fatalf("%s: %s %q is not a fresh index (seen %v)", ep.path, httpapi.LogIndexHeader, resp.Header.Get(httpapi.LogIndexHeader), seen)
			}
			seen[idx] = true
		}
	}
	key := env.Do(t, http.MethodGet, "/api/v1/log/key", nil, nil)
	if _, err := note.NewVerifier(strings.TrimSpace(string(key.Body))); key.Status != http.StatusOK || err != nil {
		t.Errorf("GET /api/v1/log/key: %d %q, want a note verifier key", key.Status, key.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp := env.Do(t, http.MethodGet, "/api/v1/log/checkpoint", nil, nil)
		lines := strings.Split(string(cp.Body), "\n")
		if cp.Status == http.StatusOK && len(lines) > 2 {
			if size, _ := strconv.Atoi(lines[1]); size >= len(seen) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the %d entries: %d %q", len(seen), cp.Status, cp.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, path := range []string{"/api/v1/log/", "/api/v1/log/.state/treeState", "/api/v1/log/../../etc/passwd", "/api/v1/log/tile/0/x"} {
		if r := env.Do(t, http.MethodGet, path, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.Status)
		}
	}
}
