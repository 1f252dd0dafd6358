package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/signet-dev/signet/issuancelog/internal/tlog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// fetchWorkers is how many entry bundles Search fetches at once.
const fetchWorkers = 4

// Search reads the entries from index since up to the log's verified
// checkpoint and calls emit, in index order, for each one f selects. The
// entries are proven to be the checkpoint's: each bundle's leaves extend
// a compact range whose root is proven consistent with the signed root
// before its matches are emitted, so a log cannot show a monitor other
// entries than those it committed to. It returns the checkpoint, whose
// size is the since of a following search.
func (c *Client) Search(ctx context.Context, f Filter, since uint64, emit func(Entry)) (Checkpoint, error) {
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return cp, err
	}
	return cp, c.SearchIn(ctx, cp, f, since, emit)
}

// SearchIn is Search over the entries of cp, a checkpoint of this log
// (such as the one Verify has just proven to extend the one seen before),
// whose signature it checks again. A since beyond cp's size is a log that
// shrank, or an older checkpoint served again: ErrInconsistent.
func (c *Client) SearchIn(ctx context.Context, cp Checkpoint, f Filter, since uint64, emit func(Entry)) error {
	m, err := f.compile()
	if err != nil {
		return err
	}
	if cp, err = c.open(cp.Raw, "the checkpoint to search"); err != nil {
		return err
	}
	switch {
	case since > cp.Size:
		return fmt.Errorf("%w: the checkpoint of %s has %d entries, fewer than the %d already searched (--since): the log shrank or an older checkpoint is being served", ErrInconsistent, c.base, cp.Size, since)
	case since == cp.Size:
		return nil
	}
	rng, err := c.rangeAt(ctx, since)
	if err != nil {
		return err
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, c.src.readTile)
	if err != nil {
		return fmt.Errorf("fetching the tiles of %s: %w", c.base, err)
	}
	size := func(context.Context) (uint64, error) { return cp.Size, nil }
	for b, err := range client.EntryBundles(ctx, fetchWorkers, size, c.src.readEntryBundle, since, cp.Size-since) {
		if err != nil {
			return fmt.Errorf("fetching entries of %s: %w", c.base, err)
		}
		ri := b.RangeInfo
		bundle, err := parseBundle(b.Data, ri.Index, cp.Size)
		if err != nil {
			return fmt.Errorf("%s: %w", c.base, err)
		}
		if uint(len(bundle.Entries)) < ri.First+ri.N {
			return fmt.Errorf("entry bundle %d of %s has %d entries, the checkpoint needs %d", ri.Index, c.base, len(bundle.Entries), ri.First+ri.N)
		}
		if start := ri.Index*layout.EntryBundleWidth + uint64(ri.First); start != rng.End() {
			return fmt.Errorf("entry bundle %d of %s: expected entries from %d, got %d", ri.Index, c.base, rng.End(), start)
		}
		var matches []Entry
		for _, der := range bundle.Entries[ri.First : ri.First+ri.N] {
			idx := rng.End()
			if err := rng.Append(tlog.Hasher.HashLeaf(der), nil); err != nil {
				return err
			}
			if e := parseEntry(idx, der); m.match(e) {
				matches = append(matches, e)
			}
		}
		if err := c.checkRange(ctx, pb, rng, cp); err != nil {
			return err
		}
		for _, e := range matches {
			emit(e)
		}
	}
	if rng.End() != cp.Size {
		return fmt.Errorf("%s served entries up to %d, its checkpoint has %d", c.base, rng.End(), cp.Size)
	}
	return nil
}

// parseBundle parses entry bundle index of a tree of size entries. It must
// hold as many entries as its tlog-tiles name says: a full bundle 256, the
// partial right-hand one its width or, once that is full and the partial
// file is gone, 256. Anything else is refused before it is used, so a log
// cannot make an auditor hold more than a bundle's worth of entries.
func parseBundle(data []byte, index, size uint64) (api.EntryBundle, error) {
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(data); err != nil {
		return bundle, fmt.Errorf("entry bundle %d: %w", index, err)
	}
	n, p := len(bundle.Entries), int(layout.PartialTileSize(0, index, size))
	switch {
	case n == layout.EntryBundleWidth, p > 0 && n == p:
		return bundle, nil
	case p > 0:
		return api.EntryBundle{}, fmt.Errorf("entry bundle %d holds %d entries: in a tree of %d entries it holds %d (or %d once full)", index, n, size, p, layout.EntryBundleWidth)
	default:
		return api.EntryBundle{}, fmt.Errorf("entry bundle %d holds %d entries: in a tree of %d entries it is full, %d", index, n, size, layout.EntryBundleWidth)
	}
}

// rangeAt returns the compact range of the log's first size entries, from
// its tiles; checkRange later proves it.
func (c *Client) rangeAt(ctx context.Context, size uint64) (*compact.Range, error) {
	rf := compact.RangeFactory{Hash: tlog.Hasher.HashChildren}
	if size == 0 {
		return rf.NewEmptyRange(0), nil
	}
	hashes, err := client.FetchRangeNodes(ctx, size, c.src.readTile)
	if err != nil {
		return nil, fmt.Errorf("fetching the tiles of %s: %w", c.base, err)
	}
	r, err := rf.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tiles of %s: %w", c.base, err)
	}
	return r, nil
}

// checkRange proves that the entries read so far, rng, are the first
// entries of the tree cp signs.
func (c *Client) checkRange(ctx context.Context, pb *client.ProofBuilder, rng *compact.Range, cp Checkpoint) error {
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return err
	}
	if rng.End() == cp.Size && bytes.Equal(root, cp.RootHash) {
		return nil
	}
	if err := tlog.CheckConsistent(ctx, pb, rng.End(), cp.Size, root, cp.RootHash); err != nil {
		if errors.Is(err, tlog.ErrNotPrefix) {
			return fmt.Errorf("%w: the entries %s serves are not those its checkpoint commits to: %w", ErrInconsistent, c.base, err)
		}
		return fmt.Errorf("fetching the tiles of %s: %w", c.base, err)
	}
	return nil
}

// Search is Client.Search with http.DefaultClient.
func Search(ctx context.Context, baseURL, verifierKey string, f Filter, since uint64, emit func(Entry)) (Checkpoint, error) {
	c, err := New(baseURL, verifierKey, nil)
	if err != nil {
		return Checkpoint{}, err
	}
	return c.Search(ctx, f, since, emit)
}
