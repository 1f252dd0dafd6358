package tsa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/gorilla/mux"

	"github.com/signet-dev/signet/internal/pki"

	"github.com/signet-dev/signet/test/testclock"
)

// fixture is a TSA over a fresh dev chain, served by httptest over the
// real API, with a fixed clock.
type fixture struct {
	auth  *Authority
	key   pki.KeyChain
	now   time.Time
	srv   *httptest.Server
	route *mux.Router
}

// newFixture builds the fixture; the server is closed at test cleanup.
//
// It runs on the wall clock, not the tests' shifted one: its replies are
// checked with digitorus/pkcs7, which compares the CMS signing-time
// attribute with the TSA certificate's validity, and pkcs7 writes that
// attribute from time.Now with no way to inject a clock (the TSA's genTime
// does come from the authority's clock).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, testclock.WallNow())
}

// newFixtureAt builds the fixture with its chain and clock at now.
func newFixtureAt(t testing.TB, now time.Time) *fixture {
	t.Helper()
	now = now.UTC().Truncate(time.Second)
	key, err := NewDevChain("signet-test", now, nil)
	if err != nil {
		t.Fatalf("NewDevChain: %v", err)
	}
	auth, err := New(Options{Key: key, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := mux.NewRouter()
	(&API{Authority: auth, Log: slog.New(slog.DiscardHandler)}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &fixture{auth: auth, key: key, now: now, srv: srv, route: r}
}

// post sends body to the timestamp endpoint and returns status, content
// type and response body.
func (f *fixture) post(t testing.TB, contentType string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/timestamp", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), got
}

// get fetches path from the server.
func (f *fixture) get(t testing.TB, path string) (int, string, []byte) {
	t.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), got
}

// derRequest marshals an RFC 3161 request.
func derRequest(t testing.TB, req *timestamp.Request) []byte {
	t.Helper()
	b, err := req.Marshal()
	if err != nil {
		t.Fatalf("marshal request: %v", err)
	}
	return b
}

// jsonRequest marshals sigstore's JSON request.
func jsonRequest(t testing.TB, req any) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("marshal JSON request: %v", err)
	}
	return b
}

// digestOf hashes artifact with h.
func digestOf(h crypto.Hash, artifact []byte) []byte {
	d := h.New()
	d.Write(artifact)
	return d.Sum(nil)
}

// randomNonce returns a random 64-bit nonce, as openssl sends.
func randomNonce(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatalf("nonce: %v", err)
	}
	return n
}
