package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundlePathIsNotTheArtifact: `sign` and `attest` refuse a --bundle
// that names the artifact (or a link to it) before anything is signed,
// and leave the artifact as it was.
func TestBundlePathIsNotTheArtifact(t *testing.T) {
	dir := t.TempDir()
	artifact := filepath.Join(dir, "app.tar.gz")
	if err := os.WriteFile(artifact, []byte("the release"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(artifact, link); err != nil {
		t.Fatal(err)
	}
	predicate := filepath.Join(dir, "predicate.json")
	if err := os.WriteFile(predicate, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"sign", artifact, "--bundle", artifact},
		{"sign", artifact, "--bundle", link},
		{"attest", artifact, "--predicate", predicate, "--bundle", artifact},
	} {
		cmd := signCommand()
		if args[0] == "attest" {
			cmd = attestCommand()
		}
		cmd.SetArgs(args[1:])
		cmd.SetOut(new(strings.Builder))
		cmd.SetErr(new(strings.Builder))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "is the file being signed") {
			t.Errorf("%v: %v, want a refusal naming the artifact", args, err)
		}
		if b, _ := os.ReadFile(artifact); string(b) != "the release" {
			t.Fatalf("%v overwrote the artifact: %q", args, b)
		}
	}
}

// TestWriteFileAtomic: the file is replaced whole, with the bundle's
// mode, and no temporary file is left behind; a directory that cannot be
// written leaves nothing.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sigstore.json")
	for _, data := range []string{"first\n", "second\n"} {
		if err := writeFileAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != data {
			t.Errorf("read %q, want %q", b, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want the bundle only", len(entries))
	}
	if err := writeFileAtomic(filepath.Join(dir, "missing", "b.json"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
