package httpapi_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"strconv"
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

// TestHostileClaimsRefused sends tokens that the test issuer really signs
// but whose claims a certificate cannot faithfully hold, to every
// certificate endpoint of the real HTTP server: each gets 401 naming what
// is wrong, no certificate material, and the issued-certificate metric does
// not move. The proof of possession is made over the token's own sub, so
// only the claims are at fault.
func TestHostileClaimsRefused(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	now := testclock.Now()
	hostile := []struct {
		name    string
		edit    map[string]any      // nil values delete the claim
		payload func([]byte) []byte // rewrites the encoded claims before signing
		reason  string
	}{
		{"no sub", map[string]any{"sub": nil}, nil, "has no sub claim"},
		{"empty sub", map[string]any{"sub": ""}, nil, "sub claim is empty"},
		{"sub is a number", map[string]any{"sub": 42}, nil, "sub claim is a JSON number"},
		{"NUL in sub", map[string]any{"sub": "repo:acme/widgets:ref:refs/heads/main\x00evil"}, nil, "sub claim holds the control or formatting character U+0000"},
		{"newline in ref", map[string]any{"ref": "refs/heads/main\nrefs/tags/v9"}, nil, "ref claim holds the control or formatting character U+000A"},
		{"DEL in workflow", map[string]any{"workflow": "release\x7f"}, nil, "U+007F"},
		{"C1 control in actor", map[string]any{"actor": "octo\u0085cat"}, nil, "U+0085"},
		{"line separator in environment", map[string]any{"environment": "prod\u2028uction"}, nil, "U+2028"},
		{"bidi override in repository", map[string]any{"repository": "acme/\u202ewidgets"}, nil, "U+202E"},
		{"bidi isolate in job_workflow_ref", map[string]any{"job_workflow_ref": "acme/widgets/.github/workflows/r.yml@\u2066refs/heads/main"}, nil, "U+2066"},
		{"control character in a nested claim", map[string]any{"extra": map[string]any{"note": "a\tb"}}, nil, "extra.note claim holds"},
		{"repository is an object", map[string]any{"repository": map[string]any{"a": "b"}}, nil, "repository claim is a JSON object"},
		{"repository is null", map[string]any{"repository_id": json.RawMessage("null")}, nil, "repository_id claim is a JSON null"},
		{"job_workflow_ref is an array", map[string]any{"job_workflow_ref": []any{"x", "y"}}, nil, "job_workflow_ref claim is a JSON array: it forms the subject alternative name"},
		{"job_workflow_ref is a number", map[string]any{"job_workflow_ref": 42}, nil, "job_workflow_ref claim is a JSON number: it forms the subject alternative name"},
		{"job_workflow_ref is empty", map[string]any{"job_workflow_ref": ""}, nil, "job_workflow_ref claim is empty"},
		{"no job_workflow_ref", map[string]any{"job_workflow_ref": nil}, nil, "lacks the job_workflow_ref claim, which the subject alternative name needs"},
		{"exp as a string of digits", map[string]any{"exp": strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10)}, nil, "exp claim is a JSON string: it must be a number"},
		{"iat as a string", map[string]any{"iat": strconv.FormatInt(now.Unix(), 10)}, nil, "iat claim is a JSON string"},
		{"nbf as a boolean", map[string]any{"nbf": true}, nil, "nbf claim is a JSON boolean"},
		{"no iat", map[string]any{"iat": nil}, nil, "has no iat claim"},
		{"exp 30 years after iat", map[string]any{"exp": now.AddDate(30, 0, 0).Unix()}, nil, "over this issuer's limit of 24h0m0s"},
		{"replacement character in repository", map[string]any{"repository": "acme/\ufffdwidgets"}, nil, "repository claim holds U+FFFD"},
		{"escaped lone surrogate in actor", map[string]any{"actor": json.RawMessage(`"octo\ud800cat"`)}, nil, "actor claim holds U+FFFD"},
		{"claims that are not UTF-8", nil, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("acme/widgets"), []byte("acme/\xffwidgets"))
		}, "claims are not UTF-8 text"},
		{"a second object after the claims", nil, func(b []byte) []byte {
			return append(b, `{"repository":"evil/widgets"}`...)
		}, "something follows the claims object"},
	}
	before := issuedCount(t, env)
	for _, tc := range hostile {
		claims := oidcmock.GitHubClaims("acme/widgets")
		for k, v := range tc.edit {
			claims[k] = v
		}
		token, err := env.GitHub.MintWith(claims, oidcmock.MintOptions{EditPayload: tc.payload})
		if err != nil {
			t.Fatal(err)
		}
		challenge, _ := claims["sub"].(string)
		for _, ep := range certEndpoints {
			t.Run(tc.name+" "+ep.path, func(t *testing.T) {
				resp := env.PostJSON(t, ep.path, token, ep.body(t, newKey(t, elliptic.P256()), challenge))
				expectRefusal(t, resp, http.StatusUnauthorized, tc.reason)
			})
		}
	}
	if after := issuedCount(t, env); after != before {
		t.Errorf("certificates were issued for hostile tokens: before %q, after %q", before, after)
	}
}

