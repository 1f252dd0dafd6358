package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// TestUnencodableIdentitiesAreTokenFaults: a claim that maps to a SAN a
// certificate cannot hold is refused as a token fault (401 with the
// reason), not as a CA outage (503).
func TestUnencodableIdentitiesAreTokenFaults(t *testing.T) {
	email := harness.StartIssuer(t)
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		cfg.Identity.OIDCIssuers[email.URL()] = identity.Issuer{ClientID: "sigstore", Type: identity.TypeEmail}
	}})
	gitHub := func(workflowRef string) map[string]any {
		c := oidcmock.GitHubClaims("acme/widgets")
		c["job_workflow_ref"] = workflowRef
		return c
	}
	for _, tc := range []struct {
		name   string
		issuer *oidcmock.Issuer
		claims map[string]any
		reason string // "" when a certificate is issued
	}{
		{"non-ASCII email", email, claims("1", "email", "jösé@example.com", "email_verified", true), "an email SAN must be ASCII"},
		{"ASCII email", email, claims("2", "email", "jose@example.com", "email_verified", true), ""},
		{"non-ASCII query in the SAN", env.GitHub, gitHub("acme/widgets/.github/workflows/release.yml@refs/heads/x?ü"), "a URI SAN must be ASCII"},
		{"non-ASCII path in the SAN, escaped", env.GitHub, gitHub("acme/widgets/.github/workflows/rélease.yml@refs/heads/main"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := tc.issuer.Mint(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			challenge := tc.claims["sub"].(string)
			if e, ok := tc.claims["email"].(string); ok {
				challenge = e
			}
			status, msg := certStatus(t, env, token, challenge)
			switch {
			case tc.reason == "" && status != http.StatusOK:
				t.Errorf("status %d %q, want 200", status, msg)
			case tc.reason != "" && (status != http.StatusUnauthorized || !strings.Contains(msg, tc.reason)):
				t.Errorf("status %d %q, want 401 saying %q", status, msg, tc.reason)
			}
		})
	}
}
