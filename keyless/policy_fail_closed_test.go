package keyless_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/keyless/problem"
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
			token, err := tc.issuer.Mint(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			challenge := tc.claims["sub"].(string)
			if e, ok := tc.claims["email"].(string); ok {
				challenge = e
			}
			before := issuedCount(t, env)
			for _, resp := range policyRequests(t, env, token, challenge) {
				if tc.deniedBy == "" {
					if resp.Status != http.StatusOK && resp.Status != http.StatusCreated {
						t.Errorf("status %d: %s", resp.Status, resp.Body)
					}
					continue
				}
				var pb problem.Body
				resp.JSON(t, &pb)
				if resp.Status != http.StatusForbidden || pb.Code != "denied" || !strings.Contains(pb.Message, `policy rule "`+tc.deniedBy+`"`) {
					t.Errorf("status %d %s, want 403 naming rule %q", resp.Status, resp.Body, tc.deniedBy)
				}
			}
			if after := issuedCount(t, env); tc.deniedBy != "" && after != before {
				t.Errorf("certificates issued for a denied identity: before %q, after %q", before, after)
			}
		})
	}
}
