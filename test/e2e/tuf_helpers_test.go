package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/tsa"
)

// tufFixture is a mock GitHub issuer, a file-backed signet configuration
// with a TUF repository made by the real `signet tuf init`, and a bundle
// `signet sign` made over an artifact.
type tufFixture struct {
	iss       *oidcmock.Issuer
	claims    map[string]any
	dir       string
	config    string // signet.yaml, tuf block included
	identity  string // the Fulcio identity config
	root      string // root.json `signet tuf init` wrote, which clients pin
	artifact  string
	signed    string // `signet sign` over artifact
	runnerEnv []string
}

// tufTestBlock makes metadata versions change every second and expire
// four seconds after their period starts, so a test sees several versions
// and an expired timestamp within seconds.
const tufTestBlock = "tuf:\n  period: 1s\n  expiry: 4s\n"

// newTUFFixture writes the configuration (the issuance log off when
// logOff, for replicas sharing the file) and runs `signet tuf init`.
func newTUFFixture(t *testing.T, logOff bool) *tufFixture {
	t.Helper()
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	f := &tufFixture{iss: iss, claims: releaseClaims(), dir: t.TempDir()}
	iss.SetRunnerClaims(f.claims)
	f.config, f.identity = fileBackedConfig(t, iss.URL())
	b, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if logOff {
		// Replicas: one TSA key for all (a memory key would differ in
		// each, and so would their trusted roots), one log would need
		// a shared directory; it is off here.
		doc = strings.Replace(doc[:strings.Index(doc, "log:\n")], "tsa:\n  type: memory\n", f.tsaFiles(t), 1) + "log:\n  type: off\n"
	}
	if err := os.WriteFile(f.config, []byte(doc+tufTestBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	rootKey := filepath.Join(f.dir, "tuf-root.key")
	out := mustRun(t, nil, signetBin, "tuf", "init", "--config", f.config, "--root-key", rootKey)
	wantOutput(t, out, "Made the TUF root key", "Wrote the TUF root", "cosign initialize --mirror")
	mustFailWith(t, "--force", nil, signetBin, "tuf", "init", "--config", f.config, "--root-key", rootKey)
	mustRun(t, nil, signetBin, "tuf", "init", "--config", f.config, "--root-key", rootKey, "--force")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	p384Path := f.write(t, "p384.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	mustFailWith(t, "must be Ed25519 or ECDSA P-256", nil, signetBin, "tuf", "init", "--config", f.config,
		"--root-key", p384Path, "--force")
	// A root written elsewhere than the tuf.root the server serves would be
	// pinned by verifiers and never served.
	mustFailWith(t, "is not the config's tuf.root", nil, signetBin, "tuf", "init", "--config", f.config,
		"--root-key", rootKey, "--out", filepath.Join(f.dir, "other-root.json"))
	f.root = filepath.Join(filepath.Dir(f.config), "tuf-root.json")
	f.artifact = f.write(t, "widget.tar.gz", []byte("the release artifact\n"))
	f.runnerEnv = []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken()}
	return f
}

// tsaFiles writes a TSA key and chain and returns their tsa: block.
func (f *tufFixture) tsaFiles(t *testing.T) string {
	t.Helper()
	kc, err := tsa.NewDevChain("Acme Signing", testclock.WallNow(), nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(kc.Signer.(pki.LocalSigner).Key)
	if err != nil {
		t.Fatal(err)
	}
	key := f.write(t, "tsa-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	chain := f.write(t, "tsa-chain.pem", pki.EncodeCertificatesPEM(kc.Chain))
	return "tsa:\n  type: file\n  key-file: " + key + "\n  chain-file: " + chain + "\n"
}

// setPublicURL sets the configuration's public-url.
func (f *tufFixture) setPublicURL(t *testing.T, u string) {
	t.Helper()
	b, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.config, append([]byte("public-url: "+u+"\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveArgs are the arguments of `signet serve` for this configuration.
func (f *tufFixture) serveArgs() []string {
	return []string{"--config", f.config, "--identity-config", f.identity}
}

// sign makes f.signed through server.
func (f *tufFixture) sign(t *testing.T, server string) {
	t.Helper()
	f.signed = filepath.Join(f.dir, "widget.sigstore.json")
	mustRun(t, f.runnerEnv, signetBin, "sign", f.artifact, "--server", server, "--bundle", f.signed)
}

func (f *tufFixture) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tufClient verifies f.signed with one real client over the TUF
// repository at base (a server or mirror URL), with its cache in cache;
// it returns the client's output and whether it succeeded.
type tufClient struct {
	name   string
	verify func(t *testing.T, f *tufFixture, base, cache string) (ok bool, out string)
}

// tufClients are the clients of the TUF repository: signet verify,
// sigstore-go's tuf client, cosign v3 (initialize, then verify-blob with
// no trusted root) and sigstore-js (sigstore.verify with tufMirrorURL).
func tufClients(t *testing.T) []tufClient {
	cosign, node, jsDir := cosignPath(t), nodePath(t), sigstoreJSDir(t)
	return []tufClient{
		{"signet verify", func(t *testing.T, f *tufFixture, base, cache string) (bool, string) {
			r := run(t, nil, signetBin, "verify", f.artifact, "--bundle", f.signed, "--server", base,
				"--tuf-root", f.root, "--tuf-cache", cache, "--certificate-identity", wantSAN, "--certificate-oidc-issuer", f.iss.URL())
			return r.code == 0, r.stdout + r.stderr
		}},
		{"sigstore-go", func(t *testing.T, f *tufFixture, base, cache string) (bool, string) {
			err := sigstoreGoOverTUF(f, base, cache)
			if err != nil {
				return false, err.Error()
			}
			return true, ""
		}},
		{"cosign", func(t *testing.T, f *tufFixture, base, cache string) (bool, string) {
			env := []string{"HOME=" + cache, "TUF_ROOT=" + filepath.Join(cache, "tuf")}
			r := run(t, env, cosign, "initialize", "--mirror", base+"/tuf", "--root", f.root)
			if r.code != 0 {
				return false, r.stdout + r.stderr
			}
			r = run(t, env, cosign, "verify-blob", f.artifact, "--bundle", f.signed, "--certificate-identity", wantSAN,
				"--certificate-oidc-issuer", f.iss.URL(), "--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")
			return r.code == 0, r.stdout + r.stderr
		}},
		{"sigstore-js", func(t *testing.T, f *tufFixture, base, cache string) (bool, string) {
			r := run(t, nil, node, filepath.Join(jsDir, "verify.mjs"), "--bundle", f.signed, "--artifact", f.artifact,
				"--tuf-mirror", base+"/tuf", "--tuf-root", f.root, "--tuf-cache", cache, "--identity", wantSAN, "--issuer", f.iss.URL())
			return r.code == 0, r.stdout + r.stderr
		}},
	}
}

// sigstoreGoOverTUF fetches the trusted root and the signing config with
// sigstore-go's TUF client and verifies f.signed against that root.
func sigstoreGoOverTUF(f *tufFixture, base, cache string) error {
	rootJSON, err := os.ReadFile(f.root)
	if err != nil {
		return err
	}
	opts := tuf.DefaultOptions().WithRoot(rootJSON).WithRepositoryBaseURL(base + "/tuf").WithCachePath(cache).WithCacheValidity(tuf.NoCache)
	if _, err := root.FetchTrustedRootWithOptions(opts); err != nil {
		return err
	}
	c, err := tuf.New(opts)
	if err != nil {
		return err
	}
	if _, err := root.GetSigningConfig(c); err != nil {
		return err
	}
	tr, err := c.GetTarget("trusted_root.json")
	if err != nil {
		return err
	}
	b, err := os.ReadFile(f.signed)
	if err != nil {
		return err
	}
	a, err := os.Open(f.artifact)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = bundle.Verify(b, tr, a, bundle.Identity{SAN: wantSAN, Issuer: f.iss.URL()})
	return err
}

// mirror relays a signet server's TUF repository, and changes what it
// relays while an attack is set: the man in the middle a TUF client must
// withstand.
type mirror struct {
	URL      string
	upstream string
	mu       sync.Mutex
	attack   func(path string, body []byte) []byte
}

// startMirror relays upstream until the test ends.
func startMirror(t *testing.T, upstream string) *mirror {
	m := &mirror{upstream: upstream}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

func (m *mirror) serve(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(m.upstream + r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	m.mu.Lock()
	attack := m.attack
	m.mu.Unlock()
	if attack != nil && resp.StatusCode == http.StatusOK {
		body = attack(r.URL.Path, body)
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// set makes the mirror relay through attack (nil: faithfully).
func (m *mirror) set(attack func(path string, body []byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attack = attack
}

// metadataVersion is the signed version of TUF metadata.
func metadataVersion(t *testing.T, b []byte) int64 {
	t.Helper()
	var m struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Signed.Version == 0 {
		t.Fatalf("not TUF metadata (%v): %.200s", err, b)
	}
	return m.Signed.Version
}

// tampered returns a copy of b with its last byte changed.
func tampered(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 0x01
	return c
}
