package audit

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/signet-dev/signet/issuancelog/internal/tlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// pollInterval is how often Prove looks for a newer checkpoint.
const pollInterval = 200 * time.Millisecond

// ErrNotFound is a certificate that is not in the log.
var ErrNotFound = errors.New("certificate not found in the log")

// Inclusion is a verified proof that an entry is in the log.
type Inclusion struct {
	// Index is the entry's position in the log.
	Index uint64
	// Checkpoint is the verified checkpoint the proof is against.
	Checkpoint Checkpoint
	// Proof is the inclusion proof, RFC 6962 hashes from leaf to root.
	Proof [][]byte
}

// Prove finds the certificate der in the log (see find) and
// verifies its inclusion proof against a verified checkpoint. When the
// certificate is newer than the published checkpoint, it waits up to
// wait for a checkpoint that covers it, checking that each new checkpoint
// extends the one before. A new log that has not yet published its first
// checkpoint counts as empty: Prove waits for that checkpoint too.
func (c *Client) Prove(ctx context.Context, der []byte, wait time.Duration) (Inclusion, error) {
	deadline := time.Now().Add(wait)
	cp, noCheckpoint := c.Checkpoint(ctx)
	if noCheckpoint != nil && !errors.Is(noCheckpoint, fs.ErrNotExist) {
		return Inclusion{}, noCheckpoint
	}
	var searched uint64
	for {
		idx, found, err := c.find(ctx, der, searched, cp.Size)
		if err != nil {
			return Inclusion{}, err
		}
		if found {
			return c.ProveIndex(ctx, der, idx, cp)
		}
		searched = cp.Size
		if cp, err = c.nextCheckpoint(ctx, cp, deadline); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				if cp.Raw == nil { // a wrong URL looks the same: say what was missing
					return Inclusion{}, fmt.Errorf("no checkpoint published within %s: %w", wait, noCheckpoint)
				}
				if inc, found, err := c.provenAbsent(ctx, der, cp); err != nil || found {
					return inc, err
				}
				return Inclusion{}, fmt.Errorf("%w: none of the %d entries %s served is this certificate, each proven to be in its checkpoint (waited %s for newer checkpoints)", ErrNotFound, searched, c.base, wait)
			}
			return Inclusion{}, err
		}
	}
}

// provenAbsent backs find's "not found" with proof: it reads cp's entries
// again as audit search does, each proven to be in the checkpoint, and
// looks for der's serial number among them. A log that hid der from find
// by serving other bundles than it committed to is caught here as
// ErrInconsistent; an entry of that serial that is der after all is proven
// and returned (found).
func (c *Client) provenAbsent(ctx context.Context, der []byte, cp Checkpoint) (Inclusion, bool, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Inclusion{}, false, fmt.Errorf("the certificate to prove: %w", err)
	}
	var same []uint64
	if err := c.SearchIn(ctx, cp, Filter{Serial: cert.SerialNumber.Text(16)}, 0, func(e Entry) {
		if e.Error == "" {
			same = append(same, e.Index)
		}
	}); err != nil {
		return Inclusion{}, false, err
	}
	for _, idx := range same {
		if inc, err := c.ProveIndex(ctx, der, idx, cp); err == nil {
			return inc, true, nil
		}
	}
	return Inclusion{}, false, nil
}

// nextCheckpoint waits, until deadline, for a checkpoint larger than cp
// and proves that it extends cp. A cp without Raw is no checkpoint yet:
// while the log publishes none, it keeps waiting.
func (c *Client) nextCheckpoint(ctx context.Context, cp Checkpoint, deadline time.Time) (Checkpoint, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return cp, ctx.Err()
		case <-t.C:
		}
		next, err := c.Checkpoint(ctx)
		if cp.Raw == nil && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cp, err
		}
		if cp.Raw == nil {
			return next, nil // the first checkpoint: there is none before to extend
		}
		if next.Size == cp.Size && bytes.Equal(next.RootHash, cp.RootHash) {
			continue
		}
		if err := c.consistent(ctx, cp, next); err != nil {
			return cp, err
		}
		return next, nil
	}
}

