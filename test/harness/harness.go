// Package harness starts the whole signet stack in process for tests: the
// real handler from app.New behind a real HTTP listener, trusting mock OIDC
// issuers that are real HTTP servers too. Nothing in the stack is faked.
package harness

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/signet-dev/signet/cmd/signet/app"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// Env is a running signet with its trusted issuers.
type Env struct {
	// URL is signet's base URL.
	URL string
	// GitHub is a mock issuer trusted as type github-workflow.
	GitHub *oidcmock.Issuer
	// App is the assembled server.
	App *app.App
}

// Options adjust the stack before it starts.
type Options struct {
	// Configure edits the configuration; GitHub is already trusted.
	Configure func(cfg *config.Config)
	// Log receives server logs; nil discards them unless SIGNET_TEST_LOG is set.
	Log *slog.Logger
}

// StartIssuer starts a mock issuer and stops it with the test.
func StartIssuer(t testing.TB) *oidcmock.Issuer {
	t.Helper()
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatalf("start mock issuer: %v", err)
	}
	iss.SetClock(testclock.Now)
	t.Cleanup(iss.Close)
	return iss
}

// Start runs signet in process on memory backends and stops it with the test.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	gh := StartIssuer(t)
	srv := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Listen = srv.Listener.Addr().String()
	cfg.Identity = identity.Config{OIDCIssuers: map[string]identity.Issuer{
		gh.URL(): {IssuerURL: gh.URL(), ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
	}}
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		if os.Getenv("SIGNET_TEST_LOG") != "" {
			log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
		}
	}
	a, err := app.New(context.Background(), cfg, app.Env{Log: log, Clock: testclock.Now})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(a.Close) // runs after srv.Close: cleanups run last in, first out
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{URL: srv.URL, GitHub: gh, App: a}
}

// Response is an HTTP answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Do sends a request to signet and reads the whole answer.
func (e *Env) Do(t testing.TB, method, path string, header map[string]string, body io.Reader) Response {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// PostJSON posts a JSON document with an optional bearer token.
func (e *Env) PostJSON(t testing.TB, path, token string, doc any) Response {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return e.Do(t, http.MethodPost, path, h, strings.NewReader(string(b)))
}

// Mint mints a token from the GitHub issuer, failing the test on error.
func (e *Env) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := e.GitHub.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
