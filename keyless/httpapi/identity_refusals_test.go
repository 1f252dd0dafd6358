package httpapi_test

import (
	"crypto/elliptic"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// certStatus asks /api/v2/signingCert for a certificate with a proof over
// challenge and returns the status and problem message.
func certStatus(t *testing.T, env *harness.Env, token, challenge string) (int, string) {
	t.Helper()
	key := newKey(t, elliptic.P256())
	resp := env.PostJSON(t, "/api/v2/signingCert", token, map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"algorithm": "ECDSA", "content": key.pem(t)},
		"proofOfPossession": key.sign(t, []byte(challenge)),
	}})
	var pb problem.Body
	if resp.Status != http.StatusOK {
		resp.JSON(t, &pb)
	}
	return resp.Status, pb.Message
}

func TestRefusedMappingsThroughTheAPI(t *testing.T) {
	env, farm := allIssuersEnv(t, nil)
	gitlab := func(drop string) map[string]any {
		for _, tc := range mappingCases() {
			if tc.name == "GitLab" {
				c := map[string]any{}
				for k, v := range tc.claims {
					if k != drop {
						c[k] = v
					}
				}
				return c
			}
		}
		t.Fatal("no GitLab case")
		return nil
	}
	for _, tc := range []struct {
		name, issuer string
		claims       map[string]any
		challenge    string
		reason       string
	}{
		{"CI claim missing from the token", issGitLab, gitlab("ci_config_ref_uri"), "", "identity token lacks the ci_config_ref_uri claim, which the subject alternative name needs"},
		{"bare claim missing from the token", issGitLab, gitlab("project_id"), "", "identity token lacks the project_id claim, which the extension SourceRepositoryIdentifier needs"},
		{"custom profile, wrong audience", issAcme, claims("pipeline:widgets", "pipeline", "widgets"), "", `expected audience "signet"`},
		{"email not verified", issEmail, claims("1", "email", "dev@example.com", "email_verified", false), "dev@example.com", "is not verified"},
		{"email not an address", issEmail, claims("1", "email", "dev at example.com", "email_verified", true), "dev at example.com", "not a valid email address"},
		{"issuer-claim missing", issDex, claims("1", "email", "dev@example.com", "email_verified", true), "dev@example.com", `lacks the issuer claim "$.federated_claims.connector_id"`},
		{"uri on another host", issURI, claims("https://evil.example.com/jobs/1"), "", `not under the issuer's subject domain "https://builds.example.com"`},
		{"uri that is an email", issURI, claims("alice@builds.example.com"), "", "is an email address, not a URI"},
		{"username with !", issUsername, claims("alice!evil.com"), "", "holds '!'"},
		{"username that is an email", issUsername, claims("alice@example.com"), "", "is an email address, not a username"},
		{"kubernetes without namespace", issEKS, claims("system:serviceaccount:ci:builder", "kubernetes.io", map[string]any{"serviceaccount": map[string]any{"name": "b"}}), "", "lacks kubernetes.io.namespace"},
		{"spiffe of another trust domain", issSPIFFE, claims("spiffe://evil.com/ns/ci"), "", `is not in the trust domain "example.com"`},
		{"spiffe malformed", issSPIFFE, claims("spiffe://example.com/a/../b"), "", "is not a SPIFFE ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			challenge := tc.challenge
			if challenge == "" {
				challenge = tc.claims["sub"].(string)
			}
			status, msg := certStatus(t, env, mintFrom(t, farm, tc.issuer, tc.claims, oidcmock.MintOptions{}), challenge)
			if status != http.StatusUnauthorized || !strings.Contains(msg, tc.reason) {
				t.Errorf("status %d %q, want 401 saying %q", status, msg, tc.reason)
			}
		})
	}
}

