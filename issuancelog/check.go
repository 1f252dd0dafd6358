package issuancelog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/issuancelog/internal/tlog"
)

// treeStatePath is where tessera's POSIX storage keeps the integrated
// (not necessarily published) tree, as JSON {"size": n, "root": base64};
// see storage/posix/README.md. Tessera signs its root when it publishes.
var treeStatePath = filepath.Join(".state", "treeState")

// treeState is the content of treeStatePath.
type treeState struct {
	// Size is the number of integrated entries.
	Size uint64 `json:"size"`
	// Root is their Merkle tree root.
	Root []byte `json:"root"`
}

// checkDir refuses a log directory that this log's key must not append
// to: a checkpoint not signed by v (another log's, or altered), tiles
// that do not hash to the signed root, or a tree state that does not
// extend the checkpoint. Tessera checks none of this: it would overwrite
// a foreign checkpoint with its own, and sign whatever its tree state
// says. A directory without a checkpoint or tree state is a new log.
// It returns the size of the published checkpoint.
func checkDir(ctx context.Context, dir string, v note.Verifier) (uint64, error) {
	tiles := client.FileFetcher{Root: dir}
	// The checkpoint first: another replica may publish a new one while
	// this check runs, and the tree state it publishes from is never
	// behind it.
	raw, err := os.ReadFile(filepath.Join(dir, layout.CheckpointPath))
	ts, haveTS, tsErr := readTreeState(dir)
	if tsErr != nil {
		return 0, tsErr
	}
	if errors.Is(err, fs.ErrNotExist) {
		if haveTS && ts.Size > 0 {
			return 0, fmt.Errorf("log directory %s holds %d entries but no checkpoint file: restore it from a backup", dir, ts.Size)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("log directory %s: reading its checkpoint: %w", dir, err)
	}
	cp, err := tlog.OpenCheckpoint(raw, v)
	if err != nil {
		hint := "the file is corrupt; restore it from a backup"
		if errors.Is(err, tlog.ErrWrongKey) || errors.Is(err, tlog.ErrWrongOrigin) {
			hint = "the directory belongs to another log, or the configured checkpoint key or origin is not this log's"
		}
		return 0, fmt.Errorf("log directory %s: refusing to append: %w (%s)", dir, err, hint)
	}
	root, err := tlog.RootAt(ctx, cp.Size, tiles.ReadTile)
	if err != nil {
		return 0, fmt.Errorf("log directory %s: the tiles of its checkpoint (size %d) are missing or corrupt: %w", dir, cp.Size, err)
	}
	if !bytes.Equal(root, cp.Hash) {
		return 0, fmt.Errorf("log directory %s: its tiles hash to %x, not to the root %x of its signed checkpoint (size %d): the tiles are corrupt", dir, root, cp.Hash, cp.Size)
	}
	if !haveTS {
		if cp.Size > 0 {
			return 0, fmt.Errorf("log directory %s: %s is missing while the checkpoint holds %d entries (tessera would restart the log empty): restore it from a backup", dir, treeStatePath, cp.Size)
		}
		return cp.Size, nil
	}
	if ts.Size < cp.Size {
		return 0, fmt.Errorf("log directory %s: %s (size %d) is behind the published checkpoint (size %d): restore it from a backup", dir, treeStatePath, ts.Size, cp.Size)
	}
	tsRoot, err := tlog.RootAt(ctx, ts.Size, tiles.ReadTile)
	if err != nil {
		return 0, fmt.Errorf("log directory %s: the tiles of its tree state (size %d) are missing or corrupt: %w", dir, ts.Size, err)
	}
	if !bytes.Equal(tsRoot, ts.Root) {
		return 0, fmt.Errorf("log directory %s: %s has root %x but its tiles hash to %x: the tree state is corrupt", dir, treeStatePath, ts.Root, tsRoot)
	}
	pb, err := client.NewProofBuilder(ctx, ts.Size, tiles.ReadTile)
	if err != nil {
		return 0, fmt.Errorf("log directory %s: %w", dir, err)
	}
	if err := tlog.CheckConsistent(ctx, pb, cp.Size, ts.Size, cp.Hash, ts.Root); err != nil {
		return 0, fmt.Errorf("log directory %s: its tree state does not extend its signed checkpoint: %w", dir, err)
	}
	if err := checkLastBundle(ctx, tiles, ts.Size); err != nil {
		return 0, fmt.Errorf("log directory %s: %w: restore it from a backup", dir, err)
	}
	return cp.Size, nil
}

// checkLastBundle checks the entry bundle holding the last of size
// entries, the one tessera extends with the next append without reading
// it: it must exist, parse, and hold entries whose leaf hashes are the
// level-0 tile's. Otherwise every append would fail, or extend a bundle
// nobody can read while the tree still verifies.
func checkLastBundle(ctx context.Context, f client.FileFetcher, size uint64) error {
	if size == 0 {
		return nil
	}
	idx := (size - 1) / layout.EntryBundleWidth
	w := size - idx*layout.EntryBundleWidth
	p := uint8(w % layout.EntryBundleWidth) // 0: a full bundle
	raw, err := f.ReadEntryBundle(ctx, idx, p)
	if err != nil {
		return fmt.Errorf("the entry bundle %s is missing: %w", layout.EntriesPath(idx, p), err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil || uint64(len(b.Entries)) != w {
		return fmt.Errorf("the entry bundle %s is corrupt (it does not hold %d entries)", layout.EntriesPath(idx, p), w)
	}
	rawTile, err := f.ReadTile(ctx, 0, idx, p)
	if err != nil {
		return fmt.Errorf("the tile %s is missing: %w", layout.TilePath(0, idx, p), err)
	}
	var tile api.HashTile
	if err := tile.UnmarshalText(rawTile); err != nil || uint64(len(tile.Nodes)) < w {
		return fmt.Errorf("the tile %s is corrupt", layout.TilePath(0, idx, p))
	}
	for i, e := range b.Entries {
		if !bytes.Equal(tlog.Hasher.HashLeaf(e), tile.Nodes[i]) {
			return fmt.Errorf("entry %d of the entry bundle %s does not hash to its tile: the bundle is corrupt", idx*layout.EntryBundleWidth+uint64(i), layout.EntriesPath(idx, p))
		}
	}
	return nil
}

// readTreeState reads tessera's tree state; ok is false when there is none.
func readTreeState(dir string) (ts treeState, ok bool, err error) {
	p := filepath.Join(dir, treeStatePath)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ts, false, nil
	}
	if err != nil {
		return ts, false, fmt.Errorf("log directory %s: reading %s: %w", dir, treeStatePath, err)
	}
	if err := json.Unmarshal(b, &ts); err != nil || len(ts.Root) != tlog.Hasher.Size() {
		return ts, false, fmt.Errorf("log directory %s: %s is corrupt (want {\"size\":N,\"root\":base64 hash}): restore it from a backup", dir, treeStatePath)
	}
	return ts, true, nil
}
