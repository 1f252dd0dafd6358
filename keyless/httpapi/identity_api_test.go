package httpapi_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// Issuers of test/testdata/fulcio-identity-all.yaml, served by the farm.
const (
	issGitHub     = "https://token.actions.githubusercontent.com"
	issGitHubSlug = "https://token.actions.githubusercontent.com/acme-corp"
	issGHECom     = "https://token.actions.octo.ghe.com"
	issGHES       = "https://ghes.example.com/_services/token"
	issGitLab     = "https://gitlab.com"
	issBuildkite  = "https://agent.buildkite.com"
	issCircleCI   = "https://oidc.circleci.com/org/8f3d2e6a-1c2b-4d5e-9f00-0123456789ab"
	issCodefresh  = "https://oidc.codefresh.io"
	issAcme       = "https://ci.acme.example"
	issEmail      = "https://accounts.example.com"
	issDex        = "https://dex.example.com/auth"
	issURI        = "https://accounts.builds.example.com"
	issUsername   = "https://login.example.com"
	issEKS        = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
	issSPIFFE     = "https://spire.example.com"
	issChainguard = "https://issuer.chainguard.example"
)

var allIssuers = []string{
	issGitHub, issGitHubSlug, issGHECom, issGHES, issGitLab, issBuildkite, issCircleCI, issCodefresh,
	issAcme, issEmail, issDex, issURI, issUsername, issEKS, issSPIFFE, issChainguard,
}

// allIssuersEnv starts signet on the Fulcio-format config that trusts every
// kind of issuer, each an internal issuer reached with its ca-cert.
func allIssuersEnv(t *testing.T, configure func(cfg *config.Config)) (*harness.Env, *harness.IssuerFarm) {
	t.Helper()
	farm := harness.StartIssuerFarm(t, allIssuers...)
	raw, err := os.ReadFile("../../test/testdata/fulcio-identity-all.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca := strings.ReplaceAll(strings.TrimSpace(farm.CAPEM), "\n", "\n    ")
	path := t.TempDir() + "/identity.yaml"
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), "INTERNAL_CA_PEM", ca, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		if err := cfg.LoadIdentity(path); err != nil {
			t.Fatal(err)
		}
		cfg.OIDC.HTTPClient = farm.Client
		if configure != nil {
			configure(cfg)
		}
	}})
	return env, farm
}

// gitHubWant is what Fulcio certifies for reusableClaims, on base.
func gitHubWant(issuer, base string) certificate.Extensions {
	w := wantReusableExtensions(issuer)
	for _, f := range []*string{&w.BuildSignerURI, &w.SourceRepositoryURI, &w.SourceRepositoryOwnerURI, &w.BuildConfigURI, &w.RunInvocationURI} {
		*f = strings.Replace(*f, "https://github.com", base, 1)
	}
	return w
}