func TestMetaIssuerDiscoveryFetchesOnlyFullMatches(t *testing.T) {
	env, farm := allIssuersEnv(t, nil)
	before := len(farm.Seen())
	for _, hostile := range []string{
		"https://oidc.circleci.com/org/acme/../../evil",
		"https://oidc.circleci.com/org/acme?next=https://evil.example.com",
		"https://oidc.circleci.com/org/acme.evil.example.com",
		"https://oidc.circleci.com/org/acme@evil.example.com",
		"https://oidc.circleci.com/org/acme#frag",
		"https://oidc.circleci.com/org/",
		"https://oidc.eks.evil.example.com/x.amazonaws.com/id/1",
		"https://token.actions.githubusercontent.com/acme/evil",
		"https://evil.example.com/https://oidc.circleci.com/org/acme",
	} {
		c := oidcmock.GitHubClaims("acme/widgets")
		c["iss"] = hostile
		token := mintFrom(t, farm, issCircleCI, c, oidcmock.MintOptions{})
		status, msg := certStatus(t, env, token, c["sub"].(string))
		if status != http.StatusUnauthorized || !strings.Contains(msg, "is not trusted by this server") {
			t.Errorf("iss %q: status %d %q, want 401 not trusted", hostile, status, msg)
		}
	}
	if seen := farm.Seen()[before:]; len(seen) != 0 {
		t.Errorf("tokens with unmatched issuers made signet fetch: %v", seen)
	}
}

func TestIssuerCACert(t *testing.T) {
	farm := harness.StartIssuerFarm(t, issGHES)
	logs := &lockedBuffer{}
	env := harness.Start(t, harness.Options{Log: slog.New(slog.NewJSONHandler(logs, nil)), Configure: func(cfg *config.Config) {
		cfg.Identity = identity.Config{OIDCIssuers: map[string]identity.Issuer{
			issGHES: {ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
		}}
		cfg.OIDC.HTTPClient = farm.Client
	}})
	c := oidcmock.GitHubClaims("acme/widgets")
	status, msg := certStatus(t, env, mintFrom(t, farm, issGHES, c, oidcmock.MintOptions{}), c["sub"].(string))
	if status != http.StatusServiceUnavailable || msg != `identity token issuer "`+issGHES+`" is unavailable; try again later` {
		t.Errorf("internal issuer without ca-cert: status %d %q, want 503 with the fixed message", status, msg)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !strings.Contains(logs.b.String(), "certificate signed by unknown authority") {
		t.Errorf("the TLS failure is not logged:\n%s", logs.b.String())
	}
}

func TestClockSkewIsConfigurable(t *testing.T) {
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) { cfg.OIDC.ClockSkew = 10 * time.Second }})
	now := testclock.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, tc := range []struct {
		name   string
		times  map[string]any
		reason string // "" when accepted
	}{
		{"expired within the skew", map[string]any{"iat": at(-5 * time.Minute), "nbf": at(-5 * time.Minute), "exp": at(-4 * time.Second)}, ""},
		{"expired beyond the skew", map[string]any{"iat": at(-5 * time.Minute), "nbf": at(-5 * time.Minute), "exp": at(-30 * time.Second)}, "clock skew allowed: 10s"},
		{"nbf within the skew", map[string]any{"iat": at(0), "nbf": at(4 * time.Second), "exp": at(5 * time.Minute)}, ""},
		{"nbf beyond the skew", map[string]any{"iat": at(0), "nbf": at(30 * time.Second), "exp": at(5 * time.Minute)}, "is not valid yet"},
		{"iat beyond the skew", map[string]any{"iat": at(30 * time.Second), "nbf": at(0), "exp": at(5 * time.Minute)}, "issued in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, c := githubToken(t, env, tc.times)
			status, msg := certStatus(t, env, token, c["sub"].(string))
			switch {
			case tc.reason == "" && status != http.StatusOK:
				t.Errorf("status %d %q, want 200", status, msg)
			case tc.reason != "" && (status != http.StatusUnauthorized || !strings.Contains(msg, tc.reason)):
				t.Errorf("status %d %q, want 401 saying %q", status, msg, tc.reason)
			}
		})
	}
}
