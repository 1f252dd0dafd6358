package e2e

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"
)

// TestTUFOneReplica: cosign, sigstore-go, sigstore-js and signet verify
// signet's bundle with the trusted root they fetch from its TUF
// repository, pinning only the root.json `signet tuf init` wrote; cosign
// also signs with the signing config it gets there. Each refuses a
// tampered target, an expired timestamp and a rolled-back snapshot.
func TestTUFOneReplica(t *testing.T) {
	f := newTUFFixture(t, false)
	srv := startSignet(t, nil, f.serveArgs()...)
	f.sign(t, srv.URL)
	runTUFMatrix(t, f, srv.URL)

	t.Run("no role key in a response or the log", func(t *testing.T) {
		served := string(readFile(t, srv.log))
		ts := fetch(t, srv.URL+"/tuf/timestamp.json")
		v := itoa(metadataVersion(t, ts))
		for _, p := range []string{"/tuf/1.root.json", "/tuf/" + v + ".snapshot.json", "/tuf/" + v + ".targets.json"} {
			served += string(fetch(t, srv.URL+p))
		}
		served += string(ts)
		for _, key := range []string{filepath.Join(filepath.Dir(f.config), "signet-tuf.key"), filepath.Join(f.dir, "tuf-root.key")} {
			block, _ := pem.Decode(readFile(t, key))
			if block == nil {
				t.Fatalf("%s holds no PEM key", key)
			}
			seed := block.Bytes[len(block.Bytes)-ed25519.SeedSize:]
			for _, enc := range []string{hex.EncodeToString(seed), base64.StdEncoding.EncodeToString(seed),
				base64.StdEncoding.EncodeToString(block.Bytes)} {
				if strings.Contains(served, enc) {
					t.Errorf("the private key of %s appears in a response or the log", filepath.Base(key))
				}
			}
		}
	})

	t.Run("cosign signs with the signing config from TUF", func(t *testing.T) {
		cosign, cache := cosignPath(t), t.TempDir()
		env := []string{"HOME=" + cache, "TUF_ROOT=" + filepath.Join(cache, "tuf")}
		mustRun(t, env, cosign, "initialize", "--mirror", srv.URL+"/tuf", "--root", f.root)
		tok, err := f.iss.Mint(f.claims)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(f.dir, "cosign-tuf.sigstore.json")
		mustRun(t, env, cosign, "sign-blob", f.artifact, "--identity-token", tok, "--bundle", out, "--yes")
		mustRun(t, env, cosign, "verify-blob", f.artifact, "--bundle", out, "--certificate-identity", wantSAN,
			"--certificate-oidc-issuer", f.iss.URL(), "--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")
		mustRun(t, nil, signetBin, "verify", f.artifact, "--bundle", out, "--server", srv.URL, "--tuf-root", f.root,
			"--tuf-cache", t.TempDir(), "--certificate-identity", wantSAN, "--certificate-oidc-issuer", f.iss.URL())
	})
}

// TestTUFReplicasBehindHAProxy: two replicas of one configuration behind
// a real HAProxy serve the same metadata bytes; clients that alternate
// between them across many metadata versions never see one go backwards;
// every client verifies, and refuses the attacks, through the balancer.
func TestTUFReplicasBehindHAProxy(t *testing.T) {
	f := newTUFFixture(t, true)
	// Replicas behind a balancer name it as their public URL: it is in
	// the trusted root and the signing config they serve.
	lbAddr := freeAddr(t)
	f.setPublicURL(t, "http://"+lbAddr)
	replicas := []*signetServer{startSignet(t, nil, f.serveArgs()...), startSignet(t, nil, f.serveArgs()...)}
	lb := startBalancer(t, lbAddr, "/readyz", []string{replicas[0].URL, replicas[1].URL})
	f.sign(t, lb.URL())

	t.Run("replicas serve the same bytes", func(t *testing.T) {
		same := func(path string) {
			for range 10 { // the two reads may straddle a period boundary
				a, b := fetch(t, replicas[0].URL+path), fetch(t, replicas[1].URL+path)
				if bytes.Equal(a, b) {
					return
				}
				if metadataVersion(t, a) == metadataVersion(t, b) {
					t.Fatalf("%s: the replicas sign version %d differently", path, metadataVersion(t, a))
				}
			}
			t.Fatalf("%s: the replicas never served the same version", path)
		}
		for _, p := range []string{"/api/v1/trustedroot", "/api/v1/signingconfig"} {
			if a, b := fetch(t, replicas[0].URL+p), fetch(t, replicas[1].URL+p); !bytes.Equal(a, b) {
				t.Fatalf("the replicas' %s differ:\n%s\n%s", p, a, b)
			}
		}
		same("/tuf/timestamp.json")
		ts := fetch(t, replicas[0].URL+"/tuf/timestamp.json")
		v := metadataVersion(t, ts)
		for _, p := range []string{"/tuf/1.root.json", "/tuf/" + itoa(v) + ".snapshot.json", "/tuf/" + itoa(v) + ".targets.json"} {
			if a, b := fetch(t, replicas[0].URL+p), fetch(t, replicas[1].URL+p); !bytes.Equal(a, b) {
				t.Errorf("%s differs between the replicas", p)
			}
		}
	})

	t.Run("a client alternating between replicas never goes backwards", func(t *testing.T) {
		rootJSON := readFile(t, f.root)
		cache := t.TempDir()
		seen := map[int64]bool{}
		deadline := time.Now().Add(4 * time.Second)
		for n := 0; time.Now().Before(deadline); n++ {
			opts := tuf.DefaultOptions().WithRoot(rootJSON).WithRepositoryBaseURL(lb.URL() + "/tuf").WithCachePath(cache).WithCacheValidity(tuf.NoCache)
			c, err := tuf.New(opts)
			if err != nil {
				t.Fatalf("refresh %d through the balancer: %v", n, err)
			}
			if _, err := c.GetTarget("trusted_root.json"); err != nil {
				t.Fatalf("refresh %d: %v", n, err)
			}
			seen[metadataVersion(t, readFile(t, filepath.Join(cache, tuf.URLToPath(lb.URL()+"/tuf"), "timestamp.json")))] = true
			time.Sleep(100 * time.Millisecond)
		}
		if len(seen) < 3 {
			t.Fatalf("saw %d timestamp versions in 4 s, want several (period 1s)", len(seen))
		}
	})

	runTUFMatrix(t, f, lb.URL())
}

