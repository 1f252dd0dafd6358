package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// issuerHost serves mock issuers under path prefixes of one HTTP server
// ("<url>/a", "<url>/b", ...) and counts their discovery requests. fault,
// when set, answers every request of its issuers instead.
type issuerHost struct {
	srv     *httptest.Server
	clock   *fakeClock
	mu      sync.Mutex
	issuers map[string]*oidcmock.Issuer // by path prefix
	hits    map[string]int              // discovery requests by path prefix
	delay   atomic.Int64                // nanoseconds before each discovery answer
	fault   atomic.Pointer[http.HandlerFunc]
}

func startIssuerHost(t *testing.T, clock *fakeClock, prefixes ...string) *issuerHost {
	t.Helper()
	h := &issuerHost{clock: clock, issuers: map[string]*oidcmock.Issuer{}, hits: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	for _, p := range prefixes {
		iss, err := oidcmock.New(h.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		iss.SetClock(clock.Now)
		h.issuers[p] = iss
	}
	return h
}

func (h *issuerHost) serve(w http.ResponseWriter, r *http.Request) {
	prefix, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	prefix = "/" + prefix
	h.mu.Lock()
	iss := h.issuers[prefix]
	if rest == ".well-known/openid-configuration" {
		h.hits[prefix]++
	}
	h.mu.Unlock()
	if d := time.Duration(h.delay.Load()); d > 0 && rest == ".well-known/openid-configuration" {
		time.Sleep(d)
	}
	if f := h.fault.Load(); f != nil {
		(*f)(w, r)
		return
	}
	if iss == nil {
		http.NotFound(w, r)
		return
	}
	http.StripPrefix(prefix, iss.Handler()).ServeHTTP(w, r)
}

func (h *issuerHost) discoveries(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[prefix]
}

func (h *issuerHost) setFault(f http.HandlerFunc) {
	if f == nil {
		h.fault.Store(nil)
		return
	}
	h.fault.Store(&f)
}

// token mints a GitHub-shaped token of the issuer at prefix; forged ones
// are signed by a key the issuer does not publish.
func (h *issuerHost) token(t *testing.T, prefix string, forged bool) string {
	t.Helper()
	tok, err := h.issuers[prefix].MintWith(oidcmock.GitHubClaims("acme/widgets"), oidcmock.MintOptions{UnpublishedKey: forged})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authenticator trusts "<url>/exact" exactly and "<url>/*" as a meta-issuer.
func (h *issuerHost) authenticator(t *testing.T, log *slog.Logger) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(Config{
		OIDCIssuers: map[string]Issuer{h.srv.URL + "/exact": {ClientID: "sigstore", Type: TypeGitHubWorkflow}},
		MetaIssuers: map[string]Issuer{h.srv.URL + "/*": {ClientID: "sigstore", Type: TypeGitHubWorkflow}},
	}, Options{Clock: h.clock.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestUpstreamDetailNeverReachesTheClient(t *testing.T) {
	const secret = "SECRET-internal-metadata-7f3a"
	for _, tc := range []struct {
		name  string
		fault http.HandlerFunc
		kid   string // a kid the cached keys lack, to force a JWKS fetch
		want  string
	}{
		{"discovery answers 403 with a body", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, secret, http.StatusForbidden)
		}, "", `identity token issuer "` + "%s" + `" is unavailable; try again later`},
		{"discovery answers a document of another issuer", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"issuer": %q, "jwks_uri": "http://x/jwks"}`, "https://"+secret)
		}, "", `identity token issuer "` + "%s" + `" is unavailable; try again later`},
		{"JWKS answers garbage", func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") {
				fmt.Fprint(w, secret)
				return
			}
			http.NotFound(w, r)
		}, "unknown-kid", `cannot fetch the keys of identity token issuer "` + "%s" + `"; try again later`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: testclock.Now()}
			h := startIssuerHost(t, clock, "/exact")
			var logs bytes.Buffer
			a := h.authenticator(t, slog.New(slog.NewTextHandler(&logs, nil)))
			ctx := context.Background()
			if tc.kid != "" { // discover and cache the keys first
				if _, err := a.Authenticate(ctx, h.token(t, "/exact", false)); err != nil {
					t.Fatal(err)
				}
				clock.Advance(time.Minute)
			}
			h.setFault(tc.fault)
			tok, err := h.issuers["/exact"].MintWith(oidcmock.GitHubClaims("acme/widgets"), oidcmock.MintOptions{KID: tc.kid})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Authenticate(ctx, tok)
			want := fmt.Sprintf(tc.want, h.srv.URL+"/exact")
			if problem.StatusOf(err) != http.StatusServiceUnavailable || err.Error() != want {
				t.Fatalf("error = %v (status %d), want 503 %q", err, problem.StatusOf(err), want)
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Cause == nil {
				t.Fatalf("error %v carries no cause for the logs", err)
			}
			if !strings.Contains(logs.String()+pe.Cause.Error(), secret) && tc.kid == "" {
				t.Errorf("the upstream detail is neither logged nor kept as the cause:\n%s", logs.String())
			}
		})
	}
}

func TestMetaIssuerVerifierIsCachedOnlyAfterAVerifiedToken(t *testing.T) {
	clock := &fakeClock{now: testclock.Now()}
	h := startIssuerHost(t, clock, "/exact", "/acme")
	a := h.authenticator(t, nil)
	ctx := context.Background()
	for i, step := range []struct {
		prefix      string
		forged      bool
		discoveries int // after the step
	}{
		{"/acme", true, 1},   // discovered, signature refused: not kept
		{"/acme", true, 2},   // so discovered again
		{"/acme", false, 3},  // discovered, verified: kept
		{"/acme", false, 3},  // from the cache
		{"/acme", true, 3},   // a forged token uses the cached verifier
		{"/exact", true, 1},  // an oidc-issuers entry is kept on discovery
		{"/exact", false, 1}, // from the cache
	} {
		_, err := a.Authenticate(ctx, h.token(t, step.prefix, step.forged))
		if step.forged != (err != nil) {
			t.Fatalf("step %d (%s, forged %v): error %v", i, step.prefix, step.forged, err)
		}
		if got := h.discoveries(step.prefix); got != step.discoveries {
			t.Fatalf("step %d (%s, forged %v): %d discoveries, want %d", i, step.prefix, step.forged, got, step.discoveries)
		}
	}
}

func TestFailedDiscoveryIsRememberedBriefly(t *testing.T) {
	clock := &fakeClock{now: testclock.Now()}
	h := startIssuerHost(t, clock, "/exact", "/acme")
	a := h.authenticator(t, nil)
	ctx := context.Background()
	h.setFault(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	for _, prefix := range []string{"/exact", "/acme"} {
		for i, step := range []struct {
			advance     time.Duration
			up          bool // the issuer is back from this step on
			unavailable bool
			discoveries int
		}{
			{0, false, true, 1},
			{discoveryRetryAfter - time.Second, false, true, 1}, // remembered: no fetch
			{2 * time.Second, false, true, 2},                   // retried once the delay is over
			{0, true, true, 2},                                  // back, but the failure is remembered
			{discoveryRetryAfter, true, false, 3},
		} {
			clock.Advance(step.advance)
			if step.up {
				h.setFault(nil)
			}
			_, err := a.Authenticate(ctx, h.token(t, prefix, false))
			if step.unavailable != (problem.StatusOf(err) == http.StatusServiceUnavailable) || !step.unavailable && err != nil {
				t.Fatalf("%s step %d: error %v", prefix, i, err)
			}
			if got := h.discoveries(prefix); got != step.discoveries {
				t.Fatalf("%s step %d: %d discoveries, want %d", prefix, i, got, step.discoveries)
			}
		}
		h.setFault(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	}
}

func TestConcurrentDiscoveriesAreMerged(t *testing.T) {
	for _, prefix := range []string{"/exact", "/acme"} {
		t.Run(prefix, func(t *testing.T) {
			clock := &fakeClock{now: testclock.Now()}
			h := startIssuerHost(t, clock, prefix)
			h.delay.Store(int64(300 * time.Millisecond))
			a := h.authenticator(t, nil)
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				tok := h.token(t, prefix, false)
				wg.Go(func() {
					_, err := a.Authenticate(context.Background(), tok)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := h.discoveries(prefix); got != 1 {
				t.Errorf("%d concurrent first tokens made %d discoveries, want 1", 10, got)
			}
		})
	}
}

func TestVerifierCacheIsBounded(t *testing.T) {
	clock := &fakeClock{now: testclock.Now()}
	c := newVerifierCache(clock.Now)
	for i := range maxCachedVerifiers + 10 {
		c.confirm(fmt.Sprintf("https://ci.example.com/org/%d", i), nil)
	}
	for i := range maxFailedDiscoveries + 10 {
		c.rememberFailure(fmt.Sprintf("https://ci.example.com/org/%d", i), errors.New("down"))
		if i == maxFailedDiscoveries/2 {
			clock.Advance(time.Second) // the later ones expire last
		}
	}
	if len(c.meta) != maxCachedVerifiers || len(c.failed) != maxFailedDiscoveries {
		t.Errorf("cache holds %d verifiers and %d failures, want %d and %d", len(c.meta), len(c.failed), maxCachedVerifiers, maxFailedDiscoveries)
	}
	if _, ok := c.failed[fmt.Sprintf("https://ci.example.com/org/%d", maxFailedDiscoveries+9)]; !ok {
		t.Error("the newest failure was not remembered")
	}
}
