package oidcmock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

func TestMintedTokenVerifies(t *testing.T) {
	iss := start(t)
	v := verifier(t, iss.URL(), "sigstore")

	token, err := iss.Mint(oidcmock.GitHubClaims("acme/widgets"))
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	idt, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Issuer != iss.URL() {
		t.Errorf("iss = %q, want %q", idt.Issuer, iss.URL())
	}
	if want := "repo:acme/widgets:ref:refs/heads/main"; idt.Subject != want {
		t.Errorf("sub = %q, want %q", idt.Subject, want)
	}
	var claims struct {
		JobWorkflowRef string `json:"job_workflow_ref"`
		RunID          string `json:"run_id"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatalf("Claims: %v", err)
	}
	if want := "acme/widgets/.github/workflows/release.yml@refs/heads/main"; claims.JobWorkflowRef != want {
		t.Errorf("job_workflow_ref = %q, want %q", claims.JobWorkflowRef, want)
	}
	if claims.RunID == "" {
		t.Error("run_id is empty")
	}
}

func TestRotateKey(t *testing.T) {
	iss := start(t)
	v := verifier(t, iss.URL(), "sigstore")
	claims := oidcmock.GitHubClaims("acme/widgets")

	old, err := iss.Mint(claims)
	if err != nil {
		t.Fatalf("Mint before rotation: %v", err)
	}
	// Let the verifier cache the original key set before rotating.
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	if err := iss.RotateKey(); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	fresh, err := iss.Mint(claims)
	if err != nil {
		t.Fatalf("Mint after rotation: %v", err)
	}
	if kid := segment(t, fresh, 0)["kid"]; kid != "key-3" {
		t.Errorf("kid after rotation = %v, want key-3", kid)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"new token, new key", fresh},
		{"old token, old key", old},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(t.Context(), tt.token); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestHostileTokensFail(t *testing.T) {
	iss := start(t)
	v := verifier(t, iss.URL(), "sigstore")
	now := testclock.Now()

	with := func(extra map[string]any) map[string]any {
		c := oidcmock.GitHubClaims("acme/widgets")
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	tests := []struct {
		name   string
		claims map[string]any
		opts   oidcmock.MintOptions
	}{
		{"unpublished key", with(nil), oidcmock.MintOptions{UnpublishedKey: true}},
		{"unpublished key, unknown kid", with(nil), oidcmock.MintOptions{UnpublishedKey: true, KID: "key-99"}},
		{"unknown kid", with(nil), oidcmock.MintOptions{KID: "key-99"}},
		{"HS256 keyed with the public key", with(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgHS256}},
		{"alg none", with(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgNone}},
		{"alg none with kid", with(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgNone, KID: "key-1"}},
		{"expired", with(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-55 * time.Minute).Unix()}), oidcmock.MintOptions{}},
		{"wrong audience", with(map[string]any{"aud": "someone-else"}), oidcmock.MintOptions{}},
		{"wrong issuer", with(map[string]any{"iss": "https://token.actions.githubusercontent.com"}), oidcmock.MintOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := iss.MintWith(tt.claims, tt.opts)
			if err != nil {
				t.Fatalf("MintWith: %v", err)
			}
			if _, err := v.Verify(t.Context(), token); err == nil {
				t.Fatal("Verify accepted a hostile token")
			} else {
				t.Logf("rejected as expected: %v", err)
			}
		})
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	iss, err := oidcmock.New(srv.URL + "/dev/oidc/")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	iss.SetClock(testclock.Now)
	mux.Handle("/dev/oidc/", http.StripPrefix("/dev/oidc", iss.Handler()))
	if want := srv.URL + "/dev/oidc"; iss.URL() != want {
		t.Fatalf("URL() = %q, want %q (trailing slash trimmed)", iss.URL(), want)
	}

	t.Run("discovery", func(t *testing.T) {
		resp, err := http.Get(iss.URL() + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("GET discovery: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatalf("decode discovery: %v", err)
		}
		if doc["issuer"] != iss.URL() {
			t.Errorf("issuer = %v, want %q", doc["issuer"], iss.URL())
		}
		if want := iss.URL() + "/jwks"; doc["jwks_uri"] != want {
			t.Errorf("jwks_uri = %v, want %q", doc["jwks_uri"], want)
		}
	})

	t.Run("token verifies through the mount", func(t *testing.T) {
		v := verifier(t, iss.URL(), "sigstore")
		token, err := iss.Mint(oidcmock.GitHubClaims("acme/widgets"))
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		if _, err := v.Verify(t.Context(), token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})

	t.Run("outside the mount", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}
