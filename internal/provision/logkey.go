package provision

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/signet-dev/signet/ca/vault"
)

// LogKey is the transit key that `signet ca init` creates for the
// issuance log's checkpoints.
const LogKey = "signet-log"

// EnsureLogKey creates the issuance log's checkpoint key, a non-exportable
// transit ed25519 key called name, unless it exists, and returns its
// latest version's public key. It never rotates the key: verifiers pin
// it, and a log refuses to open under another key.
func EnsureLogKey(ctx context.Context, c *vault.Client, name string) (ed25519.PublicKey, error) {
	return EnsureEd25519Key(ctx, c, name)
}

// EnsureEd25519Key creates a non-exportable transit ed25519 key called
// name unless it exists, and returns its latest version's public key.
func EnsureEd25519Key(ctx context.Context, c *vault.Client, name string) (ed25519.PublicKey, error) {
	version, err := c.EnsureKey(ctx, name, "ed25519", false)
	if err != nil {
		return nil, err
	}
	info, ok, err := c.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("vault: transit key %s vanished after creation", name)
	}
	pub, ok := info.Public[version].(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("vault: transit key %s version %d has no ed25519 public key", name, version)
	}
	return pub, nil
}
