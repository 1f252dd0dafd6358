package devissuer_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/devissuer"
	"github.com/signet-dev/signet/test/testclock"
)

// serve starts an HTTP server with iss mounted under prefix, as signet
// --dev mounts it, and returns the issuer.
func serve(t *testing.T, opts devissuer.Options) *devissuer.Issuer {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if opts.RequestToken == "" {
		opts.RequestToken = requestToken
	}
	if opts.Clock == nil {
		opts.Clock = testclock.Now
	}
	iss, err := devissuer.New(srv.URL+prefix+"/", opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if want := srv.URL + prefix; iss.URL() != want {
		t.Fatalf("URL() = %q, want %q", iss.URL(), want)
	}
	mux.Handle(prefix+"/", http.StripPrefix(prefix, iss.Handler()))
	return iss
}

// get sends a request to the issuer and returns the status and body.
func get(t *testing.T, method, url, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// verifier discovers the issuer with go-oidc and verifies for clientID on
// the issuer's clock.
func verifier(t *testing.T, iss *devissuer.Issuer, clientID string, clock func() time.Time) *oidc.IDTokenVerifier {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), iss.URL())
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	return provider.Verifier(&oidc.Config{ClientID: clientID, Now: clock})
}

// runnerToken fetches a token from the token endpoint as signet sign does.
func runnerToken(t *testing.T, iss *devissuer.Issuer, audience string) string {
	t.Helper()
	token, err := fetchToken(t.Context(), iss, audience)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// fetchToken is runnerToken for goroutines other than the test's.
func fetchToken(ctx context.Context, iss *devissuer.Issuer, audience string) (string, error) {
	url := iss.URL() + "/token?api-version=2.0"
	if audience != "" {
		url += "&audience=" + audience
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+requestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: status %d: %s", resp.StatusCode, body)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", fmt.Errorf("token endpoint answered %q (%v), want {\"value\": \"<jwt>\"}", body, err)
	}
	return out.Value, nil
}

// header returns the protected header of a token, refusing any algorithm
// but RS256.
func header(t *testing.T, token string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("token is not an RS256 JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(jws.Signatures))
	}
	return jws.Signatures[0].Protected
}

func newKey(t *testing.T, kid string) devissuer.Key {
	t.Helper()
	k, err := devissuer.NewKey(kid)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return k
}

func fresh2048(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	return newKey(t, "unused").Private
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
