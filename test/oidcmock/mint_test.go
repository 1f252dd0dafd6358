package oidcmock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

func TestMintDefaults(t *testing.T) {
	iss, err := oidcmock.New("https://issuer.example/")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	fixed := testclock.Now().UTC().Truncate(time.Second)
	iss.SetClock(func() time.Time { return fixed })
	if !iss.Now().Equal(fixed) {
		t.Fatalf("Now() = %v, want %v", iss.Now(), fixed)
	}
	at := fixed.Unix()

	tests := []struct {
		name    string
		claims  map[string]any
		wantNum map[string]int64  // numeric claims
		wantStr map[string]string // string claims
		absent  []string
	}{
		{
			name:    "all defaults",
			claims:  map[string]any{"sub": "x"},
			wantNum: map[string]int64{"iat": at, "nbf": at - 5, "exp": at + 300},
			wantStr: map[string]string{"iss": "https://issuer.example", "sub": "x"},
		},
		{
			name:    "explicit claims win",
			claims:  map[string]any{"iss": "https://other.example", "exp": at - 10, "iat": at - 400, "nbf": at - 400, "jti": "fixed"},
			wantNum: map[string]int64{"iat": at - 400, "nbf": at - 400, "exp": at - 10},
			wantStr: map[string]string{"iss": "https://other.example", "jti": "fixed"},
		},
		{
			name:    "nil removes a claim",
			claims:  map[string]any{"exp": nil, "nbf": nil, "jti": nil},
			wantNum: map[string]int64{"iat": at},
			absent:  []string{"exp", "nbf", "jti"},
		},
		{
			name:   "nil claims",
			claims: nil,
			wantNum: map[string]int64{
				"iat": at, "nbf": at - 5, "exp": at + 300,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := iss.Mint(tt.claims)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			header, payload := segment(t, token, 0), segment(t, token, 1)
			if header["alg"] != "RS256" || header["kid"] != "key-1" {
				t.Errorf("header = %v, want alg RS256, kid key-1", header)
			}
			for name, want := range tt.wantNum {
				if got := unixClaim(t, payload, name); got != want {
					t.Errorf("%s = %d, want %d", name, got, want)
				}
			}
			for name, want := range tt.wantStr {
				if got := payload[name]; got != want {
					t.Errorf("%s = %v, want %q", name, got, want)
				}
			}
			for _, name := range tt.absent {
				if v, ok := payload[name]; ok {
					t.Errorf("%s = %v, want absent", name, v)
				}
			}
			if _, ok := tt.claims["jti"]; !ok {
				uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
				if jti, _ := payload["jti"].(string); !uuid.MatchString(jti) {
					t.Errorf("jti = %v, want a v4 UUID", payload["jti"])
				}
			}
		})
	}
}

func TestMintDoesNotModifyClaims(t *testing.T) {
	iss, err := oidcmock.New("https://issuer.example")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	iss.SetClock(testclock.Now)
	claims := map[string]any{"sub": "x", "exp": nil}
	if _, err := iss.Mint(claims); err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if len(claims) != 2 {
		t.Errorf("Mint modified the caller's map: %v", claims)
	}
}

func TestMintWithShapes(t *testing.T) {
	iss, err := oidcmock.New("https://issuer.example")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	iss.SetClock(testclock.Now)
	tests := []struct {
		name    string
		opts    oidcmock.MintOptions
		wantAlg string
		wantKID any // nil: no kid header
		wantSig bool
		wantErr bool
	}{
		{"default", oidcmock.MintOptions{}, "RS256", "key-1", true, false},
		{"unknown kid", oidcmock.MintOptions{KID: "nope"}, "RS256", "nope", true, false},
		{"unpublished key keeps kid", oidcmock.MintOptions{UnpublishedKey: true}, "RS256", "key-1", true, false},
		{"HS256", oidcmock.MintOptions{Algorithm: "HS256"}, "HS256", "key-1", true, false},
		{"none", oidcmock.MintOptions{Algorithm: "none"}, "none", nil, false, false},
		{"none with kid", oidcmock.MintOptions{Algorithm: "none", KID: "key-2"}, "none", "key-2", false, false},
		{"unsupported algorithm", oidcmock.MintOptions{Algorithm: "ES256"}, "", nil, false, true},
		{"unpublished key with HS256", oidcmock.MintOptions{Algorithm: "HS256", UnpublishedKey: true}, "", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := iss.MintWith(map[string]any{"sub": "x"}, tt.opts)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("MintWith succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("MintWith: %v", err)
			}
			header := segment(t, token, 0)
			if header["alg"] != tt.wantAlg {
				t.Errorf("alg = %v, want %q", header["alg"], tt.wantAlg)
			}
			if header["kid"] != tt.wantKID {
				t.Errorf("kid = %v, want %v", header["kid"], tt.wantKID)
			}
			if hasSig := !strings.HasSuffix(token, "."); hasSig != tt.wantSig {
				t.Errorf("has signature = %v, want %v", hasSig, tt.wantSig)
			}
		})
	}
}

