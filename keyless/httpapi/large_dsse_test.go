package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/harness"
)

// TestLargeAttestationSignedInParts: the client signs a DSSE payload of up
// to client.MaxOneShotPayload through the one-shot endpoint, which takes
// it, and a larger one (a big SBOM), which the one-shot endpoint refuses
// with 413, through the signingCert and timestamp APIs without sending it.
// Both bundles verify with sigstore-go against the server's trusted root
// and carry their certificate's log index.
func TestLargeAttestationSignedInParts(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		env.App.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := &client.Client{BaseURL: srv.URL, Attempts: 1}
	root := env.Do(t, http.MethodGet, "/api/v1/trustedroot", nil, nil).Body
	subject := []byte("widgets-1.0.tar.gz")

	for _, tc := range []struct {
		name      string
		size      int
		wantPaths []string
	}{
		{"at the one-shot limit", client.MaxOneShotPayload, []string{"/api/v1/sign"}},
		{"a 3 MiB SBOM", 3 << 20, []string{"/api/v2/signingCert", "/api/v1/timestamp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := statement(t, subject, tc.size)
			mu.Lock()
			paths = nil
			mu.Unlock()
			signed, err := c.SignDSSE(t.Context(), token, bundle.InTotoPayloadType, payload)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := strings.Join(paths, " ")
			mu.Unlock()
			if want := strings.Join(tc.wantPaths, " "); got != want {
				t.Errorf("requests %q, want %q", got, want)
			}
			res, err := bundle.Verify(signed.Bundle, root, bytes.NewReader(subject), bundle.Identity{SANRegexp: "^https://github.com/acme/widgets/", Issuer: env.GitHub.URL()})
			if err != nil {
				t.Fatalf("bundle does not verify: %v", err)
			}
			if res.Statement == nil || res.Statement.GetPredicateType() != "https://spdx.dev/Document" {
				t.Errorf("verified statement: %v", res.Statement)
			}
			if signed.LogIndex < 0 {
				t.Errorf("log index %d, want the certificate's entry", signed.LogIndex)
			}
		})
	}

	t.Run("the one-shot endpoint refuses the large payload", func(t *testing.T) {
		resp := env.PostJSON(t, "/api/v1/sign", token, map[string]any{
			"dsseEnvelope": map[string]any{"payload": statement(t, subject, 3<<20), "payloadType": bundle.InTotoPayloadType},
		})
		if resp.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413: %s", resp.Status, resp.Body)
		}
	})
}

// statement is an in-toto statement over subject whose predicate pads it
// to about size bytes.
func statement(t *testing.T, subject []byte, size int) []byte {
	t.Helper()
	d := sha256.Sum256(subject)
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": string(subject), "digest": map[string]string{"sha256": hex.EncodeToString(d[:])}}},
		"predicateType": "https://spdx.dev/Document",
		"predicate":     map[string]any{"packages": ""},
	}
	empty, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	st["predicate"] = map[string]any{"packages": strings.Repeat("p", size-len(empty))}
	out, err := json.Marshal(st)
	if err != nil || len(out) != size {
		t.Fatalf("statement of %d bytes, want %d (%v)", len(out), size, err)
	}
	return out
}