func claims(sub string, kv ...any) map[string]any {
	c := map[string]any{"sub": sub, "aud": "sigstore"}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// sanOf returns the one SAN of a certificate, whatever its kind.
func sanOf(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	switch {
	case len(c.URIs) == 1 && len(c.EmailAddresses) == 0:
		return c.URIs[0].String()
	case len(c.EmailAddresses) == 1 && len(c.URIs) == 0:
		return c.EmailAddresses[0]
	}
	name, err := cryptoutils.UnmarshalOtherNameSAN(c.Extensions)
	if err != nil {
		t.Fatalf("no single SAN: URIs %v, emails %v, otherName: %v", c.URIs, c.EmailAddresses, err)
	}
	return name
}

type mappingCase struct {
	name, issuer string
	claims       map[string]any
	challenge    string // signed as proof of possession; default sub
	san          string
	ext          certificate.Extensions // Issuer defaults to issuer, Subject to sub
}

func mappingCases() []mappingCase {
	gh := reusableClaims()
	const ghSAN = "/slsa-framework/builders/.github/workflows/go.yml@refs/tags/v2.0.0"
	gitlabSAN := "https://gitlab.com/acme/widgets//.gitlab-ci.yml@refs/heads/main"
	circle := "https://circleci.com/api/v2/projects/p-1/pipeline-definitions/pd-1"
	codefresh := "https://g.codefresh.io"
	return []mappingCase{
		{name: "GitHub github.com", issuer: issGitHub, claims: gh, san: "https://github.com" + ghSAN, ext: gitHubWant(issGitHub, "https://github.com")},
		{name: "GitHub enterprise slug", issuer: issGitHubSlug, claims: gh, san: "https://github.com" + ghSAN, ext: gitHubWant(issGitHubSlug, "https://github.com")},
		{name: "GitHub GHE.com", issuer: issGHECom, claims: gh, san: "https://octo.ghe.com" + ghSAN, ext: gitHubWant(issGHECom, "https://octo.ghe.com")},
		{name: "GitHub Enterprise Server", issuer: issGHES, claims: gh, san: "https://ghes.example.com" + ghSAN, ext: gitHubWant(issGHES, "https://ghes.example.com")},
		{name: "GitLab", issuer: issGitLab, san: gitlabSAN, claims: claims("project_path:acme/widgets:ref_type:branch:ref:main",
			"namespace_id", "72", "namespace_path", "acme", "project_id", "20", "project_path", "acme/widgets",
			"pipeline_id", "574", "pipeline_source", "push", "job_id", "302", "ref", "main", "ref_type", "branch",
			"runner_id", 1, "runner_environment", "gitlab-hosted", "sha", "aaaa", "project_visibility", "public",
			"ci_config_ref_uri", "gitlab.com/acme/widgets//.gitlab-ci.yml@refs/heads/main", "ci_config_sha", "bbbb"),
			ext: certificate.Extensions{
				BuildSignerURI: gitlabSAN, BuildSignerDigest: "bbbb", RunnerEnvironment: "gitlab-hosted",
				SourceRepositoryURI: "https://gitlab.com/acme/widgets", SourceRepositoryDigest: "aaaa",
				SourceRepositoryRef: "refs/heads/main", SourceRepositoryIdentifier: "20",
				SourceRepositoryOwnerURI: "https://gitlab.com/acme", SourceRepositoryOwnerIdentifier: "72",
				BuildConfigURI: gitlabSAN, BuildConfigDigest: "bbbb", BuildTrigger: "push",
				RunInvocationURI: "https://gitlab.com/acme/widgets/-/jobs/302", SourceRepositoryVisibilityAtSigning: "public",
			}},
		{name: "Buildkite", issuer: issBuildkite, san: "https://buildkite.com/acme/widgets", claims: claims("organization:acme:pipeline:widgets:ref:refs/heads/main:commit:cccc:step:build",
			"organization_slug", "acme", "pipeline_slug", "widgets", "build_number", 42, "job_id", "0190-j",
			"build_commit", "cccc", "build_source", "webhook", "runner_environment", "buildkite-hosted"),
			ext: certificate.Extensions{
				RunInvocationURI: "https://buildkite.com/acme/widgets/builds/42#0190-j", RunnerEnvironment: "buildkite-hosted",
				SourceRepositoryDigest: "cccc", BuildTrigger: "webhook",
			}},
		// Fulcio's profile renders platform_url with its trailing slash and a
		// non-rerun runner environment as two quote characters; so does signet.
		{name: "CircleCI", issuer: issCircleCI, san: circle, claims: claims("org/8f3d/project/p-1/user/u-1",
			"oidc.circleci.com/project-id", "p-1", "oidc.circleci.com/pipeline-definition-id", "pd-1",
			"oidc.circleci.com/pipeline-id", "pl-1", "oidc.circleci.com/workflow-id", "wf-1", "oidc.circleci.com/job-id", "j-1",
			"oidc.circleci.com/vcs-origin", "github.com/acme/widgets", "oidc.circleci.com/vcs-ref", "refs/heads/main",
			"oidc.circleci.com/ssh-rerun", false),
			ext: certificate.Extensions{
				BuildConfigURI: "https://circleci.com/api/v2/pipeline/pl-1/config", BuildSignerURI: circle,
				RunInvocationURI: "https://app.circleci.com//workflow/wf-1/job/j-1", RunnerEnvironment: `""`,
				SourceRepositoryRef: "refs/heads/main", SourceRepositoryURI: "github.com/acme/widgets",
			}},
		{name: "Codefresh", issuer: issCodefresh, san: codefresh + "/acme/widgets/build:628a/65e5", claims: claims("account:628a:pipeline:65e5",
			"account_id", "628a", "account_name", "acme", "pipeline_id", "65e5", "pipeline_name", "widgets/build",
			"workflow_id", "64f4", "scm_repo_url", "https://github.com/acme/widgets", "scm_ref", "main", "runner_environment", "cloud"),
			ext: certificate.Extensions{
				BuildSignerURI: codefresh + "/build/64f4", RunnerEnvironment: "cloud", SourceRepositoryURI: "https://github.com/acme/widgets",
				SourceRepositoryRef: "main", BuildConfigURI: codefresh + "/api/pipelines/65e5", RunInvocationURI: codefresh + "/build/64f4",
			}},
		{name: "custom CI profile", issuer: issAcme, san: "https://ci.acme.example/pipelines/widgets", claims: claims("pipeline:widgets",
			"aud", "signet", "pipeline", "widgets", "repo_url", "https://git.acme.example/widgets", "commit", "dddd", "trigger", "tag"),
			ext: certificate.Extensions{
				BuildSignerURI: "https://ci.acme.example/pipelines/widgets@release", SourceRepositoryURI: "https://git.acme.example/widgets",
				SourceRepositoryDigest: "dddd", BuildTrigger: "tag",
			}},
		{name: "email", issuer: issEmail, challenge: "dev@example.com", san: "dev@example.com",
			claims: claims("1234", "email", "dev@example.com", "email_verified", true)},
		{name: "email with issuer-claim", issuer: issDex, challenge: "dev@example.com", san: "dev@example.com",
			claims: claims("CgQxMjM0EgZnaXRodWI", "email", "dev@example.com", "email_verified", "true",
				"federated_claims", map[string]any{"connector_id": "https://github.com/login/oauth", "user_id": "1234"}),
			ext: certificate.Extensions{Issuer: "https://github.com/login/oauth"}},
		{name: "uri", issuer: issURI, san: "https://builds.example.com/jobs/42", claims: claims("https://builds.example.com/jobs/42")},
		{name: "username", issuer: issUsername, san: "alice!example.com", claims: claims("alice")},
		{name: "kubernetes", issuer: issEKS, san: "https://kubernetes.io/namespaces/ci/serviceaccounts/builder",
			claims: claims("system:serviceaccount:ci:builder", "kubernetes.io", map[string]any{
				"namespace": "ci", "serviceaccount": map[string]any{"name": "builder", "uid": "f572"}, "pod": map[string]any{"name": "b-1"}})},
		{name: "spiffe", issuer: issSPIFFE, san: "spiffe://example.com/ns/ci/sa/builder", claims: claims("spiffe://example.com/ns/ci/sa/builder")},
		{name: "chainguard", issuer: issChainguard, san: issChainguard + "/7a1b/c2d3", claims: claims("7a1b/c2d3")},
	}
}

func TestEveryIssuerKindThroughTheAPI(t *testing.T) {
	env, farm := allIssuersEnv(t, nil)
	for _, tc := range mappingCases() {
		t.Run(tc.name, func(t *testing.T) {
			leaf := certifyWith(t, env, farm, tc.issuer, tc.claims, tc.challenge)
			if got := sanOf(t, leaf); got != tc.san {
				t.Errorf("SAN = %q, want %q", got, tc.san)
			}
			want := tc.ext
			if want.Issuer == "" {
				want.Issuer = tc.issuer
			}
			want.Subject = tc.claims["sub"].(string)
			got, err := certificate.ParseExtensions(leaf.Extensions)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("extensions:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// certifyWith mints a token from a farm issuer and asks /api/v2/signingCert
// for a certificate, failing the test unless one is issued.
func certifyWith(t *testing.T, env *harness.Env, farm *harness.IssuerFarm, issuer string, claims map[string]any, challenge string) *x509.Certificate {
	t.Helper()
	token := mintFrom(t, farm, issuer, claims, oidcmock.MintOptions{})
	if challenge == "" {
		challenge = claims["sub"].(string)
	}
	key := newKey(t, elliptic.P256())
	certs := signingCertV2(t, env, token, map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"algorithm": "ECDSA", "content": key.pem(t)},
		"proofOfPossession": key.sign(t, []byte(challenge)),
	}})
	for _, check := range commonCertChecks(certs[1:]) {
		// An otherName SAN is critical (Fulcio's username certificates) and
		// Go's parser leaves otherName unhandled.
		otherName := len(certs[0].URIs) == 0 && len(certs[0].EmailAddresses) == 0
		if otherName && check.name == "no unknown critical extensions" {
			continue
		}
		if !check.ok(certs[0]) {
			t.Errorf("certificate check failed: %s", check.name)
		}
	}
	return certs[0]
}

// mintFrom mints a token from a farm issuer, failing the test on error.
func mintFrom(t *testing.T, farm *harness.IssuerFarm, issuer string, claims map[string]any, opts oidcmock.MintOptions) string {
	t.Helper()
	tok, err := farm.Issuer(t, issuer).MintWith(claims, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
