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

	"github.com/signet-dev/signet/keyless/problem"
	"github.com/signet-dev/signet/test/oidcmock"
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
			clock := &fakeClock{now: time.Now()}
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
