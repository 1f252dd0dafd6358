package identity

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/problem"
)

func TestEncodableRefusesWhatACertificateCannotHold(t *testing.T) {
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name   string
		p      Principal
		reason string // "" when encodable
	}{
		{"ASCII email", Principal{Email: "dev@example.com"}, ""},
		{"non-ASCII email", Principal{Email: "jösé@example.com"}, "an email SAN must be ASCII"},
		{"non-ASCII path, escaped", Principal{URI: uri("https://github.com/acme/wïdgets")}, ""},
		{"non-ASCII query", Principal{URI: uri("https://builds.example.com/jobs/1?user=jösé")}, "a URI SAN must be ASCII"},
		{"non-ASCII opaque URI", Principal{URI: uri("urn:jösé")}, "a URI SAN must be ASCII"},
		{"non-ASCII host", Principal{URI: uri("https://exämple.com/x")}, "whose host cannot be certified"},
		{"relative URI", Principal{URI: &url.URL{Path: "acme/widgets"}}, "not an absolute URI"},
		{"username otherName", Principal{OtherName: "jösé!example.com"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := encodable(&tc.p)
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.reason != "" && (problem.StatusOf(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), tc.reason)):
				t.Fatalf("error = %v (status %d), want 401 saying %q", err, problem.StatusOf(err), tc.reason)
			}
		})
	}
}

func TestEmailVerifiedAcceptsWhatFulcioAccepts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verified any // nil: the claim is absent
		ok       bool
	}{
		{"JSON true", true, true},
		{"string true (Cognito)", "true", true},
		{"string True", "True", true},
		{"JSON false", false, false},
		{"string false", "false", false},
		{"string yes", "yes", false},
		{"number 1", int64(1), false},
		{"absent", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{"email": "dev@example.com"}
			if tc.verified != nil {
				raw["email_verified"] = tc.verified
			}
			cs := splitClaims(raw)
			tok := verified{issuer: "https://accounts.example.com", subject: "1", claims: cs.strings, kinds: cs.kinds, raw: cs.values}
			_, err := emailPrincipal(Issuer{Type: TypeEmail}, tok)
			if (err == nil) != tc.ok {
				t.Errorf("email_verified %#v: error %v, want accepted %v", tc.verified, err, tc.ok)
			}
		})
	}
}

func TestTemplateFieldsSeeIndexedClaims(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		want string
	}{
		{`{{ .url }}/{{ .job_workflow_ref }}`, "url job_workflow_ref"},
		{`https://circleci.com/api/v2/projects/{{index . "oidc.circleci.com/project-id"}}/x`, "oidc.circleci.com/project-id"},
		{`{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}`, "ref_type ref"},
	} {
		tmpl, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(templateFields(tmpl.Tree.Root), " "); got != tc.want {
			t.Errorf("templateFields(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	tok := verified{claims: map[string]string{}, kinds: map[string]string{}}
	if _, err := render(`x/{{index . "oidc.circleci.com/project-id"}}`, tok, nil, templateData(tok, nil), roleSAN, true); err == nil ||
		!strings.Contains(err.Error(), `lacks the oidc.circleci.com/project-id claim`) {
		t.Errorf("a missing indexed claim: %v", err)
	}
}
