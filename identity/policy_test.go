package identity

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/problem"
)

const (
	ghIssuer = "https://token.actions.githubusercontent.com"
	glIssuer = "https://gitlab.com"
)

var policyTrust = Config{
	OIDCIssuers: map[string]Issuer{
		ghIssuer: {ClientID: "sigstore", Type: TypeGitHubWorkflow},
		glIssuer: {ClientID: "sigstore", Type: TypeGitLabPipeline},
	},
	MetaIssuers: map[string]Issuer{
		ghIssuer + "/*": {ClientID: "sigstore", Type: TypeGitHubWorkflow},
	},
}

func TestPolicyRefusesBrokenRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"no name", Rule{Require: "true"}, "policy.rules[0].name is missing"},
		{"no expression", Rule{Name: "r"}, `policy.rules[0] ("r").require is missing`},
		{"syntax error", Rule{Name: "r", Require: `claims.repository_owner in ["acme"`}, `policy.rules[0] ("r").require: ERROR`},
		{"unknown variable", Rule{Name: "r", Require: `repository_owner == "acme"`}, "undeclared reference to 'repository_owner'"},
		{"not boolean", Rule{Name: "r", Require: `claims.repository`}, "yields dyn, not bool"},
		{"string not boolean", Rule{Name: "r", Require: `issuer + "x"`}, "yields string, not bool"},
		{"bad glob", Rule{Name: "r", Require: `claims.ref.glob("refs/tags/[v")`}, `glob pattern "refs/tags/[v"`},
		{"untrusted issuer", Rule{Name: "r", Issuer: "https://evil.example.com", Require: "true"}, `.issuer: "https://evil.example.com" is not a trusted issuer`},
		{"pattern matching nothing", Rule{Name: "r", Issuer: "https://*.example.com", Require: "true"}, "is not a trusted issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPolicy(PolicyConfig{Rules: []Rule{tc.rule}}, policyTrust, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	_, err := NewPolicy(PolicyConfig{Rules: []Rule{{Name: "a", Require: "true"}, {Name: "a", Require: "true"}}}, policyTrust, nil)
	if err == nil || !strings.Contains(err.Error(), "used by an earlier rule") {
		t.Errorf("duplicate names: %v", err)
	}
}

func TestPolicyAcceptsTrustedIssuerForms(t *testing.T) {
	for _, iss := range []string{ghIssuer, ghIssuer + "/*", ghIssuer + "/acme-corp", "https://*.com"} {
		if _, err := NewPolicy(PolicyConfig{Rules: []Rule{{Name: "r", Issuer: iss, Require: "true"}}}, policyTrust, nil); err != nil {
			t.Errorf("issuer %q: %v", iss, err)
		}
	}
}

func principal(iss string, claims map[string]any) *Principal {
	raw := map[string]any{"iss": iss, "sub": "repo:acme/widgets:ref:refs/tags/v1"}
	for k, v := range claims {
		raw[k] = v
	}
	u, _ := url.Parse("https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1")
	return &Principal{Issuer: iss, Subject: raw["sub"].(string), URI: u, RawClaims: raw}
}

