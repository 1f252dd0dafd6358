package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/tsa"
)

// logOrigin is the origin of the issuance log of the log tests.
const logOrigin = "signet.test/log"

// otherRepo is a second GitHub repository of the mock issuer, so that the
// log holds certificates of two identities.
const otherRepo = "acme/gadgets"

// otherSAN is the identity of otherRepo's release workflow on main, as
// oidcmock.GitHubClaims has it.
const otherSAN = "https://github.com/acme/gadgets/.github/workflows/release.yml@refs/heads/main"

// logFixture is a mock GitHub issuer and a signet config with file CA
// and TSA keys and a POSIX issuance log, in a temporary directory.
type logFixture struct {
	iss            *oidcmock.Issuer
	dir            string
	config         string // signet.yaml
	identity       string // the identity config trusting iss
	logDir, logKey string // log.dir and log.key
	skey, vkey     string // the log's note private and verifier keys
	keysYAML       string // the ca and tsa blocks of the config
}

// newLogFixture starts the issuer and writes the keys and the config;
// logExtra is appended to the log block (indented YAML lines).
func newLogFixture(t *testing.T, logExtra string) *logFixture {
	t.Helper()
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	f := &logFixture{iss: iss, dir: t.TempDir()}
	now := testclock.WallNow()
	caChain, err := ca.NewMemoryCA(context.Background(), "Acme Signing", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tsaChain, err := tsa.NewDevChain("Acme Signing", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeChain := func(name string, kc pki.KeyChain) (keyPath, chainPath string) {
		der, err := x509.MarshalPKCS8PrivateKey(kc.Signer.(pki.LocalSigner).Key)
		if err != nil {
			t.Fatal(err)
		}
		keyPath = f.write(t, name+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		chainPath = f.write(t, name+"-chain.pem", pki.EncodeCertificatesPEM(kc.Chain))
		return keyPath, chainPath
	}
	caKey, caChainPath := writeChain("ca", caChain)
	tsaKey, tsaChainPath := writeChain("tsa", tsaChain)

	signer, skey, err := issuancelog.GenerateKey(rand.Reader, logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	f.skey, f.vkey = skey, signer.VerifierKey()
	f.logKey = f.write(t, "log.key", []byte(skey+"\n"))
	f.logDir = filepath.Join(f.dir, "log")
	f.identity = f.write(t, "identity.yaml", []byte("oidc-issuers:\n  "+iss.URL()+":\n    issuer-url: "+iss.URL()+
		"\n    client-id: sigstore\n    type: github-workflow\n"))
	f.keysYAML = "ca:\n  type: file\n  key-file: " + caKey + "\n  chain-file: " + caChainPath +
		"\ntsa:\n  type: file\n  key-file: " + tsaKey + "\n  chain-file: " + tsaChainPath + "\n"
	f.config = f.writeConfig(t, "signet.yaml", f.logDir, f.logKey, logExtra)
	return f
}

// writeConfig writes a config named name with f's CA and TSA keys and
// a log block of the directory logDir, f's origin and the key file logKey,
// plus logExtra.
func (f *logFixture) writeConfig(t *testing.T, name, logDir, logKey, logExtra string) string {
	t.Helper()
	return f.write(t, name, []byte("organization: Acme Signing\ncertificate-lifetime: 10m\n"+f.keysYAML+
		"log:\n  dir: "+logDir+"\n  key: "+logKey+"\n  origin: "+logOrigin+"\n"+logExtra))
}

func (f *logFixture) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// token mints an identity token of claims.
func (f *logFixture) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok, err := f.iss.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serveArgs are the arguments of `signet serve` on f's config.
func (f *logFixture) serveArgs() []string {
	return []string{"--config", f.config, "--identity-config", f.identity}
}

// serveMustRefuse runs `signet serve --config config` that must exit with
// an error within 20s, and returns its output.
func (f *logFixture) serveMustRefuse(t *testing.T, config string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, signetBin, "serve", "--config", config, "--identity-config", f.identity, "--addr", freeAddr(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("signet serve --config %s was still running after 20s, want a refusal to start:\n%s", config, out.String())
	case err == nil:
		t.Fatalf("signet serve --config %s exited 0, want a refusal to start:\n%s", config, out.String())
	}
	return out.String()
}

// logHTTP is the HTTP client of the log tests' requests.
var logHTTP = &http.Client{Timeout: 30 * time.Second}

// issuedCert is a certificate signet returned, with its log index.
type issuedCert struct {
	via    string
	der    []byte
	index  uint64
	bundle []byte // the bundle of /api/v1/sign, else nil
}

// logIndexOf reads the Signet-Log-Index header of a certificate response.
func logIndexOf(t *testing.T, via string, h http.Header) uint64 {
	t.Helper()
	v := h.Get("Signet-Log-Index")
	if v == "" {
		t.Fatalf("%s: the response has no Signet-Log-Index header", via)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: Signet-Log-Index %q: %v", via, v, err)
	}
	return n
}

// keyAndProof makes an ephemeral P-256 key and its proof of possession
// over token's challenge, with the key as PEM.
func keyAndProof(t *testing.T, token string) (pubPEM string, proof []byte) {
	t.Helper()
	challenge, err := client.TokenChallenge(token)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(challenge))
	if proof, err = ecdsa.SignASN1(rand.Reader, key, h[:]); err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), proof
}

// postCert POSTs a certificate request and returns the status, headers
// and body.
func postCert(t *testing.T, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := logHTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, out
}

// firstPEMCert returns the first certificate of PEM text.
func firstPEMCert(t *testing.T, via string, text []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(text)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate in %q", via, text)
	}
	return block.Bytes
}

// certifyV2 asks Fulcio's POST /api/v2/signingCert for a certificate.
func certifyV2(t *testing.T, server, token string) issuedCert {
	t.Helper()
	code, h, body := postV2(t, server, token)
	if code != http.StatusOK {
		t.Fatalf("POST /api/v2/signingCert: %d %s", code, body)
	}
	return issuedFromV2(t, h, body)
}

// certifyV1 asks the legacy POST /api/v1/signingCert for a certificate.
func certifyV1(t *testing.T, server, token string) issuedCert {
	t.Helper()
	pub, proof := keyAndProof(t, token)
	code, h, body := postCert(t, server+"/api/v1/signingCert", token, map[string]any{
		"publicKey":          map[string]string{"algorithm": "ecdsa", "content": pub},
		"signedEmailAddress": base64.StdEncoding.EncodeToString(proof),
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/signingCert: %d %s", code, body)
	}
	const via = "/api/v1/signingCert"
	return issuedCert{via: via, der: firstPEMCert(t, via, body), index: logIndexOf(t, via, h)}
}

// signOneShot signs a digest through POST /api/v1/sign with signet's own
// client, which reads the Signet-Log-Index header.
func signOneShot(ctx context.Context, hc *http.Client, server, token string, n int) (issuedCert, error) {
	c := client.Client{BaseURL: server, HTTP: hc}
	signed, err := c.SignArtifact(ctx, token, sha256.Sum256([]byte(fmt.Sprintf("artifact %d", n))))
	if err != nil {
		return issuedCert{}, err
	}
	if signed.LogIndex < 0 {
		return issuedCert{}, fmt.Errorf("/api/v1/sign: the response has no Signet-Log-Index header")
	}
	return issuedCert{via: "/api/v1/sign", der: signed.Leaf.Raw, index: uint64(signed.LogIndex), bundle: signed.Bundle}, nil
}

// checkUniqueIndices fails the test when two certificates share an index.
func checkUniqueIndices(t *testing.T, certs []issuedCert) {
	t.Helper()
	seen := map[uint64]string{}
	for _, c := range certs {
		if other, dup := seen[c.index]; dup {
			t.Errorf("log index %d was returned twice: by %s and by %s", c.index, other, c.via)
		}
		seen[c.index] = c.via
	}
}

// flipBase64 changes the character at i of a base64 string to another
// base64 character, so that the text still decodes.
func flipBase64(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// signThroughReplicas signs perReplica artifacts through each replica, with
// four workers at once, a fresh token each, requests spread round-robin.
// It returns what was issued and the requests that failed.
func signThroughReplicas(t *testing.T, f *logFixture, replicas []*logProc, perReplica int, claims map[string]any) ([]issuedCert, []error) {
	t.Helper()
	const workers = 4
	var (
		mu       sync.Mutex
		certs    []issuedCert
		failures []error
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < perReplica*len(replicas); i += workers {
				p := replicas[i%len(replicas)]
				tok, err := f.iss.Mint(claims)
				if err == nil {
					var c issuedCert
					if c, err = signOneShot(context.Background(), logHTTP, p.URL, tok, i); err == nil {
						c.via = fmt.Sprintf("%s (request %d)", p.URL, i)
						mu.Lock()
						certs = append(certs, c)
						mu.Unlock()
						continue
					}
				}
				mu.Lock()
				failures = append(failures, fmt.Errorf("request %d through %s: %w", i, p.URL, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return certs, failures
}