func TestGitHubClaims(t *testing.T) {
	c := oidcmock.GitHubClaims("acme/widgets")
	wantExact := map[string]string{
		"sub":                   "repo:acme/widgets:ref:refs/heads/main",
		"aud":                   "sigstore",
		"actor":                 "acme",
		"event_name":            "push",
		"ref":                   "refs/heads/main",
		"ref_type":              "branch",
		"repository":            "acme/widgets",
		"repository_owner":      "acme",
		"repository_visibility": "public",
		"runner_environment":    "github-hosted",
		"workflow":              "Release",
		"workflow_ref":          "acme/widgets/.github/workflows/release.yml@refs/heads/main",
		"job_workflow_ref":      "acme/widgets/.github/workflows/release.yml@refs/heads/main",
		"head_ref":              "",
		"base_ref":              "",
	}
	sha := regexp.MustCompile(`^[0-9a-f]{40}$`)
	number := regexp.MustCompile(`^[1-9][0-9]*$`)
	wantPattern := map[string]*regexp.Regexp{
		"sha": sha, "workflow_sha": sha, "job_workflow_sha": sha,
		"actor_id": number, "repository_id": number, "repository_owner_id": number,
		"run_id": number, "run_number": number, "run_attempt": number,
	}
	for name, want := range wantExact {
		if got, ok := c[name].(string); !ok || got != want {
			t.Errorf("%s = %#v, want %q", name, c[name], want)
		}
	}
	for name, re := range wantPattern {
		if got, ok := c[name].(string); !ok || !re.MatchString(got) {
			t.Errorf("%s = %#v, want a string matching %s", name, c[name], re)
		}
	}
	if n := len(wantExact) + len(wantPattern); len(c) != n {
		t.Errorf("%d claims, want %d: %v", len(c), n, c)
	}
	for _, name := range []string{"iss", "iat", "exp", "nbf", "jti"} {
		if _, ok := c[name]; ok {
			t.Errorf("%s is set; Mint fills it", name)
		}
	}
	if other := oidcmock.GitHubClaims("octo/gadget"); other["repository_id"] == c["repository_id"] || other["sha"] == c["sha"] {
		t.Error("different repositories share repository_id or sha")
	}
	again := oidcmock.GitHubClaims("acme/widgets")
	if again["sha"] != c["sha"] || again["run_id"] != c["run_id"] {
		t.Error("GitHubClaims is not deterministic")
	}
}

// TestConcurrentUse mints, rotates, changes runner claims and serves the
// JWKS at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	iss := start(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := iss.Mint(oidcmock.GitHubClaims("acme/widgets")); err != nil {
					t.Errorf("Mint: %v", err)
				}
				resp, err := http.Get(iss.URL() + "/jwks")
				if err != nil {
					t.Errorf("GET jwks: %v", err)
					continue
				}
				var set struct{ Keys []json.RawMessage }
				if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
					t.Errorf("decode jwks: %v", err)
				}
				resp.Body.Close()
			}
		})
	}
	wg.Go(func() {
		for range 2 {
			if err := iss.RotateKey(); err != nil {
				t.Errorf("RotateKey: %v", err)
			}
			iss.SetRunnerClaims(oidcmock.GitHubClaims("octo/gadget"))
			iss.SetClock(testclock.Now)
		}
	})
	wg.Wait()

	resp, err := http.Get(iss.URL() + "/jwks")
	if err != nil {
		t.Fatalf("GET jwks: %v", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	if len(set.Keys) != 4 {
		t.Fatalf("%d keys published, want 4", len(set.Keys))
	}
	for n, k := range set.Keys {
		if want := fmt.Sprintf("key-%d", n+1); k.KID != want || k.Alg != "RS256" || k.Use != "sig" || k.Kty != "RSA" {
			t.Errorf("key %d = %+v, want kid %s, RS256, sig, RSA", n, k, want)
		}
	}
}
