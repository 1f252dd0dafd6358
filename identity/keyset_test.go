package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// flakyIssuer is a mock issuer over HTTP that counts its JWKS fetches and
// can be made unreachable.
type flakyIssuer struct {
	*oidcmock.Issuer
	jwksFetches atomic.Int32
	down        atomic.Bool
	slow        atomic.Bool // answer after 3 s
}

func startFlakyIssuer(t *testing.T) *flakyIssuer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	iss, err := oidcmock.New("http://" + srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyIssuer{Issuer: iss}
	h := iss.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.slow.Load() {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(3 * time.Second):
			}
		}
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/jwks" {
			f.jwksFetches.Add(1)
		}
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// fakeClock is a settable clock shared by the issuer and the authenticator.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestAuthenticator(t *testing.T, iss *flakyIssuer, clock *fakeClock, interval time.Duration) *Authenticator {
	t.Helper()
	return newTestAuthenticatorWith(t, iss, clock, Options{JWKSRefetchInterval: interval})
}

func newTestAuthenticatorWith(t *testing.T, iss *flakyIssuer, clock *fakeClock, opts Options) *Authenticator {
	t.Helper()
	iss.SetClock(clock.Now)
	opts.Clock = clock.Now
	a, err := NewAuthenticator(Config{OIDCIssuers: map[string]Issuer{
		iss.URL(): {ClientID: "sigstore", Type: TypeGitHubWorkflow},
	}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mint(t *testing.T, iss *flakyIssuer, opts oidcmock.MintOptions) string {
	t.Helper()
	tok, err := iss.MintWith(oidcmock.GitHubClaims("acme/widgets"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJWKSRefetchIsBounded(t *testing.T) {
	iss := startFlakyIssuer(t)
	clock := &fakeClock{now: testclock.Now()}
	a := newTestAuthenticator(t, iss, clock, time.Minute)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{KID: "random-" + string(rune('a'+i))}))
		if problem.StatusOf(err) != http.StatusUnauthorized {
			t.Fatalf("unknown kid: %v (status %d), want 401", err, problem.StatusOf(err))
		}
	}
	if n := iss.jwksFetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for one valid and 20 unknown-kid tokens within the interval, want 1", n)
	}

	// A rotated key is picked up once the interval has passed.
	if err := iss.RotateKey(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(61 * time.Second)
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if n := iss.jwksFetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times after rotation, want 2", n)
	}
}

func TestCachedKeysOutliveAnUnreachableIssuer(t *testing.T) {
	iss := startFlakyIssuer(t)
	clock := &fakeClock{now: testclock.Now()}
	a := newTestAuthenticator(t, iss, clock, time.Second)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Fatal(err)
	}
	iss.down.Store(true)
	clock.Advance(2 * time.Second)
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Errorf("cached key refused while the issuer is down: %v", err)
	}
	_, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{KID: "new-key"}))
	if problem.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("unknown kid while the issuer is down: %v (status %d), want 503", err, problem.StatusOf(err))
	}
	clock.Advance(2 * time.Second)
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Errorf("a failed fetch dropped the cached keys: %v", err)
	}
	iss.down.Store(false)
	if _, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{})); err != nil {
		t.Errorf("issuer back: %v", err)
	}
}

func TestIssuerTimeouts(t *testing.T) {
	iss := startFlakyIssuer(t)
	clock := &fakeClock{now: testclock.Now()}
	a := newTestAuthenticatorWith(t, iss, clock, Options{
		DiscoveryTimeout: 200 * time.Millisecond, JWKSTimeout: 200 * time.Millisecond, JWKSRefetchInterval: time.Second,
	})
	ctx := context.Background()
	for _, step := range []struct {
		name, kid, want string
		prepare         func()
	}{
		{"slow discovery", "", "is unavailable; try again later", func() { iss.slow.Store(true) }},
		{"discovery back", "", "", func() { iss.slow.Store(false); clock.Advance(discoveryRetryAfter) }},
		{"slow JWKS", "new-key", "cannot fetch the keys", func() { iss.slow.Store(true); clock.Advance(2 * time.Second) }},
	} {
		step.prepare()
		start := time.Now()
		_, err := a.Authenticate(ctx, mint(t, iss, oidcmock.MintOptions{KID: step.kid}))
		took := time.Since(start)
		switch {
		case step.want == "" && err != nil:
			t.Errorf("%s: %v", step.name, err)
		case step.want != "" && (problem.StatusOf(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), step.want)):
			t.Errorf("%s: %v (status %d), want 503 saying %q", step.name, err, problem.StatusOf(err), step.want)
		case took > 2*time.Second:
			t.Errorf("%s took %s, past its 200ms timeout", step.name, took)
		}
	}
}

// TestFirstRequestsRaceTheFetch: two requests reach a new issuer at once.
// The second looks at the empty cache, then the first fetches the keys,
// then the second asks for a fetch: it is too soon for another, and the
// second must use the keys now cached rather than be refused.
func TestFirstRequestsRaceTheFetch(t *testing.T) {
	iss := startFlakyIssuer(t)
	clock := &fakeClock{now: testclock.Now()}
	ks := &keySet{issuer: iss.URL(), url: iss.URL() + "/jwks", client: http.DefaultClient, timeout: 5 * time.Second,
		minInterval: time.Minute, clock: clock.Now, log: slog.New(slog.DiscardHandler)}
	token := mint(t, iss, oidcmock.MintOptions{})
	ks.afterMiss = func() {
		ks.afterMiss = nil // the first request, arriving now, fetches
		if _, err := ks.VerifySignature(context.Background(), token); err != nil {
			t.Errorf("the first request: %v", err)
		}
	}
	if _, err := ks.VerifySignature(context.Background(), token); err != nil {
		t.Fatalf("the request that raced the fetch was refused: %v", err)
	}
	if n := iss.jwksFetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}

// TestParsedTokenIsReusedOnlyForTheSameToken: the key set takes the JWS
// Authenticate parsed from the context only when it was parsed from the
// very token go-oidc hands it, and parses anything else itself.
func TestParsedTokenIsReusedOnlyForTheSameToken(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := fuzzJWT(t, key, map[string]any{"iss": "https://a.example"})
	b := fuzzJWT(t, key, map[string]any{"iss": "https://b.example"})
	parsedA, err := jose.ParseSigned(a, TokenAlgorithms())
	if err != nil {
		t.Fatal(err)
	}
	noted, _ := withFaultNote(t.Context(), a, parsedA)
	for _, tt := range []struct {
		name     string
		ctx      context.Context
		raw      string
		wantSame bool
	}{
		{"same token", noted, a, true},
		{"another token", noted, b, false},
		{"no note", t.Context(), a, false},
	} {
		got, err := parsedToken(tt.ctx, tt.raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (got == parsedA) != tt.wantSame {
			t.Errorf("%s: reused Authenticate's parse = %v, want %v", tt.name, got == parsedA, tt.wantSame)
		}
		if p := string(got.UnsafePayloadWithoutVerification()); !strings.Contains(p, map[string]string{a: "a.example", b: "b.example"}[tt.raw]) {
			t.Errorf("%s: parsed payload %s is not the token's", tt.name, p)
		}
	}
}
