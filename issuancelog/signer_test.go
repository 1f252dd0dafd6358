package issuancelog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// TestKeySigner round-trips a generated note key through a file, and its
// notes verify with its verifier key.
func TestKeySigner(t *testing.T) {
	s, skey, err := issuancelog.GenerateKey(rand.Reader, logtest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := issuancelog.LoadKeySigner(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.VerifierKey() != s.VerifierKey() || loaded.KeyHash() != s.KeyHash() || loaded.Name() != logtest.Origin {
		t.Fatalf("loaded %s, generated %s", loaded.VerifierKey(), s.VerifierKey())
	}
	checkSigns(t, loaded)
	for _, bad := range []string{"", "PRIVATE+KEY+x+00000000+AA==", skey[:len(skey)-4], s.VerifierKey()} {
		if _, err := issuancelog.NewKeySigner(bad); err == nil {
			t.Errorf("NewKeySigner(%q) succeeded", bad)
		}
	}
	if _, _, err := issuancelog.GenerateKey(rand.Reader, "bad origin"); err == nil {
		t.Error("GenerateKey accepted an origin with a space")
	}
}

// checkSigns checks that s's notes verify with its verifier key.
func checkSigns(t *testing.T, s issuancelog.Signer) {
	t.Helper()
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("note by %s does not verify: %v", s.VerifierKey(), err)
	}
}

// TestEd25519Signer signs a log's checkpoints with a key held elsewhere,
// as a Vault transit key would be, and refuses one that signs with a key
// other than the configured public key.
func TestEd25519Signer(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	remote := func(ctx context.Context, msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg), nil }
	s, err := issuancelog.NewEd25519Signer(logtest.Origin, pub, time.Second, remote)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := note.NewEd25519VerifierKey(logtest.Origin, pub)
	if s.VerifierKey() != want {
		t.Fatalf("VerifierKey %s, want %s", s.VerifierKey(), want)
	}
	checkSigns(t, s)

	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	der := logtest.NewCA(t).Leaf(t, "alice@example.com", "https://issuer.example")
	logtest.Append(t, l, der)
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, want, hc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prove(t.Context(), der, 5*time.Second); err != nil {
		t.Fatalf("Prove with a remotely signed checkpoint: %v", err)
	}

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	wrong, _ := issuancelog.NewEd25519Signer(logtest.Origin, pub, time.Second, func(ctx context.Context, msg []byte) ([]byte, error) {
		return ed25519.Sign(otherPriv, msg), nil
	})
	if _, err := issuancelog.Open(t.Context(), logtest.Config(t.TempDir()), wrong, nil); err == nil || !strings.Contains(err.Error(), "does not verify with the configured public key") {
		t.Errorf("Open with a mismatched remote key = %v", err)
	}
	down, _ := issuancelog.NewEd25519Signer(logtest.Origin, pub, time.Second, func(ctx context.Context, msg []byte) ([]byte, error) {
		return nil, errors.New("vault is sealed")
	})
	if _, err := issuancelog.Open(t.Context(), logtest.Config(t.TempDir()), down, nil); err == nil || !strings.Contains(err.Error(), "vault is sealed") {
		t.Errorf("Open with a failing remote key = %v", err)
	}
}
