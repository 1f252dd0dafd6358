package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// typeCase is one issuer of the configuration test and the tokens it mints.
type typeCase struct {
	name string
	// conf configures the issuer; IssuerURL is filled in. Mock issuers are
	// http://127.0.0.1:<port>, which the subject domains below belong to.
	conf identity.Issuer
	// tokens are what the issuer mints.
	tokens []typeToken
}

// typeToken is a claim set and the value its proof of possession signs as
// cosign computes it (the verified email when the token has one, else sub)
// or as the issuer's challenge-claim says.
type typeToken struct {
	name   string
	claims map[string]any
	signs  string
}

// typeCases covers every issuer type, and an issuer with a challenge-claim.
func typeCases() []typeCase {
	iss := func(typ string) identity.Issuer { return identity.Issuer{ClientID: "sigstore", Type: typ} }
	with := func(i identity.Issuer, f func(*identity.Issuer)) identity.Issuer { f(&i); return i }
	bySub := func(name string, cs map[string]any) typeToken {
		return typeToken{name: name, claims: cs, signs: cs["sub"].(string)}
	}
	github := oidcmock.GitHubClaims("acme/widgets")
	return []typeCase{
		{name: "email", conf: iss(identity.TypeEmail), tokens: []typeToken{
			{name: "verified email", claims: claims("1234", "email", "dev@example.com", "email_verified", true), signs: "dev@example.com"}}},
		{name: "ci-provider", conf: with(iss(identity.TypeCIProvider), func(i *identity.Issuer) { i.CIProvider = identity.ProfileCircleCIJob }),
			tokens: []typeToken{bySub("CircleCI job", claims("org/8f3d/project/p-1/user/u-1",
				"oidc.circleci.com/project-id", "p-1", "oidc.circleci.com/pipeline-definition-id", "pd-1",
				"oidc.circleci.com/pipeline-id", "pl-1", "oidc.circleci.com/workflow-id", "wf-1", "oidc.circleci.com/job-id", "j-1",
				"oidc.circleci.com/vcs-origin", "github.com/acme/widgets", "oidc.circleci.com/vcs-ref", "refs/heads/main",
				"oidc.circleci.com/ssh-rerun", false))}},
		{name: "github-workflow", conf: iss(identity.TypeGitHubWorkflow), tokens: []typeToken{bySub("workflow", github)}},
		{name: "github-workflow with challenge-claim", conf: with(iss(identity.TypeGitHubWorkflow), func(i *identity.Issuer) { i.ChallengeClaim = "repository" }),
			tokens: []typeToken{{name: "workflow", claims: github, signs: "acme/widgets"}}},
		{name: "gitlab-pipeline", conf: iss(identity.TypeGitLabPipeline), tokens: []typeToken{bySub("pipeline",
			claims("project_path:acme/widgets:ref_type:branch:ref:main",
				"namespace_id", "72", "namespace_path", "acme", "project_id", "20", "project_path", "acme/widgets",
				"pipeline_id", "574", "pipeline_source", "push", "job_id", "302", "ref", "main", "ref_type", "branch",
				"runner_id", 1, "runner_environment", "gitlab-hosted", "sha", "aaaa", "project_visibility", "public",
				"ci_config_ref_uri", "gitlab.com/acme/widgets//.gitlab-ci.yml@refs/heads/main", "ci_config_sha", "bbbb"))}},
		{name: "buildkite-job", conf: iss(identity.TypeBuildkiteJob), tokens: []typeToken{bySub("job",
			claims("organization:acme:pipeline:widgets:ref:refs/heads/main:commit:cccc:step:build",
				"organization_slug", "acme", "pipeline_slug", "widgets", "build_number", 42, "job_id", "0190-j",
				"build_commit", "cccc", "build_source", "webhook", "runner_environment", "buildkite-hosted"))}},
		{name: "codefresh-workflow", conf: iss(identity.TypeCodefreshWorkflow), tokens: []typeToken{bySub("workflow",
			claims("account:628a:pipeline:65e5",
				"account_id", "628a", "account_name", "acme", "pipeline_id", "65e5", "pipeline_name", "widgets/build",
				"workflow_id", "64f4", "scm_repo_url", "https://github.com/acme/widgets", "scm_ref", "main", "runner_environment", "cloud"))}},
		{name: "chainguard-identity", conf: iss(identity.TypeChainguard), tokens: []typeToken{
			bySub("without email", claims("7a1b/c2d3")),
			{name: "with verified email", claims: claims("7a1b/c2d3", "email", "dev@example.com", "email_verified", true), signs: "dev@example.com"},
		}},
		{name: "kubernetes", conf: iss(identity.TypeKubernetes), tokens: []typeToken{bySub("service account",
			claims("system:serviceaccount:ci:builder", "kubernetes.io", map[string]any{
				"namespace": "ci", "serviceaccount": map[string]any{"name": "builder", "uid": "f572"}}))}},
		{name: "spiffe", conf: with(iss(identity.TypeSPIFFE), func(i *identity.Issuer) { i.SPIFFETrustDomain = "example.com" }),
			tokens: []typeToken{bySub("workload", claims("spiffe://example.com/ns/ci/sa/builder"))}},
		{name: "uri", conf: with(iss(identity.TypeURI), func(i *identity.Issuer) { i.SubjectDomain = "http://127.0.0.1" }),
			tokens: []typeToken{bySub("job", claims("http://127.0.0.1/jobs/42"))}},
		{name: "username", conf: with(iss(identity.TypeUsername), func(i *identity.Issuer) { i.SubjectDomain = "127.0.0.1" }),
			tokens: []typeToken{bySub("user", claims("alice"))}},
	}
}