func TestPolicyDecisions(t *testing.T) {
	pol, err := NewPolicy(PolicyConfig{Rules: []Rule{
		{Name: "default-has-sub", Require: `has(claims.sub) && subject != ""`},
		{Name: "enterprise-acme", Issuer: ghIssuer + "/*", Require: `claims.repository_owner in ["acme", "acme-labs"]`, Description: "only acme signs"},
		{Name: "acme-only", Issuer: ghIssuer, Require: `claims.repository_owner in ["acme", "acme-labs"]`},
		{Name: "tags", Issuer: ghIssuer, Require: `claims.ref.glob("refs/tags/v*")`},
		{Name: "hosted", Issuer: ghIssuer, Require: `claims.runner_environment == "github-hosted"`},
		{Name: "production", Issuer: ghIssuer, Require: `claims.environment == "production" && identity.startsWith("https://github.com/acme/")`},
	}}, policyTrust, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"repository_owner": "acme", "ref": "refs/tags/v1.2.0", "runner_environment": "github-hosted", "environment": "production"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for k2, v2 := range good {
			c[k2] = v2
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name, iss string
		claims    map[string]any
		deniedBy  string
		message   string
	}{
		{"allowed", ghIssuer, good, "", ""},
		{"other owner", ghIssuer, with("repository_owner", "evil"), "acme-only", "its requirement is false"},
		{"branch", ghIssuer, with("ref", "refs/heads/main"), "tags", ""},
		{"nested tag", ghIssuer, with("ref", "refs/tags/release/v1"), "tags", ""},
		{"self-hosted", ghIssuer, with("runner_environment", "self-hosted"), "hosted", ""},
		{"no environment", ghIssuer, with("environment", nil), "production", "could not be evaluated on this token (no such key: environment)"},
		{"enterprise slug: own rules only", ghIssuer + "/acme-corp", with("ref", "refs/heads/main"), "", ""},
		{"enterprise slug: denied", ghIssuer + "/acme-corp", with("repository_owner", "evil"), "enterprise-acme", "the rule says: only acme signs"},
		{"issuer without rules gets the default", glIssuer, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pol.Authorize(context.Background(), principal(tc.iss, tc.claims))
			if tc.deniedBy == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if problem.StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), `policy rule "`+tc.deniedBy+`"`) {
				t.Fatalf("error = %v (status %d), want 403 naming %q", err, problem.StatusOf(err), tc.deniedBy)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error = %v, want it to contain %q", err, tc.message)
			}
		})
	}
	if got := pol.RulesFor(glIssuer); len(got) != 1 || got[0].Name != "default-has-sub" {
		t.Errorf("RulesFor(gitlab) = %v", got)
	}
}

func TestPolicyFailsClosedForIssuersWithoutRules(t *testing.T) {
	scoped := []Rule{{Name: "acme-only", Issuer: ghIssuer, Require: `claims.repository_owner == "acme"`}}
	acme := map[string]any{"repository_owner": "acme"}
	for _, tc := range []struct {
		name     string
		rules    []Rule
		iss      string
		deniedBy string
	}{
		{"no rules at all: allowed", nil, glIssuer, ""},
		{"issuer with its own rule", scoped, ghIssuer, ""},
		{"issuer no rule covers", scoped, glIssuer, NoRuleForIssuer},
		{"meta-issuer instance no rule covers", scoped, ghIssuer + "/acme-corp", NoRuleForIssuer},
		{"default rule covers it", append(scoped, Rule{Name: "any", Require: "true"}), glIssuer, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := NewPolicy(PolicyConfig{Rules: tc.rules}, policyTrust, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = pol.Authorize(context.Background(), principal(tc.iss, acme))
			switch {
			case tc.deniedBy == "" && err != nil:
				t.Fatalf("denied: %v", err)
			case tc.deniedBy != "" && (problem.StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), `policy rule "`+tc.deniedBy+`"`)):
				t.Fatalf("error = %v (status %d), want 403 naming %q", err, problem.StatusOf(err), tc.deniedBy)
			}
		})
	}
}

func TestPolicyUncovered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  []string
	}{
		{"no rules", nil, nil},
		{"default rule", []Rule{{Name: "d", Require: "true"}}, nil},
		{"one exact issuer", []Rule{{Name: "r", Issuer: ghIssuer, Require: "true"}}, []string{glIssuer, ghIssuer + "/*"}},
		{"one instance of the pattern", []Rule{{Name: "r", Issuer: ghIssuer + "/acme-corp", Require: "true"}}, []string{glIssuer, ghIssuer, ghIssuer + "/*"}},
		{"the pattern itself", []Rule{{Name: "r", Issuer: ghIssuer + "/*", Require: "true"}}, []string{glIssuer, ghIssuer}},
		{"a pattern over one issuer", []Rule{{Name: "r", Issuer: "https://*.com", Require: "true"}}, []string{ghIssuer, ghIssuer + "/*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := NewPolicy(PolicyConfig{Rules: tc.rules}, policyTrust, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.Uncovered(policyTrust); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Uncovered = %q, want %q", got, tc.want)
			}
		})
	}
}
