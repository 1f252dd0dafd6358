package tufrepo

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RotateRoot signs the next version of a root, as TUF rotates roots
// (specification 5.3.4): the root role held by newKey alone (the current
// key again only extends the root's life), the online roles by online
// (nil keeps the current online key), expiring at expires. It is signed by
// currentKey, which must hold the current root role, and by newKey, so
// that a client that trusts the current version accepts the next one and
// the next one verifies itself. A new online key is how a repository
// recovers from a leaked online key or a version signed far ahead: clients
// drop the timestamp and snapshot they hold when their keys change.
func RotateRoot(ctx context.Context, current []byte, currentKey, newKey Signer, online crypto.PublicKey, expires time.Time) ([]byte, error) {
	cur, err := parseSelfSignedRoot(current)
	if err != nil {
		return nil, err
	}
	curID, err := keyID(currentKey)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(cur.Signed.Roles[metadata.ROOT].KeyIDs, curID) {
		return nil, fmt.Errorf("tufrepo: the given root key (id %s) does not hold the root role of version %d", curID, cur.Signed.Version)
	}
	newID, err := keyID(newKey)
	if err != nil {
		return nil, err
	}
	next, err := parseSelfSignedRoot(current) // a deep copy to edit
	if err != nil {
		return nil, err
	}
	if online != nil {
		if err := CheckKeyType(online); err != nil {
			return nil, err
		}
		ok, err := metadata.KeyFromPublicKey(online)
		if err != nil {
			return nil, fmt.Errorf("tufrepo: online key: %w", err)
		}
		for _, role := range onlineRoles {
			for _, id := range slices.Clone(next.Signed.Roles[role].KeyIDs) {
				if err := next.Signed.RevokeKey(id, role); err != nil {
					return nil, fmt.Errorf("tufrepo: new root: %w", err)
				}
			}
			if err := next.Signed.AddKey(ok, role); err != nil {
				return nil, fmt.Errorf("tufrepo: online key: %w", err)
			}
			next.Signed.Roles[role].Threshold = 1
		}
	}
	for _, role := range onlineRoles {
		if slices.Contains(next.Signed.Roles[role].KeyIDs, newID) {
			return nil, errors.New("tufrepo: the new root key is the online key: the root key must be another one, kept offline, or whoever holds the online key can rewrite the root")
		}
	}
	next.ClearSignatures()
	next.Signed.Version++
	next.Signed.Expires = expires.UTC().Truncate(time.Second)
	for _, id := range slices.Clone(next.Signed.Roles[metadata.ROOT].KeyIDs) {
		if err := next.Signed.RevokeKey(id, metadata.ROOT); err != nil {
			return nil, fmt.Errorf("tufrepo: new root: %w", err)
		}
	}
	nk, err := metadata.KeyFromPublicKey(newKey.Public())
	if err != nil {
		return nil, fmt.Errorf("tufrepo: new root key: %w", err)
	}
	if err := next.Signed.AddKey(nk, metadata.ROOT); err != nil {
		return nil, fmt.Errorf("tufrepo: new root key: %w", err)
	}
	next.Signed.Roles[metadata.ROOT].Threshold = 1
	if err := sign(ctx, next, currentKey); err != nil {
		return nil, fmt.Errorf("tufrepo: signing the new root with the current root key: %w", err)
	}
	if newID != curID {
		if err := sign(ctx, next, newKey); err != nil {
			return nil, fmt.Errorf("tufrepo: signing the new root with the new root key: %w", err)
		}
	}
	if err := checkNextRoot(cur, next); err != nil {
		return nil, err
	}
	return next.ToBytes(true)
}

// RootVersion is the version of a root signed by its own root keys.
func RootVersion(b []byte) (int64, error) {
	r, err := parseSelfSignedRoot(b)
	if err != nil {
		return 0, err
	}
	return r.Signed.Version, nil
}

// parseSelfSignedRoot parses root metadata signed by its own root keys.
func parseSelfSignedRoot(b []byte) (*metadata.Metadata[metadata.RootType], error) {
	root, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: root is not TUF root metadata: %w", err)
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return nil, fmt.Errorf("tufrepo: root version %d is not signed by its own root keys: %w", root.Signed.Version, err)
	}
	return root, nil
}

// checkNextRoot checks that next follows prev as a client updating from
// prev checks it: the next version, signed by a threshold of prev's root
// keys and of its own.
func checkNextRoot(prev, next *metadata.Metadata[metadata.RootType]) error {
	if next.Signed.Version != prev.Signed.Version+1 {
		return fmt.Errorf("tufrepo: root version %d does not follow version %d", next.Signed.Version, prev.Signed.Version)
	}
	if err := prev.VerifyDelegate(metadata.ROOT, next); err != nil {
		return fmt.Errorf("tufrepo: root version %d is not signed by the root keys of version %d: %w", next.Signed.Version, prev.Signed.Version, err)
	}
	if err := next.VerifyDelegate(metadata.ROOT, next); err != nil {
		return fmt.Errorf("tufrepo: root version %d is not signed by its own root keys: %w", next.Signed.Version, err)
	}
	return nil
}

// keyID is the TUF key ID of a signer's public key.
func keyID(s Signer) (string, error) {
	k, err := metadata.KeyFromPublicKey(s.Public())
	if err != nil {
		return "", fmt.Errorf("tufrepo: key: %w", err)
	}
	return k.ID()
}

// CheckRootChain checks a root and its earlier versions as New does: the
// root is signed by its own keys, and previous holds versions 1 to its
// version less one, each leading to the next.
func CheckRootChain(root []byte, previous [][]byte) error {
	cur, err := parseSelfSignedRoot(root)
	if err != nil {
		return err
	}
	_, err = checkRootChain(previous, cur)
	return err
}

// checkRootChain checks the earlier versions of a root, which clients that
// pinned one of them walk to reach it: versions 1 to current-1, each
// following the one before. It returns them by version.
func checkRootChain(previous [][]byte, current *metadata.Metadata[metadata.RootType]) (map[int64][]byte, error) {
	byVersion := map[int64][]byte{}
	parsed := map[int64]*metadata.Metadata[metadata.RootType]{}
	for _, b := range previous {
		r, err := parseSelfSignedRoot(b)
		if err != nil {
			return nil, err
		}
		v := r.Signed.Version
		if _, dup := byVersion[v]; dup || v < 1 || v >= current.Signed.Version {
			return nil, fmt.Errorf("tufrepo: an earlier root of version %d, beside the current version %d", v, current.Signed.Version)
		}
		byVersion[v], parsed[v] = b, r
	}
	parsed[current.Signed.Version] = current
	for v := int64(1); v < current.Signed.Version; v++ {
		if parsed[v] == nil {
			return nil, fmt.Errorf("tufrepo: root version %d is missing: clients that pinned it or an earlier one cannot reach version %d", v, current.Signed.Version)
		}
	}
	for v := int64(1); v < current.Signed.Version; v++ {
		if err := checkNextRoot(parsed[v], parsed[v+1]); err != nil {
			return nil, err
		}
	}
	return byVersion, nil
}