// claims is a claim set with sub, aud sigstore and the key-value pairs kv.
func claims(sub string, kv ...any) map[string]any {
	c := map[string]any{"sub": sub, "aud": "sigstore"}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// TestConfigurationAdvertisesTheChallengeEveryTypeChecks trusts one issuer
// of every type in the table and checks that GET /api/v2/configuration
// advertises, for each, the claim the proof of possession must sign: a
// proof over the advertised claim gets a certificate, a proof over another
// claim of the token does not.
func TestConfigurationAdvertisesTheChallengeEveryTypeChecks(t *testing.T) {
	cases := typeCases()
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.conf.Type] = true
	}
	for _, typ := range identity.Types() {
		if !covered[typ] {
			t.Errorf("issuer type %s has no case in typeCases: add one", typ)
		}
	}
	mocks := make([]*oidcmock.Issuer, len(cases))
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		for i, tc := range cases {
			mocks[i] = harness.StartIssuer(t)
			tc.conf.IssuerURL = mocks[i].URL()
			cfg.Identity.OIDCIssuers[mocks[i].URL()] = tc.conf
		}
	}})

	// cfgOf is the configured issuer of a URL the configuration lists.
	cfgOf := func(u string) identity.Issuer {
		if u == env.GitHub.URL() {
			return identity.Issuer{Type: identity.TypeGitHubWorkflow}
		}
		for i, tc := range cases {
			if mocks[i].URL() == u {
				return tc.conf
			}
		}
		t.Errorf("configuration lists %s, which is not configured", u)
		return identity.Issuer{}
	}
	resp := env.Do(t, http.MethodGet, "/api/v2/configuration", nil, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /api/v2/configuration: status %d: %s", resp.Status, resp.Body)
	}
	var doc struct {
		Issuers []struct {
			IssuerURL      string `json:"issuerUrl"`
			Audience       string `json:"audience"`
			ChallengeClaim string `json:"challengeClaim"`
			IssuerType     string `json:"issuerType"`
			SPIFFEDomain   string `json:"spiffeTrustDomain"`
			SubjectDomain  string `json:"subjectDomain"`
		} `json:"issuers"`
	}
	resp.JSON(t, &doc)
	advertised := map[string]string{}
	for _, iss := range doc.Issuers {
		if iss.Audience != "sigstore" {
			t.Errorf("issuer %s: audience %q, want sigstore", iss.IssuerURL, iss.Audience)
		}
		advertised[iss.IssuerURL] = iss.ChallengeClaim
		conf := cfgOf(iss.IssuerURL)
		if iss.IssuerType != conf.Type || iss.SPIFFEDomain != conf.SPIFFETrustDomain || iss.SubjectDomain != conf.SubjectDomain {
			t.Errorf("issuer %s: type %q, spiffeTrustDomain %q, subjectDomain %q; want %q, %q, %q as configured", iss.IssuerURL,
				iss.IssuerType, iss.SPIFFEDomain, iss.SubjectDomain, conf.Type, conf.SPIFFETrustDomain, conf.SubjectDomain)
		}
	}
	if len(doc.Issuers) != len(cases)+1 { // and the harness's GitHub issuer
		t.Errorf("configuration lists %d issuers, want %d", len(doc.Issuers), len(cases)+1)
	}
	if got := advertised[env.GitHub.URL()]; got != "sub" {
		t.Errorf("harness GitHub issuer: challengeClaim %q, want sub", got)
	}

	for i, tc := range cases {
		for _, tok := range tc.tokens {
			t.Run(tc.name+"/"+tok.name, func(t *testing.T) {
				adv, ok := advertised[mocks[i].URL()]
				if !ok {
					t.Fatalf("issuer %s is not advertised", mocks[i].URL())
				}
				cs := tok.claims
				claim := signedClaim(t, tc.conf.Type, adv, cs)
				if cs[claim] != tok.signs {
					t.Fatalf("challengeClaim %q names %s %q, want the claim holding %q", adv, claim, cs[claim], tok.signs)
				}
				token, err := mocks[i].Mint(cs)
				if err != nil {
					t.Fatal(err)
				}
				if status, body := certify(t, env, token, cs[claim].(string)); status != http.StatusOK {
					t.Fatalf("challengeClaim %q: proof over %s %q: status %d: %s", adv, claim, cs[claim], status, body)
				}
				for _, other := range []string{"sub", "email", "repository"} {
					v, ok := cs[other].(string)
					if !ok || other == claim || v == cs[claim] {
						continue
					}
					if status, body := certify(t, env, token, v); status != http.StatusBadRequest {
						t.Errorf("challengeClaim %q: proof over %s %q: status %d, want 400: %s", adv, other, v, status, body)
					}
				}
			})
		}
	}
}

