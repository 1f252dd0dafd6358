package devissuer_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/devissuer"
	"github.com/signet-dev/signet/test/testclock"
)

const (
	requestToken = "test-request-token"
	prefix       = "/dev/oidc"
)

func TestDiscovery(t *testing.T) {
	iss := serve(t, devissuer.Options{})
	resp, body := get(t, http.MethodGet, iss.URL()+"/.well-known/openid-configuration", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Claims  []string `json:"claims_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	if doc.Issuer != iss.URL() {
		t.Errorf("issuer = %q, want %q", doc.Issuer, iss.URL())
	}
	if want := iss.URL() + "/jwks"; doc.JWKSURI != want {
		t.Errorf("jwks_uri = %q, want %q", doc.JWKSURI, want)
	}
	if !slices.Equal(doc.Algs, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want exactly [RS256]", doc.Algs)
	}
	for _, c := range []string{"sub", "aud", "repository", "job_workflow_ref"} {
		if !slices.Contains(doc.Claims, c) {
			t.Errorf("claims_supported lacks %q", c)
		}
	}
}

func TestJWKSPublishesOnlyRS256PublicKeys(t *testing.T) {
	k1, k2 := newKey(t, "a"), newKey(t, "b")
	iss := serve(t, devissuer.Options{Keys: []devissuer.Key{k1, k2}})
	if err := iss.Rotate(newKey(t, "c")); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	resp, body := get(t, http.MethodGet, iss.URL()+"/jwks", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	var kids []string
	for _, k := range raw.Keys {
		if k["alg"] != "RS256" || k["use"] != "sig" || k["kty"] != "RSA" {
			t.Errorf("key %v: want alg RS256, use sig, kty RSA", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes private member %q", k["kid"], private)
			}
		}
		kids = append(kids, k["kid"].(string))
	}
	if !slices.Equal(kids, []string{"a", "b", "c"}) {
		t.Errorf("kids = %v, want [a b c]", kids)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("decode as JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %q: public %v, valid %v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}
}

func TestTokenEndpointTokenVerifies(t *testing.T) {
	clock := testclock.New()
	iss := serve(t, devissuer.Options{Repository: "octo/gadget", Clock: clock.Now})
	tests := []struct {
		name, audience, wantAud string
	}{
		{"sigstore audience", "sigstore", "sigstore"},
		{"custom audience", "https%3A%2F%2Fsignet.example", "https://signet.example"},
		{"no audience defaults to the issuer URL", "", iss.URL()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := runnerToken(t, iss, tt.audience)
			if h := header(t, token); h.Algorithm != "RS256" || h.KeyID != "key-1" {
				t.Errorf("header alg %q kid %q, want RS256, key-1", h.Algorithm, h.KeyID)
			}
			idt, err := verifier(t, iss, tt.wantAud, clock.Now).Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("go-oidc Verify: %v", err)
			}
			if idt.Issuer != iss.URL() {
				t.Errorf("iss = %q, want %q", idt.Issuer, iss.URL())
			}
			if want := "repo:octo/gadget:ref:refs/heads/main"; idt.Subject != want {
				t.Errorf("sub = %q, want %q", idt.Subject, want)
			}
			if !slices.Equal(idt.Audience, []string{tt.wantAud}) {
				t.Errorf("aud = %v, want [%q]", idt.Audience, tt.wantAud)
			}
			if !idt.IssuedAt.Equal(clock.Now().Truncate(time.Second)) {
				t.Errorf("iat = %v, want the issuer's clock %v", idt.IssuedAt, clock.Now())
			}
			var claims struct {
				Repository     string `json:"repository"`
				JobWorkflowRef string `json:"job_workflow_ref"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatalf("Claims: %v", err)
			}
			if claims.Repository != "octo/gadget" || claims.JobWorkflowRef != "octo/gadget/.github/workflows/release.yml@refs/heads/main" {
				t.Errorf("claims = %+v, want those of octo/gadget", claims)
			}
		})
	}

	t.Run("expires on the issuer's clock", func(t *testing.T) {
		token := runnerToken(t, iss, "sigstore")
		v := verifier(t, iss, "sigstore", clock.Now)
		clock.Advance(10 * time.Minute)
		if _, err := v.Verify(t.Context(), token); err == nil {
			t.Error("a token verified 10 minutes after its issue; want it expired after 300s")
		}
	})
}

