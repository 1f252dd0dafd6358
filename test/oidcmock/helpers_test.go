package oidcmock_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// start starts a mock issuer server that the test closes when it ends.
func start(t *testing.T) *oidcmock.Issuer {
	t.Helper()
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(iss.Close)
	iss.SetClock(testclock.Now)
	return iss
}

// verifier discovers issuerURL with go-oidc and returns a verifier for
// tokens with audience clientID.
func verifier(t *testing.T, issuerURL, clientID string) *oidc.IDTokenVerifier {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), issuerURL)
	if err != nil {
		t.Fatalf("oidc.NewProvider(%q): %v", issuerURL, err)
	}
	return provider.Verifier(&oidc.Config{ClientID: clientID, Now: testclock.Now})
}

// segment decodes the JSON of the n-th dot-separated part of a compact JWT
// (0 header, 1 payload), without verifying anything.
func segment(t *testing.T, token string, n int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3: %q", len(parts), token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[n])
	if err != nil {
		t.Fatalf("decode part %d: %v", n, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("unmarshal part %d: %v", n, err)
	}
	return m
}

// unixClaim returns the integer value of a numeric claim.
func unixClaim(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()
	n, ok := claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s = %#v, want a number", name, claims[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s = %v: %v", name, n, err)
	}
	return v
}
