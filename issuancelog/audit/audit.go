// Package audit checks a signet issuance log from the outside, with
// nothing but the log's tlog-tiles files (over HTTP, or a copied
// directory) and its pinned verifier key: Verify follows the checkpoints
// and notices a log that forks or rewrites its history, Search lists the
// certificates it holds, and Prove shows that a certificate is in it.
//
// Every result is checked against a checkpoint signed by the pinned key,
// with tessera's client package and transparency-dev/merkle proofs.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/signet-dev/signet/issuancelog/internal/tlog"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Client audits one log.
type Client struct {
	base     string
	src      source
	verifier note.Verifier
}

// New returns a Client of the log at baseURL (http(s)://.../api/v1/log,
// file:///dir, or a directory) whose checkpoints verifierKey (a note
// verifier key, name+hash+base64) signs. hc nil means http.DefaultClient.
func New(baseURL, verifierKey string, hc *http.Client) (*Client, error) {
	v, err := tlog.ParseVerifier(verifierKey)
	if err != nil {
		return nil, err
	}
	src, err := newSource(baseURL, hc)
	if err != nil {
		return nil, err
	}
	return &Client{base: baseURL, src: src, verifier: v}, nil
}

// Checkpoint is a verified checkpoint of the log.
type Checkpoint struct {
	// Origin is the log's name.
	Origin string
	// Size is the number of entries the checkpoint commits to.
	Size uint64
	// RootHash is the Merkle tree root of those entries.
	RootHash []byte
	// Raw is the signed note as served.
	Raw []byte
}

// Checkpoint fetches the log's checkpoint and verifies its signature.
func (c *Client) Checkpoint(ctx context.Context) (Checkpoint, error) {
	raw, err := c.src.readCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("fetching the checkpoint of %s: %w", c.base, err)
	}
	return c.open(raw, "the checkpoint served by "+c.base)
}

func (c *Client) open(raw []byte, what string) (Checkpoint, error) {
	cp, err := tlog.OpenCheckpoint(raw, c.verifier)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%s: %w", what, err)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, RootHash: cp.Hash, Raw: raw}, nil
}

// VerifyResult is what Verify saw.
type VerifyResult struct {
	// Previous is the checkpoint kept from the last run, nil on the first.
	Previous *Checkpoint
	// Current is the checkpoint the log serves now, proven to extend Previous.
	Current Checkpoint
}

// ErrInconsistent marks a log that forked or rewrote its history.
var ErrInconsistent = errors.New("the log is not consistent with the checkpoint seen before")

// Verify fetches the log's checkpoint, checks its signature, and proves
// that it extends the last checkpoint kept in stateDir (created if
// missing), which it then replaces. A log that shrank, forked or
// rewrote its history fails with ErrInconsistent; the checkpoint that
// contradicts the kept one is saved beside it as evidence.
func (c *Client) Verify(ctx context.Context, stateDir string) (VerifyResult, error) {
	cur, err := c.Checkpoint(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Current: cur}
	path := filepath.Join(stateDir, stateName(c.verifier))
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return res, writeState(stateDir, path, cur.Raw)
	case err != nil:
		return res, fmt.Errorf("reading the last checkpoint seen: %w", err)
	}
	prev, err := c.open(raw, "the last checkpoint seen, in "+path)
	if err != nil {
		return res, err
	}
	res.Previous = &prev
	if err := c.consistent(ctx, prev, cur); err != nil {
		if !errors.Is(err, ErrInconsistent) {
			return res, err // the log could not be read: nothing is concluded
		}
		keepConflict(stateDir, path+".conflict", cur.Raw)
		return res, fmt.Errorf("%w (the checkpoint seen before is kept in %s; the first conflicting one is saved in %s.conflict)", err, path, path)
	}
	if cur.Size > prev.Size {
		return res, writeState(stateDir, path, cur.Raw)
	}
	return res, nil
}

// consistent proves that cur extends prev with the log's tiles. A failed
// proof, or a log that shrank, wraps ErrInconsistent; tiles that cannot
// be read do not.
func (c *Client) consistent(ctx context.Context, prev, cur Checkpoint) error {
	if cur.Size < prev.Size {
		return fmt.Errorf("%w: the log shrank from %d entries to %d", ErrInconsistent, prev.Size, cur.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cur.Size, c.src.readTile)
	if err != nil {
		return fmt.Errorf("reading the tiles of %s to check the checkpoint of size %d against the one of size %d: %w", c.base, cur.Size, prev.Size, err)
	}
	if err := tlog.CheckConsistent(ctx, pb, prev.Size, cur.Size, prev.RootHash, cur.RootHash); err != nil {
		if errors.Is(err, tlog.ErrNotPrefix) {
			return fmt.Errorf("%w: checkpoint of size %d against the earlier one of size %d: %w", ErrInconsistent, cur.Size, prev.Size, err)
		}
		return fmt.Errorf("reading the tiles of %s to check the checkpoint of size %d against the one of size %d: %w", c.base, cur.Size, prev.Size, err)
	}
	return nil
}

// keepConflict saves raw, a checkpoint that contradicts the one kept, as
// evidence at path, unless an earlier conflict is already saved there: the
// first one is kept.
func keepConflict(dir, path string, raw []byte) {
	if _, err := os.Stat(path); err == nil {
		return
	}
	_ = writeState(dir, path, raw)
}

// stateName is the file keeping the last checkpoint of a log, named by
// its origin and key so that one directory can follow several logs.
func stateName(v note.Verifier) string {
	return fmt.Sprintf("%s+%08x.checkpoint", url.PathEscape(v.Name()), v.KeyHash())
}

// writeState replaces path with raw atomically.
func writeState(dir, path string, raw []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	f, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(raw); err != nil {
		_ = f.Close()
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keeping the checkpoint: %w", err)
	}
	return nil
}

// Verify is Client.Verify with http.DefaultClient.
func Verify(ctx context.Context, baseURL, verifierKey, stateDir string) (VerifyResult, error) {
	c, err := New(baseURL, verifierKey, nil)
	if err != nil {
		return VerifyResult{}, err
	}
	return c.Verify(ctx, stateDir)
}
