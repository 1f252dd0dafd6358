package tufrepo

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// onlineRoles are the roles the online key signs: everything but root.
var onlineRoles = [...]string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// NewRoot builds version 1 of a root: rootKey alone holds the root role,
// online holds targets, snapshot and timestamp (threshold 1 each), with
// consistent snapshots; it is signed by rootKey and expires at expires.
// The result is the root.json verifiers pin.
func NewRoot(ctx context.Context, rootKey Signer, online crypto.PublicKey, expires time.Time) ([]byte, error) {
	if err := CheckKeyType(online); err != nil {
		return nil, err
	}
	if pki.SamePublicKey(rootKey.Public(), online) {
		return nil, errors.New("tufrepo: the root key is the online key: the root key must be another one, kept offline, or whoever holds the online key can rewrite the root")
	}
	root := metadata.Root(expires.UTC().Truncate(time.Second))
	rk, err := metadata.KeyFromPublicKey(rootKey.Public())
	if err != nil {
		return nil, fmt.Errorf("tufrepo: root key: %w", err)
	}
	if err := root.Signed.AddKey(rk, metadata.ROOT); err != nil {
		return nil, fmt.Errorf("tufrepo: root key: %w", err)
	}
	ok, err := metadata.KeyFromPublicKey(online)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: online key: %w", err)
	}
	for _, role := range onlineRoles {
		if err := root.Signed.AddKey(ok, role); err != nil {
			return nil, fmt.Errorf("tufrepo: online key: %w", err)
		}
	}
	if err := sign(ctx, root, rootKey); err != nil {
		return nil, fmt.Errorf("tufrepo: signing root: %w", err)
	}
	return root.ToBytes(true)
}

// sign adds a signature by s to meta, keeping the signer's own error.
func sign[T metadata.Roles](ctx context.Context, meta *metadata.Metadata[T], s Signer) error {
	var cause error
	if _, err := meta.Sign(boundSigner{ctx: ctx, s: s, err: &cause}); err != nil {
		if cause != nil {
			return cause
		}
		return err
	}
	return nil
}

// ListsOnlineKey reports whether root (signed by its own root keys) lets
// the key pub sign every online role: targets, snapshot and timestamp.
func ListsOnlineKey(root []byte, pub crypto.PublicKey) bool {
	r, err := parseSelfSignedRoot(root)
	if err != nil {
		return false
	}
	return onlineKeyError(r, pub) == nil
}

// ErrRootExpired is a root past its expiry: no client accepts metadata
// under it.
var ErrRootExpired = errors.New("tufrepo: the TUF root has expired")

// checkRoot parses a root and checks what serving it needs: it is signed
// by its own root keys, uses consistent snapshots, has not expired at now,
// and gives the online key alone enough weight for every online role.
func checkRoot(b []byte, online crypto.PublicKey, now time.Time) (*metadata.Metadata[metadata.RootType], error) {
	root, err := parseSelfSignedRoot(b)
	if err != nil {
		return nil, err
	}
	if !root.Signed.ConsistentSnapshot {
		return nil, errors.New("tufrepo: root does not use consistent snapshots")
	}
	if root.Signed.IsExpired(now) {
		return nil, fmt.Errorf("%w: version %d expired at %s: sign a new one", ErrRootExpired, root.Signed.Version, root.Signed.Expires.Format(time.RFC3339))
	}
	if err := onlineKeyError(root, online); err != nil {
		return nil, err
	}
	return root, nil
}

// onlineKeyError says why root does not let online sign each online role
// alone, or is nil.
func onlineKeyError(root *metadata.Metadata[metadata.RootType], online crypto.PublicKey) error {
	key, err := metadata.KeyFromPublicKey(online)
	if err != nil {
		return fmt.Errorf("tufrepo: online key: %w", err)
	}
	id, err := key.ID()
	if err != nil {
		return fmt.Errorf("tufrepo: online key: %w", err)
	}
	for _, name := range onlineRoles {
		role := root.Signed.Roles[name]
		if role == nil || role.Threshold != 1 || !slices.Contains(role.KeyIDs, id) {
			return fmt.Errorf("tufrepo: the root (version %d) does not let the online key (id %s) sign %s alone: sign a root that names it with `signet tuf rotate-root --online-key`", root.Signed.Version, id, name)
		}
	}
	return nil
}
