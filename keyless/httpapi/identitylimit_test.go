package httpapi_test

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// postAs asks endpoint e for a certificate as a job of repository repo.
func postAs(t *testing.T, env *harness.Env, e int, repo string) harness.Response {
	t.Helper()
	claims := oidcmock.GitHubClaims(repo)
	ep := certEndpoints[e]
	return env.PostJSON(t, ep.path, env.Mint(t, claims), ep.body(t, newKey(t, elliptic.P256()), claims["sub"].(string)))
}

// wantLimited checks a 429 with a Retry-After and a message holding want.
func wantLimited(t *testing.T, resp harness.Response, want string) {
	t.Helper()
	var pb problem.Body
	if resp.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", resp.Status, resp.Body)
	}
	resp.JSON(t, &pb)
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
	}
	if pb.Code != "rate_limited" || !strings.Contains(pb.Message, want) || strings.Contains(string(resp.Body), "BEGIN CERTIFICATE") {
		t.Errorf("body %s, want rate_limited naming %q", resp.Body, want)
	}
}

// onlyIssuer is the one issuer the harness trusts.
func onlyIssuer(t *testing.T, c *config.Config) string {
	t.Helper()
	for u := range c.Identity.OIDCIssuers {
		return u
	}
	t.Fatal("no issuer")
	return ""
}

func TestIdentityRateLimitPerRepository(t *testing.T) {
	widgets, gadgets := oidcmock.GitHubClaims("acme/widgets"), oidcmock.GitHubClaims("acme/gadgets")
	for e, ep := range certEndpoints {
		t.Run(ep.path, func(t *testing.T) {
			env := harness.Start(t, harness.Options{Configure: func(c *config.Config) {
				c.RateLimit.PerIdentity = config.IdentityRateLimit{PerSecond: 0.001, Burst: 2}
			}})
			for i := range 2 {
				if r := postAs(t, env, e, "acme/widgets"); r.Status != ep.ok {
					t.Fatalf("request %d within the burst: %d %s", i, r.Status, r.Body)
				}
			}
			before := issuedCount(t, env)
			want := fmt.Sprintf("rate limit of 0.001 requests/s (burst 2) per repository reached for repository_id %s of %s: retry in ",
				widgets["repository_id"], env.GitHub.URL())
			wantLimited(t, postAs(t, env, e, "acme/widgets"), want)
			for other := range certEndpoints { // one bucket for every endpoint
				wantLimited(t, postAs(t, env, other, "acme/widgets"), want)
			}
			if after := issuedCount(t, env); after != before {
				t.Errorf("a rate-limited request was issued a certificate: %s -> %s", before, after)
			}
			if widgets["repository_id"] == gadgets["repository_id"] {
				t.Fatal("test repositories share a repository_id")
			}
			for i := range 2 {
				if r := postAs(t, env, e, "acme/gadgets"); r.Status != ep.ok {
					t.Errorf("another repository is slowed by acme/widgets' limit (request %d): %d %s", i, r.Status, r.Body)
				}
			}
		})
	}
}

func TestIdentityRateLimitPerRepositoryOwner(t *testing.T) {
	env := harness.Start(t, harness.Options{Configure: func(c *config.Config) {
		c.RateLimit.PerIdentity = config.IdentityRateLimit{PerSecond: 0.001, Burst: 1,
			Keys: map[string]string{onlyIssuer(t, c): config.IdentityKeyRepositoryOwner}}
	}})
	acme, other := oidcmock.GitHubClaims("acme/widgets"), oidcmock.GitHubClaims("octo/tool")
	for _, tc := range []struct {
		repo string
		want string // "" for success, else in the 429's message
	}{
		{"acme/widgets", ""},
		{"acme/gadgets", fmt.Sprintf("rate limit of 0.001 requests/s (burst 1) per repository owner reached for repository_owner_id %s of %s",
			acme["repository_owner_id"], env.GitHub.URL())},
		{"octo/tool", ""},
		{"acme/widgets", "per repository owner"},
	} {
		r := postAs(t, env, 0, tc.repo)
		if tc.want == "" {
			if r.Status != http.StatusOK {
				t.Errorf("%s: status %d: %s", tc.repo, r.Status, r.Body)
			}
			continue
		}
		wantLimited(t, r, tc.want)
	}
	if acme["repository_owner_id"] == other["repository_owner_id"] {
		t.Fatal("test owners share a repository_owner_id")
	}
}