func TestTokenEndpointRefuses(t *testing.T) {
	iss := serve(t, devissuer.Options{})
	url := iss.URL() + "/token?api-version=2.0&audience=sigstore"
	tests := []struct {
		name       string
		method     string
		auth       string
		wantStatus int
	}{
		{"wrong request token", http.MethodGet, "bearer not-the-token", http.StatusUnauthorized},
		{"no Authorization header", http.MethodGet, "", http.StatusUnauthorized},
		{"empty bearer", http.MethodGet, "bearer ", http.StatusUnauthorized},
		{"wrong scheme", http.MethodGet, "Basic " + requestToken, http.StatusUnauthorized},
		{"bare token", http.MethodGet, requestToken, http.StatusUnauthorized},
		{"request token with a suffix", http.MethodGet, "bearer " + requestToken + "x", http.StatusUnauthorized},
		{"POST", http.MethodPost, "bearer " + requestToken, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "bearer " + requestToken, http.StatusMethodNotAllowed},
		{"DELETE", http.MethodDelete, "bearer " + requestToken, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.method, url, tt.auth)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if strings.Contains(string(body), "eyJ") {
				t.Errorf("refusal carries something like a JWT: %s", body)
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(body, &e); err != nil || e.Code != "invalid_token" {
				t.Errorf("error body %q (%v), want code invalid_token", body, err)
			}
		})
	}
	t.Run("Bearer capitalised is accepted", func(t *testing.T) {
		if resp, body := get(t, http.MethodGet, url, "Bearer "+requestToken); resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("other methods on discovery and JWKS", func(t *testing.T) {
		for _, path := range []string{"/.well-known/openid-configuration", "/jwks"} {
			if resp, _ := get(t, http.MethodPost, iss.URL()+path, ""); resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST %s: status %d, want 405", path, resp.StatusCode)
			}
		}
	})
}

func TestSetRequestToken(t *testing.T) {
	iss := serve(t, devissuer.Options{})
	iss.SetRequestToken("")
	if iss.RequestToken() != requestToken {
		t.Errorf("SetRequestToken(\"\") changed the token to %q", iss.RequestToken())
	}
	iss.SetRequestToken("rotated")
	url := iss.URL() + "/token?audience=sigstore"
	if resp, _ := get(t, http.MethodGet, url, "bearer "+requestToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old token: status %d, want 401", resp.StatusCode)
	}
	if resp, body := get(t, http.MethodGet, url, "bearer rotated"); resp.StatusCode != http.StatusOK {
		t.Errorf("new token: status %d: %s", resp.StatusCode, body)
	}
}

func TestRotate(t *testing.T) {
	clock := testclock.Now
	iss := serve(t, devissuer.Options{})
	v := verifier(t, iss, "sigstore", clock)
	old := runnerToken(t, iss, "sigstore")
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	if err := iss.Rotate(newKey(t, "key-2")); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	fresh := runnerToken(t, iss, "sigstore")
	if kid := header(t, fresh).KeyID; kid != "key-2" {
		t.Errorf("kid after rotation = %q, want key-2", kid)
	}
	for name, token := range map[string]string{"old": old, "fresh": fresh} {
		if _, err := v.Verify(t.Context(), token); err != nil {
			t.Errorf("Verify %s token: %v", name, err)
		}
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]devissuer.Key{
		"duplicate kid": newKey(t, "key-1"),
		"empty kid":     {Private: fresh2048(t)},
		"no key":        {ID: "key-9"},
		"1024 bits":     {ID: "key-9", Private: small},
	} {
		if err := iss.Rotate(k); err == nil {
			t.Errorf("Rotate accepted a key with %s", name)
		}
	}
	if kid := header(t, runnerToken(t, iss, "sigstore")).KeyID; kid != "key-2" {
		t.Errorf("a refused key changed the signing key: kid %q, want key-2", kid)
	}
}