// runTUFMatrix runs every TUF client against upstream through a mirror:
// faithful, then tampering with a target, replaying an expired timestamp,
// and rolling a snapshot back. Each attacked client must fail and say why.
func runTUFMatrix(t *testing.T, f *tufFixture, upstream string) {
	t.Helper()
	m := startMirror(t, upstream)
	oldTimestamp := fetch(t, upstream+"/tuf/timestamp.json")
	clients := tufClients(t)
	for _, c := range clients {
		t.Run(c.name+" verifies over TUF", func(t *testing.T) {
			if ok, out := c.verify(t, f, m.URL, t.TempDir()); !ok {
				t.Fatalf("%s failed:\n%s", c.name, out)
			}
		})
	}
	waitExpired(t, oldTimestamp)
	for _, a := range []struct {
		name string
		// attack returns how the mirror changes what it relays; it is
		// made anew for each client, just before that client runs.
		attack func(t *testing.T) func(path string, body []byte) []byte
		want   map[string]string // client name: what its refusal says
	}{
		{"tampered target", func(*testing.T) func(string, []byte) []byte {
			return func(path string, b []byte) []byte {
				if strings.HasPrefix(path, "/tuf/targets/") {
					return tampered(b)
				}
				return b
			}
		}, map[string]string{"signet verify": "hash verification failed", "sigstore-go": "hash verification failed",
			"cosign": "wrong sha256 hash", "sigstore-js": "Expected hash"}},
		{"expired timestamp", func(*testing.T) func(string, []byte) []byte {
			return func(path string, b []byte) []byte {
				if path == "/tuf/timestamp.json" {
					return oldTimestamp
				}
				return b
			}
		}, map[string]string{"signet verify": "timestamp.json is expired", "sigstore-go": "timestamp.json is expired",
			"cosign": "failed to decode timestamp.json: expired", "sigstore-js": "Final timestamp.json is expired"}},
		{"rolled-back snapshot", func(t *testing.T) func(string, []byte) []byte {
			// A snapshot still valid, but older than the one the current
			// timestamp names.
			old := fetch(t, upstream+"/tuf/snapshot.json")
			for metadataVersion(t, fetch(t, upstream+"/tuf/timestamp.json")) <= metadataVersion(t, old) {
				time.Sleep(100 * time.Millisecond)
			}
			return func(path string, b []byte) []byte {
				if strings.HasSuffix(path, ".snapshot.json") {
					return old
				}
				return b
			}
		}, map[string]string{"signet verify": "bad version number", "sigstore-go": "bad version number",
			"cosign": "wrong version", "sigstore-js": "Snapshot version doesn't match timestamp"}},
	} {
		for _, c := range clients {
			t.Run(c.name+" refuses a "+a.name, func(t *testing.T) {
				m.set(a.attack(t))
				defer m.set(nil)
				ok, out := c.verify(t, f, m.URL, t.TempDir())
				if ok {
					t.Fatalf("%s accepted a %s:\n%s", c.name, a.name, out)
				}
				if !strings.Contains(out, a.want[c.name]) {
					t.Errorf("%s refused, but not because %q:\n%s", c.name, a.want[c.name], out)
				}
			})
		}
	}
}

// waitExpired sleeps until TUF metadata b has expired.
func waitExpired(t *testing.T, b []byte) {
	t.Helper()
	var m struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	d := time.Until(m.Signed.Expires) + time.Second
	if d > 10*time.Second {
		t.Fatalf("metadata expires at %s, too late for this test", m.Signed.Expires)
	}
	time.Sleep(d)
}

// readFile reads a file the test needs.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// itoa formats a metadata version.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestExpiredTUFRootDoesNotStopSigning: a TUF root past its expiry (here
// signed to last two seconds) takes the TUF repository down with a 503
// naming why, and a log line, but signet starts and signs.
func TestExpiredTUFRootDoesNotStopSigning(t *testing.T) {
	f := newTUFFixture(t, false)
	mustRun(t, nil, signetBin, "tuf", "init", "--config", f.config, "--root-key", filepath.Join(f.dir, "tuf-root.key"), "--force", "--expires", "2s")
	time.Sleep(2500 * time.Millisecond)
	srv := startSignet(t, nil, f.serveArgs()...)
	f.sign(t, srv.URL)
	resp, err := http.Get(srv.URL + "/tuf/timestamp.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "its root has expired") {
		t.Errorf("/tuf/timestamp.json under an expired root = %d %s, want 503 naming the expired root", resp.StatusCode, body)
	}
	if !strings.Contains(string(readFile(t, srv.log)), "the TUF repository is not served; signing goes on") {
		t.Error("the log does not say the TUF repository is down")
	}
}
