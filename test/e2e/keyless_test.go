package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

const (
	repo    = "acme/widgets"
	wantSAN = "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.0"
)

// releaseClaims is a tag-push release job of acme/widgets.
func releaseClaims() map[string]any {
	c := oidcmock.GitHubClaims(repo)
	c["sub"] = "repo:acme/widgets:ref:refs/tags/v1.2.0"
	c["ref"], c["ref_type"] = "refs/tags/v1.2.0", "tag"
	c["workflow_ref"] = "acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.0"
	c["job_workflow_ref"] = c["workflow_ref"]
	c["event_name"] = "push"
	c["environment"] = "production"
	return c
}

// wantExtensions is what the certificate of releaseClaims must carry.
func wantExtensions(issuer string, c map[string]any) certificate.Extensions {
	s := func(k string) string { return c[k].(string) }
	return certificate.Extensions{
		Issuer:                              issuer,
		GithubWorkflowTrigger:               "push",
		GithubWorkflowSHA:                   s("sha"),
		GithubWorkflowName:                  "Release",
		GithubWorkflowRepository:            repo,
		GithubWorkflowRef:                   "refs/tags/v1.2.0",
		BuildSignerURI:                      wantSAN,
		BuildSignerDigest:                   s("job_workflow_sha"),
		RunnerEnvironment:                   "github-hosted",
		SourceRepositoryURI:                 "https://github.com/acme/widgets",
		SourceRepositoryDigest:              s("sha"),
		SourceRepositoryRef:                 "refs/tags/v1.2.0",
		SourceRepositoryIdentifier:          s("repository_id"),
		SourceRepositoryOwnerURI:            "https://github.com/acme",
		SourceRepositoryOwnerIdentifier:     s("repository_owner_id"),
		BuildConfigURI:                      wantSAN,
		BuildConfigDigest:                   s("workflow_sha"),
		BuildTrigger:                        "push",
		RunInvocationURI:                    "https://github.com/acme/widgets/actions/runs/" + s("run_id") + "/attempts/1",
		SourceRepositoryVisibilityAtSigning: "public",
	}
}

