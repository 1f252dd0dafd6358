package issuancelog_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// fill makes a log of n entries in dir, signed by s, and closes it.
func fill(t *testing.T, dir string, s issuancelog.Signer, n int) {
	t.Helper()
	ca := logtest.NewCA(t)
	l := logtest.Open(t, logtest.Config(dir), s)
	for range n {
		logtest.Append(t, l, ca.Leaf(t, "alice@example.com", "https://issuer.example"))
	}
	logtest.Close(t, l)
}

// TestOpenRefuses refuses directories that are not this log's, or are
// damaged, naming the problem, and leaves them as they were.
func TestOpenRefuses(t *testing.T) {
	own := logtest.Signer(t, logtest.Origin)
	other := logtest.Signer(t, logtest.Origin)
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		signer issuancelog.Signer
		want   []string
	}{
		{"another key", nil, other, []string{"not signed by the pinned log key", "belongs to another log"}},
		{"another origin", nil, logtest.Signer(t, "elsewhere/log"), []string{"named \"elsewhere/log\" but log.origin is"}},
		{"garbage checkpoint", func(t *testing.T, dir string) {
			write(t, dir, "checkpoint", []byte("garbage\n"))
		}, own, []string{"checkpoint is malformed", "corrupt"}},
		{"altered root hash", func(t *testing.T, dir string) {
			lines := bytes.SplitN(read(t, dir, "checkpoint"), []byte("\n"), 4)
			lines[2] = []byte(base64.StdEncoding.EncodeToString(make([]byte, 32)))
			write(t, dir, "checkpoint", bytes.Join(lines, []byte("\n")))
		}, own, []string{"checkpoint signature is invalid", "altered"}},
		{"altered tile", func(t *testing.T, dir string) {
			tile := read(t, dir, "tile/0/000.p/3")
			tile[0] ^= 1
			write(t, dir, "tile/0/000.p/3", tile)
		}, own, []string{"tiles hash to", "not to the root", "corrupt"}},
		{"missing tile", func(t *testing.T, dir string) {
			rm(t, dir, "tile/0/000.p/3")
		}, own, []string{"tiles of its checkpoint (size 3) are missing or corrupt"}},
		{"garbage tree state", func(t *testing.T, dir string) {
			write(t, dir, ".state/treeState", []byte("{"))
		}, own, []string{".state/treeState is corrupt"}},
		{"missing tree state", func(t *testing.T, dir string) {
			rm(t, dir, ".state/treeState")
		}, own, []string{".state/treeState is missing", "restart the log empty"}},
		{"missing checkpoint", func(t *testing.T, dir string) {
			rm(t, dir, "checkpoint")
		}, own, []string{"holds 3 entries but no checkpoint file"}},
		{"missing entry bundle", func(t *testing.T, dir string) {
			rm(t, dir, "tile/entries/000.p/3")
		}, own, []string{"the entry bundle tile/entries/000.p/3 is missing", "restore it from a backup"}},
		{"truncated entry bundle", func(t *testing.T, dir string) {
			b := read(t, dir, "tile/entries/000.p/3")
			write(t, dir, "tile/entries/000.p/3", b[:len(b)-5])
		}, own, []string{"the entry bundle tile/entries/000.p/3 is corrupt"}},
		{"altered entry", func(t *testing.T, dir string) {
			b := read(t, dir, "tile/entries/000.p/3")
			b[len(b)-1] ^= 1
			write(t, dir, "tile/entries/000.p/3", b)
		}, own, []string{"entry 2 of the entry bundle tile/entries/000.p/3 does not hash to its tile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, own, 3)
			if tc.damage != nil {
				tc.damage(t, dir)
			}
			before := read(t, dir, ".state/version")
			cfg := logtest.Config(dir)
			_, err := issuancelog.Open(t.Context(), cfg, tc.signer, nil)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open error %q does not say %q", err, w)
				}
			}
			if !bytes.Equal(read(t, dir, ".state/version"), before) {
				t.Error("a refused Open changed the directory")
			}
		})
	}
}

// TestReadyNoticesForeignCheckpoint is not ready once another writer
// replaced the checkpoint with one of another key.
func TestReadyNoticesForeignCheckpoint(t *testing.T) {
	foreign := t.TempDir()
	fill(t, foreign, logtest.Signer(t, logtest.Origin), 1)
	dir := t.TempDir()
	cfg := logtest.Config(dir)
	// Tessera itself would overwrite the foreign checkpoint with its own
	// once it is CheckpointInterval old; keep that out of this test,
	// which takes well under a second.
	cfg.CheckpointInterval = issuancelog.MaxCheckpointInterval
	l := logtest.Open(t, cfg, logtest.Signer(t, logtest.Origin))
	if err := l.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	write(t, dir, "checkpoint", read(t, foreign, "checkpoint"))
	if err := l.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "not signed by the pinned log key") {
		t.Fatalf("Ready = %v, want the foreign checkpoint named", err)
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