// find looks for der among the entries [from, size). Entries are appended
// in about the order of issuance, so it starts at the bundle where der's
// NotBefore falls (found by bisection) and works outwards from there,
// ending with every bundle read. A found entry is then proven by
// ProveIndex; "not found" is then proven by provenAbsent.
func (c *Client) find(ctx context.Context, der []byte, from, size uint64) (uint64, bool, error) {
	if from >= size {
		return 0, false, nil
	}
	lo, hi := from/layout.EntryBundleWidth, (size-1)/layout.EntryBundleWidth
	var last struct { // the bundle read last, which the scan often starts with
		index uint64
		eb    *api.EntryBundle
	}
	get := func(b uint64) (api.EntryBundle, error) {
		if last.eb != nil && last.index == b {
			return *last.eb, nil
		}
		data, err := c.src.readEntryBundle(ctx, b, layout.PartialTileSize(0, b, size))
		if err != nil {
			return api.EntryBundle{}, fmt.Errorf("fetching entries of %s: %w", c.base, err)
		}
		eb, err := parseBundle(data, b, size)
		if err != nil {
			return api.EntryBundle{}, fmt.Errorf("%s: %w", c.base, err)
		}
		last.index, last.eb = b, &eb
		return eb, nil
	}
	start := hi
	if cert, err := x509.ParseCertificate(der); err == nil {
		if start, err = bisect(lo, hi, cert.NotBefore, get); err != nil {
			return 0, false, err
		}
	}
	for d := uint64(0); ; d++ {
		var next []uint64 // the bundles d away from start
		if start+d <= hi {
			next = append(next, start+d)
		}
		if d > 0 && start >= lo+d {
			next = append(next, start-d)
		}
		if len(next) == 0 {
			return 0, false, nil
		}
		for _, b := range next {
			eb, err := get(b)
			if err != nil {
				return 0, false, err
			}
			for i, e := range eb.Entries {
				idx := b*layout.EntryBundleWidth + uint64(i)
				if idx >= from && idx < size && bytes.Equal(e, der) {
					return idx, true, nil
				}
			}
		}
	}
}

// bisect returns the last bundle in [lo, hi] whose first certificate's
// NotBefore is not after t.
func bisect(lo, hi uint64, t time.Time, get func(uint64) (api.EntryBundle, error)) (uint64, error) {
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		eb, err := get(mid)
		if err != nil {
			return 0, err
		}
		if len(eb.Entries) == 0 {
			return hi, nil
		}
		first, err := x509.ParseCertificate(eb.Entries[0])
		if err != nil {
			return hi, nil // not ordered by time after all; scan from the newest
		}
		if first.NotBefore.After(t) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo, nil
}

// ProveIndex verifies that der is the entry at index of the tree cp
// signs, with an inclusion proof from the log's tiles. cp.Raw is verified
// again, so cp may come from anywhere (such as a response's index and a
// checkpoint kept by Verify).
func (c *Client) ProveIndex(ctx context.Context, der []byte, index uint64, cp Checkpoint) (Inclusion, error) {
	cp, err := c.open(cp.Raw, "the checkpoint to prove against")
	if err != nil {
		return Inclusion{}, err
	}
	if index >= cp.Size {
		return Inclusion{}, fmt.Errorf("entry %d is not covered by the checkpoint of size %d", index, cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, c.src.readTile)
	if err != nil {
		return Inclusion{}, err
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return Inclusion{}, fmt.Errorf("building the inclusion proof of entry %d from the tiles of %s: %w", index, c.base, err)
	}
	if err := proof.VerifyInclusion(tlog.Hasher, index, cp.Size, tlog.Hasher.HashLeaf(der), p, cp.RootHash); err != nil {
		return Inclusion{}, fmt.Errorf("%w: entry %d is not proven in the checkpoint of size %d (tiles and checkpoint of %s disagree): %w", ErrInconsistent, index, cp.Size, c.base, err)
	}
	return Inclusion{Index: index, Checkpoint: cp, Proof: p}, nil
}

// Prove is Client.Prove with http.DefaultClient.
func Prove(ctx context.Context, baseURL, verifierKey string, der []byte, wait time.Duration) (Inclusion, error) {
	c, err := New(baseURL, verifierKey, nil)
	if err != nil {
		return Inclusion{}, err
	}
	return c.Prove(ctx, der, wait)
}