// fileBackedConfig writes a CA and TSA key chain to PEM files and a
// config that serves them, trusting issuer as a github-workflow issuer.
func fileBackedConfig(t *testing.T, issuer string) (configPath, identityPath string) {
	t.Helper()
	dir := t.TempDir()
	kc, err := ca.NewMemoryCA(context.Background(), "Acme Signing", testclock.WallNow(), nil)
	if err != nil {
		t.Fatal(err)
	}
	key := kc.Signer.(pki.LocalSigner).Key
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPath := write("ca-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	chainPath := write("ca-chain.pem", pki.EncodeCertificatesPEM(kc.Chain))
	identityPath = write("identity.yaml", []byte("oidc-issuers:\n  "+issuer+":\n    issuer-url: "+issuer+
		"\n    client-id: sigstore\n    type: github-workflow\n"))
	_, logKey, err := issuancelog.GenerateKey(rand.Reader, "signet.test/log")
	if err != nil {
		t.Fatal(err)
	}
	logKeyPath := write("log.key", []byte(logKey+"\n"))
	configPath = write("signet.yaml", []byte("organization: Acme Signing\ncertificate-lifetime: 10m\nca:\n  type: file\n  key-file: "+
		keyPath+"\n  chain-file: "+chainPath+"\ntsa:\n  type: memory\nlog:\n  dir: "+filepath.Join(dir, "log")+
		"\n  key: "+logKeyPath+"\n  origin: signet.test/log\n"))
	return configPath, identityPath
}

func TestSignAndVerifyWithRealClients(t *testing.T) {
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	claims := releaseClaims()
	iss.SetRunnerClaims(claims)
	configPath, identityPath := fileBackedConfig(t, iss.URL())
	srv := startSignet(t, nil, "--config", configPath, "--identity-config", identityPath)

	dir := t.TempDir()
	artifact := filepath.Join(dir, "widget.tar.gz")
	if err := os.WriteFile(artifact, []byte("the release artifact\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runner := []string{
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken(),
	}
	out := mustRun(t, runner, signetBin, "sign", artifact, "--server", srv.URL)
	if !strings.Contains(out.stdout, wantSAN) {
		t.Errorf("sign did not print the certified identity %s:\n%s", wantSAN, out.stdout)
	}
	bundlePath := artifact + ".sigstore.json"
	trPath := filepath.Join(dir, "trusted_root.json")
	tr := fetch(t, srv.URL+"/api/v1/trustedroot")
	if err := os.WriteFile(trPath, tr, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("signet verify", func(t *testing.T) {
		out := mustRun(t, nil, signetBin, "verify", artifact, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())
		for _, want := range []string{"Verified OK", "BuildSignerURI: " + wantSAN, "DeploymentEnvironment: production"} {
			if !strings.Contains(out.stdout, want) {
				t.Errorf("verify output lacks %q:\n%s", want, out.stdout)
			}
		}
		mustRun(t, nil, signetBin, "verify", artifact, "--server", srv.URL, "--insecure-server-root",
			"--certificate-identity-regexp", "^https://github.com/acme/", "--certificate-oidc-issuer-regexp", ".*")
		// Without the flag, a root the server sends unsigned is refused.
		r := mustFail(t, nil, signetBin, "verify", artifact, "--server", srv.URL,
			"--certificate-identity-regexp", "^https://github.com/acme/", "--certificate-oidc-issuer-regexp", ".*")
		if !strings.Contains(r.stderr, "--server without --tuf-root would trust whatever trusted root the server sends") {
			t.Errorf("verify --server without a pinned root: %s", r.stderr)
		}
	})

	t.Run("sigstore-go with every extension in the policy", func(t *testing.T) {
		trustedRoot, err := root.NewTrustedRootFromJSON(tr)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sgbundle.LoadJSONFromPath(bundlePath)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.NewVerifier(trustedRoot, verify.WithSignedTimestamps(1))
		if err != nil {
			t.Fatal(err)
		}
		want := wantExtensions(iss.URL(), claims)
		sanMatcher, _ := verify.NewSANMatcher(wantSAN, "")
		issuerMatcher, _ := verify.NewIssuerMatcher(iss.URL(), "")
		policyExts := want
		policyExts.Issuer = "" // sigstore-go matches the issuer through issuerMatcher
		id, err := verify.NewCertificateIdentity(sanMatcher, issuerMatcher, policyExts)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(artifact)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := v.Verify(b, verify.NewPolicy(verify.WithArtifact(f), verify.WithCertificateIdentity(id)))
		if err != nil {
			t.Fatalf("sigstore-go: %v", err)
		}
		wrong := policyExts
		wrong.RunnerEnvironment = "self-hosted"
		wrongID, err := verify.NewCertificateIdentity(sanMatcher, issuerMatcher, wrong)
		if err != nil {
			t.Fatal(err)
		}
		content, err := os.ReadFile(artifact)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(content)), verify.WithCertificateIdentity(wrongID)))
		if err == nil || !strings.Contains(err.Error(), "RunnerEnvironment") {
			t.Errorf("a policy asking for a self-hosted runner: err = %v, want an extension mismatch", err)
		}
		got := res.Signature.Certificate.Extensions
		if got != want {
			t.Errorf("extensions:\n got %+v\nwant %+v", got, want)
		}
		if len(res.VerifiedTimestamps) != 1 || time.Since(res.VerifiedTimestamps[0].Timestamp) > time.Minute {
			t.Errorf("verified timestamps: %+v", res.VerifiedTimestamps)
		}
	})

	cosign := cosignPath(t)
	cosignVerify := func(art, identity string) []string {
		return []string{"verify-blob", art, "--bundle", bundlePath, "--trusted-root", trPath,
			"--certificate-identity", identity, "--certificate-oidc-issuer", iss.URL(),
			"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct"}
	}
	t.Run("cosign verify-blob", func(t *testing.T) {
		out := mustRun(t, nil, cosign, cosignVerify(artifact, wantSAN)...)
		if !strings.Contains(out.stderr+out.stdout, "Verified OK") {
			t.Errorf("cosign did not say Verified OK:\n%s%s", out.stdout, out.stderr)
		}
		mustRun(t, nil, cosign, append(cosignVerify(artifact, wantSAN),
			"--certificate-github-workflow-repository", repo, "--certificate-github-workflow-ref", "refs/tags/v1.2.0",
			"--certificate-github-workflow-trigger", "push", "--certificate-github-workflow-name", "Release",
			"--certificate-github-workflow-sha", claims["sha"].(string))...)
	})

	t.Run("tampered artifact and wrong identity fail", func(t *testing.T) {
		tampered := filepath.Join(dir, "tampered.tar.gz")
		if err := os.WriteFile(tampered, []byte("the release artifact, modified\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(bundlePath, tampered+".sigstore.json"); err != nil {
			t.Fatal(err)
		}
		r := mustFail(t, nil, signetBin, "verify", tampered, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 || !strings.Contains(r.stderr, "verification failed") {
			t.Errorf("want a one-line reason, got %q", r.stderr)
		}
		mustFail(t, nil, signetBin, "verify", artifact, "--trusted-root", trPath,
			"--certificate-identity", "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", "--certificate-oidc-issuer", iss.URL())
		mustFail(t, nil, signetBin, "verify", artifact, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com")
		mustFail(t, nil, cosign, cosignVerify(tampered, wantSAN)...)
		mustFail(t, nil, cosign, cosignVerify(artifact, "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main")...)
		mustFail(t, nil, cosign, append(cosignVerify(artifact, wantSAN), "--certificate-github-workflow-repository", "evil/repo")...)
	})

	t.Run("cosign sign-blob through signet's Fulcio and TSA APIs", func(t *testing.T) {
		scPath := filepath.Join(dir, "signing_config.json")
		if err := os.WriteFile(scPath, fetch(t, srv.URL+"/api/v1/signingconfig"), 0o644); err != nil {
			t.Fatal(err)
		}
		token, err := iss.Mint(claims)
		if err != nil {
			t.Fatal(err)
		}
		cosignBundle := filepath.Join(dir, "cosign.sigstore.json")
		mustRun(t, nil, cosign, "sign-blob", artifact, "--signing-config", scPath, "--trusted-root", trPath,
			"--identity-token", token, "--bundle", cosignBundle, "--yes")
		mustRun(t, nil, signetBin, "verify", artifact, "--bundle", cosignBundle, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, bytes.Clone(b), 0o644)
}
