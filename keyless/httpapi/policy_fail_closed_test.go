package httpapi_test

import (
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// TestPolicyFailsClosedThroughTheAPI: with rules for the GitHub issuer only,
// a token of another trusted issuer is denied in every flow by the
// synthetic rule, and nothing is issued.
func TestPolicyFailsClosedThroughTheAPI(t *testing.T) {
	email := harness.StartIssuer(t)
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		var gh string
		for u := range cfg.Identity.OIDCIssuers {
			gh = u
		}
		cfg.Identity.OIDCIssuers[email.URL()] = identity.Issuer{ClientID: "sigstore", Type: identity.TypeEmail}
		cfg.Policy = identity.PolicyConfig{Rules: []identity.Rule{
			{Name: "acme-org", Issuer: gh, Require: `claims.repository_owner == "acme"`},
		}}
	}})
	for _, tc := range []struct {
		name     string
		issuer   *oidcmock.Issuer
		claims   map[string]any
		deniedBy string
	}{
		{"issuer with a rule, allowed", env.GitHub, oidcmock.GitHubClaims("acme/widgets"), ""},
		{"issuer with a rule, denied", env.GitHub, oidcmock.GitHubClaims("evil/widgets"), "acme-org"},
		{"issuer no rule covers", email, claims("1", "email", "dev@acme.example", "email_verified", true), identity.NoRuleForIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectPolicy(t, env, tc.issuer, tc.claims, tc.deniedBy)
		})
	}
}
