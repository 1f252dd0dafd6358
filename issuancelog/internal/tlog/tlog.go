// Package tlog holds the checks that the issuance log and its auditors
// share: reading a pinned verifier key, opening a signed checkpoint with
// messages that say what was wrong, and recomputing a tree's root from its
// tiles. It composes tessera's client, transparency-dev/merkle and
// x/mod/sumdb/note; it implements no Merkle tree or note format itself.
package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Hasher is the RFC 6962 hasher of every tlog-tiles log.
var Hasher = rfc6962.DefaultHasher

// Errors a checkpoint can fail with; match them with errors.Is.
var (
	// ErrMalformed is a checkpoint that is not a signed note or whose body
	// is not a tlog-checkpoint.
	ErrMalformed = errors.New("checkpoint is malformed")
	// ErrWrongKey is a checkpoint carrying no signature by the pinned key.
	ErrWrongKey = errors.New("checkpoint is not signed by the pinned log key")
	// ErrBadSignature is a checkpoint whose signature by the pinned key
	// does not verify: its text or signature was altered.
	ErrBadSignature = errors.New("checkpoint signature is invalid")
	// ErrWrongOrigin is a checkpoint of another log than the pinned key's.
	ErrWrongOrigin = errors.New("checkpoint names another log")
	// ErrNotPrefix is a tree proven not to extend another: CheckConsistent
	// wraps it only when the proof fails, never when the tiles to build
	// the proof could not be read.
	ErrNotPrefix = errors.New("the trees are not consistent")
)

// ParseVerifier reads a note verifier key (name+hash+base64), ignoring
// surrounding white space such as a file's final newline.
func ParseVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("log key %q is not a note verifier key (name+hash+base64): %w", truncate(vkey), err)
	}
	return v, nil
}

// OpenCheckpoint verifies raw's signature by v and parses its body, whose
// origin must be v's name. Errors wrap one of the Err values above.
func OpenCheckpoint(raw []byte, v note.Verifier) (*log.Checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, fmt.Errorf("%w %s+%08x: it is signed by %s", ErrWrongKey, v.Name(), v.KeyHash(), signers(unverified.Note))
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("%w: the signature by %s+%08x does not match the checkpoint's text (altered?)", ErrBadSignature, invalid.Name, invalid.Hash)
		default:
			return nil, fmt.Errorf("%w: not a signed note: %v", ErrMalformed, err)
		}
	}
	cp := &log.Checkpoint{}
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("%w: bad tlog-checkpoint body: %v", ErrMalformed, err)
	}
	if cp.Origin != v.Name() {
		return nil, fmt.Errorf("%w: its origin is %q, the pinned key's is %q", ErrWrongOrigin, cp.Origin, v.Name())
	}
	return cp, nil
}

// signers lists the keys that signed n, for a message.
func signers(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "no key"
	}
	names := make([]string, 0, len(n.UnverifiedSigs))
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

// RootAt recomputes the root hash of the tree of the given size from the
// tiles readTile serves, via the compact range of [0, size).
func RootAt(ctx context.Context, size uint64, readTile client.TileFetcherFunc) ([]byte, error) {
	if size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	hashes, err := client.FetchRangeNodes(ctx, size, readTile)
	if err != nil {
		return nil, fmt.Errorf("reading the tiles of a tree of size %d: %w", size, err)
	}
	rf := compact.RangeFactory{Hash: Hasher.HashChildren}
	r, err := rf.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tiles of a tree of size %d: %w", size, err)
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("root of a tree of size %d: %w", size, err)
	}
	return root, nil
}

// CheckConsistent proves with pb's tiles that the tree of size m and root
// rootM is a prefix of the tree of size n and root rootN (pb built at a
// size of at least n). Equal sizes need equal roots. A failed proof wraps
// ErrNotPrefix; tiles that cannot be read do not.
func CheckConsistent(ctx context.Context, pb *client.ProofBuilder, m, n uint64, rootM, rootN []byte) error {
	if m > n {
		return fmt.Errorf("%w: tree size went down from %d to %d", ErrNotPrefix, m, n)
	}
	if m == n {
		if !bytes.Equal(rootM, rootN) {
			return fmt.Errorf("%w: two different roots for tree size %d: %x and %x", ErrNotPrefix, m, rootM, rootN)
		}
		return nil
	}
	if m == 0 {
		return nil
	}
	p, err := pb.ConsistencyProof(ctx, m, n)
	if err != nil {
		return fmt.Errorf("building the consistency proof from size %d to %d: %w", m, n, err)
	}
	if err := proof.VerifyConsistency(Hasher, m, n, p, rootM, rootN); err != nil {
		return fmt.Errorf("%w: the tree of size %d is not a prefix of the tree of size %d: %w", ErrNotPrefix, m, n, err)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
