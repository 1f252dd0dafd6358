package identity

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestGitHubBaseWarnings(t *testing.T) {
	gh := Issuer{ClientID: "sigstore", Type: TypeGitHubWorkflow}
	ciGH := Issuer{ClientID: "sigstore", Type: TypeCIProvider, CIProvider: ProfileGitHubWorkflow}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"github.com", Config{OIDCIssuers: map[string]Issuer{"https://token.actions.githubusercontent.com": gh}}, nil},
		{"GHE.com and Enterprise Server", Config{OIDCIssuers: map[string]Issuer{
			"https://token.actions.octo.ghe.com": gh, "https://ghes.example.com/_services/token": ciGH,
		}}, nil},
		{"enterprise slugs", Config{MetaIssuers: map[string]Issuer{"https://token.actions.githubusercontent.com/*": gh}}, nil},
		{"type github-workflow elsewhere", Config{OIDCIssuers: map[string]Issuer{"http://127.0.0.1:8080": gh}},
			[]string{"issuer http://127.0.0.1:8080 is type github-workflow but not a GitHub URL; its SANs will name https://github.com"}},
		{"shipped profile elsewhere", Config{MetaIssuers: map[string]Issuer{"https://ci-*.example.com": ciGH}},
			[]string{"issuer https://ci-*.example.com uses ci-provider github-workflow but not a GitHub URL; its SANs will name https://github.com"}},
		{"operator's own profile", Config{
			OIDCIssuers:      map[string]Issuer{"https://ci.example.com": ciGH},
			CIIssuerMetadata: map[string]IssuerMetadata{ProfileGitHubWorkflow: GitHubWorkflowMetadata("https://git.example.com")},
		}, nil},
		{"other types", Config{OIDCIssuers: map[string]Issuer{"https://ci.example.com": {ClientID: "sigstore", Type: TypeGitLabPipeline}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, w := range GitHubBaseWarnings(tc.cfg) {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewAuthenticatorWarnsOfGitHubTypesElsewhere(t *testing.T) {
	var logs bytes.Buffer
	_, err := NewAuthenticator(Config{OIDCIssuers: map[string]Issuer{
		"http://127.0.0.1:8080":                       {ClientID: "sigstore", Type: TypeGitHubWorkflow},
		"https://token.actions.githubusercontent.com": {ClientID: "sigstore", Type: TypeGitHubWorkflow},
	}}, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="issuer http://127.0.0.1:8080 is type github-workflow but not a GitHub URL; its SANs will name https://github.com" issuer=http://127.0.0.1:8080 base_url=https://github.com`
	if !strings.Contains(logs.String(), want) || strings.Count(logs.String(), "level=WARN") != 1 {
		t.Errorf("logs = %q, want one warning %q", logs.String(), want)
	}
}
