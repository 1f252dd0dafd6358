package httpapi_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// lockedBuffer collects server logs from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// decisions returns the policy decisions logged so far.
func (l *lockedBuffer) decisions(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err == nil && m["msg"] == "policy decision" {
			out = append(out, m)
		}
	}
	return out
}

// policyEnv trusts the GitHub mock issuer under rules for acme's releases,
// and an email issuer under the default rule.
func policyEnv(t *testing.T) (*harness.Env, *oidcmock.Issuer, *lockedBuffer) {
	t.Helper()
	email := harness.StartIssuer(t)
	logs := &lockedBuffer{}
	env := harness.Start(t, harness.Options{
		Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Configure: func(cfg *config.Config) {
			var gh string
			for u := range cfg.Identity.OIDCIssuers {
				gh = u
			}
			cfg.Identity.OIDCIssuers[email.URL()] = identity.Issuer{ClientID: "sigstore", Type: identity.TypeEmail}
			cfg.Policy = identity.PolicyConfig{Rules: []identity.Rule{
				{Name: "acme-org", Issuer: gh, Require: `claims.repository_owner in ["acme", "acme-labs"]`},
				{Name: "trusted-builder", Issuer: gh, Description: "sign from your own workflows or the SLSA Go builder",
					Require: `claims.job_workflow_ref.startsWith(claims.repository + "/.github/workflows/") ||
						claims.job_workflow_ref.glob("slsa-framework/builders/.github/workflows/*@refs/tags/v*")`},
				{Name: "release-tags", Issuer: gh, Require: `claims.ref.glob("refs/tags/v*")`},
				{Name: "github-hosted", Issuer: gh, Require: `claims.runner_environment == "github-hosted"`},
				{Name: "production", Issuer: gh, Require: `claims.?environment.orValue("") == "production"`},
				{Name: "acme-staff", Require: `claims.email.endsWith("@acme.example")`},
			}}
		},
	})
	return env, email, logs
}

func TestPolicyThroughTheAPI(t *testing.T) {
	env, email, logs := policyEnv(t)
	release := func(kv ...any) map[string]any {
		c := reusableClaims() // a tag of acme/widgets, built by the SLSA builder
		c["runner_environment"] = "github-hosted"
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	own := "acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.0"
	for _, tc := range []struct {
		name     string
		issuer   *oidcmock.Issuer
		claims   map[string]any
		deniedBy string
	}{
		{"release by the SLSA builder", env.GitHub, release(), ""},
		{"release by its own workflow", env.GitHub, release("job_workflow_ref", own), ""},
		{"another organisation's repository", env.GitHub, release("repository", "evil/widgets", "repository_owner", "evil"), "acme-org"},
		{"reusable workflow from another organisation", env.GitHub, release("job_workflow_ref", "evil-org/ci/.github/workflows/release.yml@refs/heads/main"), "trusted-builder"},
		{"SLSA builder from a branch", env.GitHub, release("job_workflow_ref", "slsa-framework/builders/.github/workflows/go.yml@refs/heads/main"), "trusted-builder"},
		{"branch build", env.GitHub, release("ref", "refs/heads/main"), "release-tags"},
		{"self-hosted runner", env.GitHub, release("runner_environment", "self-hosted"), "github-hosted"},
		{"no deployment environment", env.GitHub, release("environment", nil), "production"},
		{"staging environment", env.GitHub, release("environment", "staging"), "production"},
		{"email issuer, default rule allows", email, claims("1", "email", "dev@acme.example", "email_verified", true), ""},
		{"email issuer, default rule denies", email, claims("2", "email", "eve@evil.example", "email_verified", true), "acme-staff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectPolicy(t, env, tc.issuer, tc.claims, tc.deniedBy)
		})
	}
	var denies, allows int
	for _, d := range logs.decisions(t) {
		switch {
		case d["decision"] == "deny" && d["rule"] != "" && d["identity"] != "":
			denies++
		case d["decision"] == "allow" && d["identity"] != "":
			allows++
		}
	}
	if denies != 8*3 || allows != 3*3 {
		t.Errorf("logged %d deny and %d allow decisions with rule and identity, want 24 and 9", denies, allows)
	}
}

// policyRequests asks for a certificate through every flow: Fulcio v2,
// Fulcio v1 and the one-shot signing endpoint.
func policyRequests(t *testing.T, env *harness.Env, token, challenge string) []harness.Response {
	t.Helper()
	key := newKey(t, elliptic.P256())
	proof := key.sign(t, []byte(challenge))
	sign := signRequest(t, key, challenge, []byte("artifact"))
	return []harness.Response{
		env.PostJSON(t, "/api/v2/signingCert", token, map[string]any{"publicKeyRequest": map[string]any{
			"publicKey": map[string]string{"algorithm": "ECDSA", "content": key.pem(t)}, "proofOfPossession": proof,
		}}),
		env.PostJSON(t, "/api/v1/signingCert", token, map[string]any{
			"publicKey":          map[string]string{"algorithm": "ecdsa", "content": base64.StdEncoding.EncodeToString([]byte(key.pem(t)))},
			"signedEmailAddress": base64.StdEncoding.EncodeToString(proof),
		}),
		env.PostJSON(t, "/api/v1/sign", token, sign),
	}
}

// expectPolicy mints claims from issuer, sends them through every flow and
// checks the outcome: success when deniedBy is empty, else a 403 naming
// that rule and no certificate issued.
func expectPolicy(t *testing.T, env *harness.Env, issuer *oidcmock.Issuer, claims map[string]any, deniedBy string) {
	t.Helper()
	token, err := issuer.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	challenge := claims["sub"].(string)
	if e, ok := claims["email"].(string); ok {
		challenge = e
	}
	before := issuedCount(t, env)
	for _, resp := range policyRequests(t, env, token, challenge) {
		if deniedBy == "" {
			if resp.Status != http.StatusOK && resp.Status != http.StatusCreated {
				t.Errorf("status %d: %s", resp.Status, resp.Body)
			}
			continue
		}
		var pb problem.Body
		resp.JSON(t, &pb)
		if resp.Status != http.StatusForbidden || pb.Code != "denied" || !strings.Contains(pb.Message, `policy rule "`+deniedBy+`"`) {
			t.Errorf("status %d %s, want 403 naming rule %q", resp.Status, resp.Body, deniedBy)
		}
	}
	if after := issuedCount(t, env); deniedBy != "" && after != before {
		t.Errorf("certificates issued for a denied identity: before %q, after %q", before, after)
	}
}