// TestTokenLifetimeCapPerIssuer: an issuer's max-token-lifetime replaces
// the default cap, both ways.
func TestTokenLifetimeCapPerIssuer(t *testing.T) {
	now := testclock.Now()
	for _, tc := range []struct {
		name   string
		cap    string
		life   time.Duration
		status int
	}{
		{"5h token under the default 24h cap (CircleCI)", "", 5 * time.Hour, http.StatusOK},
		{"25h token over the default cap", "", 25 * time.Hour, http.StatusUnauthorized},
		{"10m token over a 5m issuer cap", "5m", 10 * time.Minute, http.StatusUnauthorized},
		{"48h token under a 72h issuer cap", "72h", 48 * time.Hour, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
				for u, iss := range cfg.Identity.OIDCIssuers {
					iss.MaxTokenLifetime = tc.cap
					cfg.Identity.OIDCIssuers[u] = iss
				}
			}})
			token, _ := githubToken(t, env, map[string]any{"iat": now.Unix(), "exp": now.Add(tc.life).Unix()})
			resp := env.PostJSON(t, "/api/v1/sign", token, signRequest(t, newKey(t, elliptic.P256()), sub, []byte("a")))
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
		})
	}
	if _, err := identity.ParseConfig([]byte(`{"OIDCIssuers":{"https://x.example":{"IssuerURL":"https://x.example","ClientID":"a","Type":"uri","SubjectDomain":"https://x.example","MaxTokenLifetime":"forever"}}}`)); err == nil ||
		!strings.Contains(err.Error(), "max-token-lifetime") {
		t.Errorf("a max-token-lifetime that is no duration was accepted: %v", err)
	}
}

// expectRefusal checks a refused request: the status, a one-line JSON
// problem saying reason, and no certificate material.
func expectRefusal(t *testing.T, resp harness.Response, status int, reason string) {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
	}
	var pb problem.Body
	resp.JSON(t, &pb)
	if pb.Code == "" || pb.Message == "" || strings.ContainsAny(pb.Message, "\n\x00") {
		t.Errorf("want a one-line JSON error, got %q", resp.Body)
	}
	if !strings.Contains(pb.Message, reason) {
		t.Errorf("message %q does not say %q", pb.Message, reason)
	}
	for _, leak := range []string{"verificationMaterial", "CERTIFICATE"} {
		if strings.Contains(string(resp.Body), leak) {
			t.Errorf("refusal carries %q: %s", leak, resp.Body)
		}
	}
	if f := internalDetail(pb.Message); f != "" {
		t.Errorf("message %q shows the server's internals (%q)", pb.Message, f)
	}
}
