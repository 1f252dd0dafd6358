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
	mint := func(ttl string) string { return mintToken(t, admin, ttl, ttl) }
	file, write := tokenFile(t)
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

// TestReplacedTokenIsRenewed: when Vault refuses the token and signet
// logs in again (here: reads the token file again), it renews the new
// token from then on, not the one it replaced, and reports the new
// token's expiry: a short-lived new token still works after its first TTL.
func TestReplacedTokenIsRenewed(t *testing.T) {
	vs, admin := connect(t)
	ctx := t.Context()
	if _, err := admin.EnsureKey(ctx, "replaced", "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
	mint := func(ttl string) string { return mintToken(t, admin, ttl, "1h") }
	file, write := tokenFile(t)
	first := mint("1h")
	write(first)
	c, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{TokenFile: file}, NoBatch: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := vault.NewSigner(ctx, c, "replaced", 1)
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 4 * time.Second
	write(mint(ttl.String())) // the agent's next token, short-lived
	if err := admin.API().Auth().Token().RevokeTreeWithContext(ctx, first); err != nil {
		t.Fatal(err)
	}
	digest := digestOf(crypto.SHA256, []byte("x"))
	if _, err := s.SignDigest(ctx, digest, crypto.SHA256); err != nil {
		t.Fatalf("SignDigest with the first token revoked and a new one in the file: %v", err)
	}
	if at, ok := c.TokenExpiry(); !ok || at.Sub(testclock.WallNow()) > ttl {
		t.Errorf("after the new login, TokenExpiry = %v, %v; want the new token's, within %s", at, ok, ttl)
	}
	time.Sleep(ttl + 2*time.Second)
	if _, err := s.SignDigest(ctx, digest, crypto.SHA256); err != nil {
		t.Errorf("SignDigest %s after the new token's TTL, which signet should have renewed: %v", ttl+2*time.Second, err)
	}
	if at, ok := c.TokenExpiry(); !ok || at.Sub(testclock.WallNow()) > ttl || at.Before(testclock.WallNow()) {
		t.Errorf("after renewals, TokenExpiry = %v, %v; want the new token's, renewed, within %s from now", at, ok, ttl)
	}
}

// mintToken creates a renewable root-policy token of ttl, renewable up to
// maxTTL, as an agent would hand signet.
func mintToken(t *testing.T, admin *vault.Client, ttl, maxTTL string) string {
	t.Helper()
	sec, err := admin.API().Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{
		Policies: []string{"root"}, TTL: ttl, ExplicitMaxTTL: maxTTL, Renewable: new(true), NoParent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sec.Auth.ClientToken
}

// tokenFile is a token file and a function that writes a token into it,
// as Vault Agent does.
func tokenFile(t *testing.T) (string, func(token string)) {
	file := filepath.Join(t.TempDir(), "token")
	return file, func(token string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
