package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// tamperChecks alters the stopped server's log directory in the ways an
// attacker or a broken disk would, and checks that `signet audit` and
// `signet serve` refuse each with a message naming the problem. state is
// where an audit run kept the genuine checkpoint; otherKey is a note
// private key of another log with the same origin.
func tamperChecks(t *testing.T, f *logFixture, state, bundlePath, otherKey string) {
	cpPath := filepath.Join(f.logDir, "checkpoint")
	genuine, err := os.ReadFile(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(genuine), "\n", 4)
	if len(lines) < 4 {
		t.Fatalf("checkpoint %q is not origin, size, root and signatures", genuine)
	}
	restore := func() {
		if err := os.WriteFile(cpPath, genuine, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("altered checkpoint", func(t *testing.T) {
		defer restore()
		altered := lines[0] + "\n" + lines[1] + "\n" + flipBase64(lines[2], 5) + "\n" + lines[3]
		if err := os.WriteFile(cpPath, []byte(altered), 0o644); err != nil {
			t.Fatal(err)
		}
		mustFailWith(t, "checkpoint signature is invalid", nil, signetBin, "audit", "verify", "--server", f.logDir,
			"--log-key", f.vkey, "--state", state)
		mustFailWith(t, "checkpoint signature is invalid", nil, signetBin, "audit", "verify", "--server", "file://"+f.logDir,
			"--log-key", f.vkey, "--state", state)
		out := f.serveMustRefuse(t, f.config)
		for _, want := range []string{"refusing to append", "checkpoint signature is invalid", f.logDir} {
			if !strings.Contains(out, want) {
				t.Errorf("signet serve on an altered checkpoint: output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("history rewritten under the log key", func(t *testing.T) {
		// The log's own key signs another root for the same size: what an
		// operator rewriting history (or a stolen key) would publish.
		defer restore()
		signer, err := note.NewSigner(f.skey)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := note.Sign(&note.Note{Text: lines[0] + "\n" + lines[1] + "\n" + flipBase64(lines[2], 5) + "\n"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cpPath, forged, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"verify", "search"} {
			r := mustFail(t, nil, signetBin, "audit", cmd, "--server", f.logDir, "--log-key", f.vkey, "--state", state)
			for _, want := range []string{"not consistent with the checkpoint seen before", "two different roots"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("audit %s of a rewritten log: stderr lacks %q:\n%s", cmd, want, r.stderr)
				}
			}
			if r.code != 4 {
				t.Errorf("audit %s of a rewritten log: exit %d, want 4 (inconsistent)", cmd, r.code)
			}
		}
		mustFailWith(t, "tiles and checkpoint of", nil, signetBin, "audit", "prove", "--server", f.logDir,
			"--log-key", f.vkey, "--bundle", bundlePath, "--wait", "1s")
		out := f.serveMustRefuse(t, f.config)
		for _, want := range []string{"not to the root", "of its signed checkpoint", f.logDir} {
			if !strings.Contains(out, want) {
				t.Errorf("signet serve on a rewritten checkpoint: output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("corrupt tiles", func(t *testing.T) {
		// A copy of the log whose hash tiles are corrupt: every leaf hash of
		// level 0 changed, the entries and the checkpoint left genuine.
		tampered := filepath.Join(t.TempDir(), "log")
		copyTree(t, f.logDir, tampered)
		var n int
		err := filepath.WalkDir(filepath.Join(tampered, "tile", "0"), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for i := 0; i < len(b); i += 32 {
				b[i] ^= 0x01
			}
			n++
			return os.WriteFile(p, b, 0o644)
		})
		if err != nil || n == 0 {
			t.Fatalf("corrupting tiles under %s: %d files, %v", tampered, n, err)
		}
		mustFailWith(t, "tiles and checkpoint of", nil, signetBin, "audit", "prove", "--server", tampered,
			"--log-key", f.vkey, "--bundle", bundlePath, "--wait", "1s")
		out := f.serveMustRefuse(t, f.writeConfig(t, "tampered-tiles.yaml", tampered, f.logKey, ""))
		for _, want := range []string{"the tiles are corrupt", tampered} {
			if !strings.Contains(out, want) {
				t.Errorf("signet serve on corrupt tiles: output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("another log's key", func(t *testing.T) {
		otherKeyFile := f.write(t, "other-log.key", []byte(otherKey+"\n"))
		out := f.serveMustRefuse(t, f.writeConfig(t, "other-key.yaml", f.logDir, otherKeyFile, ""))
		for _, want := range []string{"not signed by the pinned log key", "belongs to another log", f.logDir} {
			if !strings.Contains(out, want) {
				t.Errorf("signet serve with another log's key: output lacks %q:\n%s", want, out)
			}
		}
	})

	// The genuine directory, restored, is accepted again and the kept
	// checkpoint still verifies against it.
	r := mustRun(t, nil, signetBin, "audit", "verify", "--server", f.logDir, "--log-key", f.vkey, "--state", state)
	wantOutput(t, r, "consistent with ")
}