func TestMintAndClaims(t *testing.T) {
	fixed := testclock.Now().Truncate(time.Second)
	iss, err := devissuer.New("https://issuer.example/", devissuer.Options{
		RequestToken: requestToken, Clock: func() time.Time { return fixed },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	at := fixed.Unix()
	in := map[string]any{"sub": "x", "nbf": nil, "exp": at + 60}
	c := iss.Claims(in)
	if len(in) != 3 {
		t.Errorf("Claims modified the caller's map: %v", in)
	}
	want := map[string]any{"iss": "https://issuer.example", "sub": "x", "iat": at, "exp": at + 60}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
	if _, ok := c["nbf"]; ok {
		t.Error("nbf set to nil is present")
	}
	if jti, _ := c["jti"].(string); len(jti) != 36 || jti[14] != '4' {
		t.Errorf("jti = %v, want a version 4 UUID", c["jti"])
	}
	if d := iss.Claims(nil); d["nbf"] != at-5 || d["exp"] != at+300 || d["iat"] != at {
		t.Errorf("defaults = %v, want iat now, nbf now-5, exp now+300", d)
	}

	token, err := iss.Mint(devissuer.GitHubClaims("acme/widgets"))
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if h := header(t, token); h.Algorithm != "RS256" || h.KeyID != "key-1" || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header = %+v, want RS256, kid key-1, typ JWT", h)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts devissuer.Options
	}{
		{"empty URL", "", devissuer.Options{RequestToken: requestToken}},
		{"no scheme", "issuer.example", devissuer.Options{RequestToken: requestToken}},
		{"ftp", "ftp://issuer.example", devissuer.Options{RequestToken: requestToken}},
		{"query", "https://issuer.example?x=1", devissuer.Options{RequestToken: requestToken}},
		{"empty request token", "https://issuer.example", devissuer.Options{}},
		{"duplicate kids", "https://issuer.example", devissuer.Options{RequestToken: requestToken,
			Keys: []devissuer.Key{newKey(t, "k"), newKey(t, "k")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := devissuer.New(tt.url, tt.opts); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestInjectedLogger(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	iss := serve(t, devissuer.Options{Log: log})
	runnerToken(t, iss, "sigstore")
	if err := iss.Rotate(newKey(t, "key-2")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"msg":"minted runner token"`, `"msg":"rotated signing key"`, `"component":"devissuer"`, `"issuer":"` + iss.URL() + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	// A nil logger discards: nothing to observe but that nothing panics.
	quiet := serve(t, devissuer.Options{})
	runnerToken(t, quiet, "sigstore")
}

func TestConcurrentUse(t *testing.T) {
	iss := serve(t, devissuer.Options{})
	keys := []devissuer.Key{newKey(t, "key-2"), newKey(t, "key-3")}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := fetchToken(t.Context(), iss, "sigstore"); err != nil {
					t.Error(err)
				}
				iss.SetRunnerClaims(devissuer.GitHubClaims("octo/gadget"))
			}
		})
	}
	wg.Go(func() {
		for _, k := range keys {
			if err := iss.Rotate(k); err != nil {
				t.Errorf("Rotate: %v", err)
			}
		}
	})
	wg.Wait()
	v := verifier(t, iss, "sigstore", testclock.Now)
	idt, err := v.Verify(t.Context(), runnerToken(t, iss, "sigstore"))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := "repo:octo/gadget:ref:refs/heads/main"; idt.Subject != want {
		t.Errorf("sub = %q, want %q (from SetRunnerClaims)", idt.Subject, want)
	}
}
