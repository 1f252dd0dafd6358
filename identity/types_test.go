package identity

import (
	"slices"
	"strings"
	"testing"
)

// TestEveryIssuerTypeIsComplete walks the table: every type has a name, a
// mapping, a validation, a challenge claim and a config validate line, and
// the exported views of the table agree with it.
func TestEveryIssuerTypeIsComplete(t *testing.T) {
	if got := Types(); len(got) != len(issuerTypes) {
		t.Fatalf("Types() = %v, want one name per table entry (%d)", got, len(issuerTypes))
	}
	seen := map[string]bool{}
	for i, typ := range issuerTypes {
		t.Run(typ.name, func(t *testing.T) {
			switch {
			case typ.name == "":
				t.Fatal("type has no name")
			case seen[typ.name]:
				t.Fatal("type is in the table twice")
			case Types()[i] != typ.name:
				t.Errorf("Types()[%d] = %q", i, Types()[i])
			}
			seen[typ.name] = true
			if typ.principal == nil {
				t.Error("no mapping (principal)")
			}
			if typ.validate == nil {
				t.Error("no validation (validate)")
			}
			if typ.details == nil {
				t.Error("no config validate line (details)")
			}
			if len(typ.challenge) == 0 || slices.Contains(typ.challenge, "") {
				t.Errorf("challenge claims %q: want at least one, none empty", typ.challenge)
			}
			iss := Issuer{Type: typ.name, CIProvider: ProfileCircleCIJob, ClientID: "sigstore"}
			if got, want := ChallengeClaim(iss), typ.challenge[len(typ.challenge)-1]; got != want {
				t.Errorf("ChallengeClaim = %q, want %q", got, want)
			}
			iss.ChallengeClaim = "repository"
			if got := ChallengeClaim(iss); got != "repository" {
				t.Errorf("ChallengeClaim with challenge-claim set = %q, want it", got)
			}
			if d := Describe("https://issuer.example.com", iss); len(d) < 2 || d[0] != "type "+typ.name && !strings.HasPrefix(d[0], "type "+typ.name+" ") {
				t.Errorf("Describe = %q, want the type first", d)
			}
			if typ.profile != nil {
				if name := profileName(iss); name == "" {
					t.Error("CI type names no profile")
				} else if _, ok := (Config{}).Profile(name); !ok {
					t.Errorf("profile %q is neither shipped nor configurable here", name)
				}
			} else if name := profileName(iss); name != "" {
				t.Errorf("non-CI type maps through profile %q", name)
			}
		})
	}
	if got := ChallengeClaim(Issuer{Type: "jenkins"}); got != "" {
		t.Errorf("ChallengeClaim of an unknown type = %q, want empty", got)
	}
}

// TestConfigurationChallengeClaims pins the claim each type advertises to
// what Fulcio v1.8.8's configuration names (issuerToChallengeClaim):
// email for email issuers, sub for the rest, chainguard-identity included.
func TestConfigurationChallengeClaims(t *testing.T) {
	for _, typ := range Types() {
		want := "sub"
		if typ == TypeEmail {
			want = "email"
		}
		if got := ChallengeClaim(Issuer{Type: typ, CIProvider: ProfileCircleCIJob}); got != want {
			t.Errorf("%s: ChallengeClaim = %q, want %q", typ, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	const gh = "https://token.actions.githubusercontent.com"
	for _, tc := range []struct {
		key  string
		iss  Issuer
		want string
	}{
		{gh, Issuer{Type: TypeGitHubWorkflow, ClientID: "sigstore"}, "type github-workflow, audience sigstore, base URL https://github.com"},
		{gh, Issuer{Type: TypeCIProvider, CIProvider: ProfileGitHubWorkflow, ClientID: "sigstore"}, "type ci-provider github-workflow, audience sigstore, base URL https://github.com"},
		{"https://gitlab.com", Issuer{Type: TypeCIProvider, CIProvider: ProfileGitLabPipeline, ClientID: "sigstore"}, "type ci-provider gitlab-pipeline, audience sigstore"},
		{"https://ci-*.example.com", Issuer{Type: TypeGitHubWorkflow, ClientID: "x"}, "type github-workflow, audience x"},
		// A ci-provider key on a type that maps through no profile is not used.
		{gh, Issuer{Type: TypeEmail, CIProvider: ProfileGitHubWorkflow, ClientID: "sigstore"}, "type email, audience sigstore"},
		{"https://dex.example.com", Issuer{Type: TypeEmail, IssuerClaim: "$.federated_claims.connector_id", ClientID: "sigstore"}, "type email, audience sigstore, issuer-claim $.federated_claims.connector_id"},
		{"https://login.example.com", Issuer{Type: TypeUsername, SubjectDomain: "example.com", ClientID: "sigstore"}, "type username, audience sigstore, subject-domain example.com"},
		{"https://spire.example.com", Issuer{Type: TypeSPIFFE, SPIFFETrustDomain: "example.com", ClientID: "sigstore", CACert: "pem"}, "type spiffe, audience sigstore, trust domain example.com, ca-cert"},
		{"https://issuer.enforce.dev", Issuer{Type: TypeChainguard, ClientID: "sigstore"}, "type chainguard-identity, audience sigstore"},
	} {
		if got := strings.Join(Describe(tc.key, tc.iss), ", "); got != tc.want {
			t.Errorf("Describe(%s, %s) = %q, want %q", tc.key, tc.iss.Type, got, tc.want)
		}
	}
}
