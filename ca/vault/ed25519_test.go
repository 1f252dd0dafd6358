package vault_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

// An ed25519 transit key (the issuance log's checkpoint key) reads back
// as an ed25519.PublicKey, and SignMessage makes plain Ed25519 signatures
// of the message with the asked-for version.
func TestEd25519TransitKeySignsMessages(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	const name = "test-ed25519"
	if v, err := c.EnsureKey(ctx, name, "ed25519", false); err != nil || v != 1 {
		t.Fatalf("EnsureKey = %d, %v; want version 1", v, err)
	}
	if v, err := c.EnsureKey(ctx, name, "ed25519", false); err != nil || v != 1 {
		t.Fatalf("EnsureKey again = %d, %v; want 1 unchanged", v, err)
	}
	if v, err := c.EnsureKey(ctx, name, "ed25519", true); err != nil || v != 2 {
		t.Fatalf("EnsureKey with rotate = %d, %v; want 2", v, err)
	}
	info, ok, err := c.ReadKey(ctx, name)
	if err != nil || !ok {
		t.Fatalf("ReadKey = %v, %v", ok, err)
	}
	if info.Type != "ed25519" || info.Latest != 2 || info.Exportable {
		t.Errorf("ReadKey = type %s latest %d exportable %v; want ed25519, 2, false", info.Type, info.Latest, info.Exportable)
	}
	msg := []byte("signet/log\n42\nAAAA\n")
	for _, version := range []int{1, 2} {
		pub, ok := info.Public[version].(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("version %d public key is %T, want ed25519.PublicKey", version, info.Public[version])
		}
		sig, err := c.SignMessage(ctx, name, version, msg)
		if err != nil {
			t.Fatalf("SignMessage v%d: %v", version, err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Errorf("v%d: the signature does not verify with the version's public key", version)
		}
		other := info.Public[3-version].(ed25519.PublicKey)
		if ed25519.Verify(other, msg, sig) {
			t.Errorf("v%d: the signature verifies with the other version's key", version)
		}
	}
	if _, err := c.SignMessage(ctx, "absent", 1, msg); err == nil {
		t.Error("SignMessage with a missing key succeeded")
	}
	if _, err := c.SignMessage(ctx, name, 9, msg); err == nil {
		t.Error("SignMessage with a missing version succeeded")
	}
}

// TestEnsureKeyRefusesADeletableKey: a transit key created beforehand
// with deletion_allowed could be deleted and made again under its name and
// versions (another key behind the pinned version): EnsureKey refuses it.
func TestEnsureKeyRefusesADeletableKey(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	if _, err := c.API().Logical().WriteWithContext(ctx, "transit/keys/deletable", map[string]any{"type": "ecdsa-p384"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API().Logical().WriteWithContext(ctx, "transit/keys/deletable/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureKey(ctx, "deletable", "ecdsa-p384", false); err == nil || !strings.Contains(err.Error(), "allows deletion") {
		t.Errorf("EnsureKey of a deletable key: %v, want a refusal", err)
	}
}