// advertisedClaim reads a challengeClaim as a client would: a claim name,
// or "a when present, else b", whose first claim the token carries (a
// non-empty string) is the one.
// signedClaim is the claim a client signs for a token given the advertised
// challengeClaim adv: adv itself, except that for chainguard-identity,
// whose advertised claim is sub as in Fulcio, cosign signs the email
// instead when the token carries one (oauthflow.SubjectFromToken), and
// Fulcio and signet check that.
func signedClaim(t *testing.T, typ, adv string, cs map[string]any) string {
	t.Helper()
	if strings.Contains(adv, " ") {
		t.Fatalf("challengeClaim %q is not a claim name", adv)
	}
	if email, ok := cs["email"].(string); typ == identity.TypeChainguard && ok && email != "" {
		return "email"
	}
	if v, ok := cs[adv].(string); !ok || v == "" {
		t.Fatalf("challengeClaim %q names no claim of the token %v", adv, cs)
	}
	return adv
}

// certify asks /api/v2/signingCert for a certificate over a fresh key,
// with the proof of possession over challenge.
func certify(t *testing.T, env *harness.Env, token, challenge string) (int, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(challenge))
	proof, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	resp := env.PostJSON(t, "/api/v2/signingCert", token, map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"algorithm": "ECDSA", "content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"proofOfPossession": proof,
	}})
	return resp.Status, string(resp.Body)
}
