package vault_test

import (
	"crypto"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/test/testclock"
)

// TestTokenFileIsReadAgain: with auth.token-file, a token that expires is
// replaced by the one now in the file (as Vault Agent writes it), without
// a restart: the first signature after the old token expired succeeds.
func TestTokenFileIsReadAgain(t *testing.T) {
	vs, admin := connect(t)
	ctx := t.Context()
	if _, err := admin.EnsureKey(ctx, "tokenfile", "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
	mint := func(ttl string) string {
		t.Helper()
		sec, err := admin.API().Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
			Policies: []string{"root"}, TTL: ttl, ExplicitMaxTTL: ttl, NoParent: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sec.Auth.ClientToken
	}
	file := filepath.Join(t.TempDir(), "token")
	write := func(token string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first := mint("3s")
	write(first)
	c, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{TokenFile: file}, NoBatch: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := vault.NewSigner(ctx, c, "tokenfile", 1)
	if err != nil {
		t.Fatal(err)
	}
	digest := digestOf(crypto.SHA256, []byte("x"))
	if _, err := s.SignDigest(ctx, digest, crypto.SHA256); err != nil {
		t.Fatalf("SignDigest with the first token: %v", err)
	}
	write(mint("1h")) // the agent's next token
	for deadline := testclock.WallNow().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, err := admin.API().Auth().Token().LookupWithContext(ctx, first); err != nil {
			break // the first token has expired
		}
		if testclock.WallNow().After(deadline) {
			t.Fatal("the first token did not expire within 10s")
		}
	}
	if _, err := s.SignDigest(ctx, digest, crypto.SHA256); err != nil {
		t.Errorf("SignDigest after the first token expired, with a new one in the file: %v", err)
	}
}