// principal is a verified GitHub identity of repo, as Authenticate makes it.
func principal(iss, repo string, drop ...string) *identity.Principal {
	claims := map[string]string{"iss": iss}
	for k, v := range oidcmock.GitHubClaims(repo) {
		if s, ok := v.(string); ok {
			claims[k] = s
		}
	}
	for _, k := range drop {
		delete(claims, k)
	}
	return &identity.Principal{Issuer: iss, Subject: claims["sub"], Claims: claims,
		URI: &url.URL{Scheme: "https", Host: "github.com", Path: "/" + repo + "/.github/workflows/release.yml@refs/heads/main"}}
}

func TestIdentityBucketsKeys(t *testing.T) {
	const gh, farm = "https://token.actions.githubusercontent.com", "https://ci.example.com/tenant-a"
	cfg := keyless.IdentityRateLimit{PerSecond: 0.5, Burst: 1, MaxIdentities: 2,
		Issuers:     map[string]keyless.IdentityKey{gh: keyless.KeyRepository},
		MetaIssuers: map[string]keyless.IdentityKey{"https://ci.example.com/*": keyless.KeySubject}}
	for _, tc := range []struct {
		name string
		p    *identity.Principal
		want string
	}{
		{"repository", principal(gh, "acme/widgets"), "per repository reached for repository_id "},
		{"no repository_id: issuer and SAN, said so", principal(gh, "acme/widgets", "repository_id"),
			`per repository reached for identity "https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main" of ` + gh + " (the token has no repository_id claim)"},
		{"meta-issuer pattern", principal(farm, "acme/widgets"), `per subject reached for sub "repo:acme/widgets:ref:refs/heads/main" of ` + farm},
		{"issuer in no entry: SAN", principal("https://elsewhere.example", "acme/widgets"), `per identity reached for identity "https://github.com/acme/widgets`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testclock.New()
			b, err := keyless.NewIdentityBuckets(cfg, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Allow(tc.p); err != nil {
				t.Fatalf("first request: %v", err)
			}
			err = b.Allow(tc.p)
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("over the burst: %v, want a problem.Error", err)
			}
			if pe.Status != http.StatusTooManyRequests || pe.RetryAfter != 2*time.Second ||
				!strings.Contains(err.Error(), "rate limit of 0.5 requests/s (burst 1) "+tc.want) || !strings.HasSuffix(err.Error(), ": retry in 2s") {
				t.Fatalf("over the burst: %v (RetryAfter %v), want 429 naming %q", err, pe.RetryAfter, tc.want)
			}
			clock.Advance(2 * time.Second)
			if err := b.Allow(tc.p); err != nil {
				t.Errorf("after the refill: %v", err)
			}
		})
	}
}

func TestIdentityBucketsEvictOldest(t *testing.T) {
	const gh = "https://token.actions.githubusercontent.com"
	clock := testclock.New()
	b, err := keyless.NewIdentityBuckets(keyless.IdentityRateLimit{PerSecond: 0.001, Burst: 1, MaxIdentities: 2,
		Issuers: map[string]keyless.IdentityKey{gh: keyless.KeyRepository}}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	a, c, d := principal(gh, "acme/a"), principal(gh, "acme/c"), principal(gh, "acme/d")
	for _, step := range []struct {
		p       *identity.Principal
		limited bool
	}{
		{a, false}, {c, false}, {a, true}, {c, true}, // both full, both limited
		{d, false}, // a third identity evicts the one seen longest ago (a)
		{c, true},  // c keeps its bucket
		{a, false}, // a starts over, evicting d (seen before c)
		{c, true},
	} {
		clock.Advance(time.Second)
		if err := b.Allow(step.p); (err != nil) != step.limited {
			t.Fatalf("%s: error %v, want limited %v", step.p.Claims["repository"], err, step.limited)
		}
	}
}

func TestNewIdentityBucketsRefusesBadConfig(t *testing.T) {
	for _, cfg := range []keyless.IdentityRateLimit{
		{PerSecond: 0},
		{PerSecond: -1},
		{PerSecond: 1, Issuers: map[string]keyless.IdentityKey{"https://x": "workflow"}},
		{PerSecond: 1, MetaIssuers: map[string]keyless.IdentityKey{"https://*.x": "workflow"}},
	} {
		if _, err := keyless.NewIdentityBuckets(cfg, testclock.Now); err == nil {
			t.Errorf("%+v: accepted", cfg)
		}
	}
}
