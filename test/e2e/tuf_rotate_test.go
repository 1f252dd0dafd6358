package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTUFRootRotation: `signet tuf rotate-root` signs root version 2 under
// a new root key and keeps version 1 beside it; a server started on them
// serves both, and clients that pinned version 1 (signet verify with its
// old cache and with a fresh one, and cosign) walk to version 2 and
// verify. The old root key can no longer rotate, and a server missing an
// earlier version refuses to start, naming it.
func TestTUFRootRotation(t *testing.T) {
	f := newTUFFixture(t, true)
	v1 := readFile(t, f.root)
	pinned := filepath.Join(f.dir, "pinned-root-v1.json")
	if err := os.WriteFile(pinned, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	before := startSignet(t, nil, f.serveArgs()...)
	f.sign(t, before.URL)
	cache := t.TempDir()
	verify := func(srv *signetServer, cache string) {
		t.Helper()
		mustRun(t, nil, signetBin, "verify", f.artifact, "--bundle", f.signed, "--server", srv.URL, "--tuf-root", pinned,
			"--tuf-cache", cache, "--certificate-identity", wantSAN, "--certificate-oidc-issuer", f.iss.URL())
	}
	verify(before, cache)

	oldKey, newKey := filepath.Join(f.dir, "tuf-root.key"), filepath.Join(f.dir, "tuf-root-2.key")
	out := mustRun(t, nil, signetBin, "tuf", "rotate-root", "--config", f.config, "--root-key", oldKey, "--new-root-key", newKey)
	kept := filepath.Join(filepath.Dir(f.root), "1.root.json")
	wantOutput(t, out, "Made the new TUF root key", "Wrote TUF root version 2 to "+f.root, "version 1 is kept in "+kept)
	if !bytes.Equal(readFile(t, kept), v1) {
		t.Fatal("1.root.json is not the root version 1 clients pinned")
	}
	v2 := readFile(t, f.root)
	// The old key no longer rotates, and its failed try leaves no new key.
	third := filepath.Join(f.dir, "tuf-root-3.key")
	mustFailWith(t, "does not hold the root role of version 2", nil, signetBin, "tuf", "rotate-root", "--config", f.config,
		"--root-key", oldKey, "--new-root-key", third)
	if _, err := os.Stat(third); !os.IsNotExist(err) {
		t.Errorf("a refused rotation left the new root key %s behind (%v)", third, err)
	}
	mustFailWith(t, "a root must last at least a day", nil, signetBin, "tuf", "rotate-root", "--config", f.config,
		"--root-key", newKey, "--expires", "1h")
	// A new version 1 would not follow the kept versions.
	mustFailWith(t, "earlier root versions (N.root.json) lie beside", nil, signetBin, "tuf", "init", "--config", f.config,
		"--root-key", oldKey, "--force")

	after := startSignet(t, nil, f.serveArgs()...)
	if got := fetch(t, after.URL+"/tuf/1.root.json"); !bytes.Equal(got, v1) {
		t.Error("/tuf/1.root.json is not root version 1")
	}
	if got := fetch(t, after.URL+"/tuf/2.root.json"); !bytes.Equal(got, v2) {
		t.Error("/tuf/2.root.json is not root version 2")
	}
	verify(after, cache)       // the cache of version 1 walks to version 2
	verify(after, t.TempDir()) // and so does a fresh client pinned to version 1
	home := t.TempDir()
	env := []string{"HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf")}
	cosign := cosignPath(t)
	mustRun(t, env, cosign, "initialize", "--mirror", after.URL+"/tuf", "--root", pinned)
	mustRun(t, env, cosign, "verify-blob", f.artifact, "--bundle", f.signed, "--certificate-identity", wantSAN,
		"--certificate-oidc-issuer", f.iss.URL(), "--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")

	// A new online key (a leaked one, or metadata signed far ahead):
	// version 3 names it, tuf.key follows, and clients pinned to version 1
	// still reach it.
	online2 := filepath.Join(f.dir, "tuf-online-2.key")
	out = mustRun(t, nil, signetBin, "tuf", "rotate-root", "--config", f.config, "--root-key", newKey, "--online-key", online2)
	wantOutput(t, out, "Wrote TUF root version 3")
	if cfg := string(readFile(t, f.config)); !strings.Contains(cfg, "key: "+online2) {
		t.Fatalf("rotate-root --online-key did not write tuf.key:\n%s", cfg)
	}
	v3 := readFile(t, f.root)
	if !bytes.Equal(readFile(t, filepath.Join(filepath.Dir(f.root), "2.root.json")), v2) {
		t.Error("version 2 is not kept beside version 3")
	}
	onNewKey := startSignet(t, nil, f.serveArgs()...)
	verify(onNewKey, cache)
	verify(onNewKey, t.TempDir())

	if err := os.Remove(kept); err != nil {
		t.Fatal(err)
	}
	mustFailWith(t, "root version 1 is missing", nil, signetBin, append([]string{"serve", "--addr", freeAddr(t)}, f.serveArgs()...)...)
	// Nor does a rotation write a version clients could not reach.
	mustFailWith(t, "root version 1 is missing", nil, signetBin, "tuf", "rotate-root", "--config", f.config, "--root-key", newKey)
	if !bytes.Equal(readFile(t, f.root), v3) {
		t.Error("a refused rotation changed tuf.root")
	}
}
