package issuancelog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/issuancelog/internal/tlog"
)

// probeSize is written and synced by Ready: more than a batch of appends
// usually writes, so a disk too full to append fails the probe too.
const probeSize = 64 << 10

// Ready reports whether the log can take appends, for /readyz: its
// directory takes a synced write of probeSize bytes (a full or read-only
// disk fails it) or its database answers, its published checkpoint still
// verifies with this log's key (another writer has not replaced it), and
// no append failed in the storage within appendFailureHold unless one
// succeeded since.
func (l *Log) Ready(ctx context.Context) error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return errors.New("issuance log: closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	if l.db != nil {
		err = l.readyDatabase(ctx)
	} else {
		err = l.readyDirectory()
	}
	if err != nil {
		return err
	}
	// The probes pass, but appends may still fail (a lock another writer
	// holds, a corrupt bundle): the last append's outcome counts too.
	if at := l.failedAt.Load(); at != 0 {
		if ago := time.Since(l.started) - time.Duration(at); ago < appendFailureHold {
			return problem.Unavailable("issuance log: its storage failed an append %s ago", ago.Round(time.Second))
		}
	}
	return nil
}

// readyDirectory reports whether a posix log's directory takes a synced
// write and holds a checkpoint that verifies.
func (l *Log) readyDirectory() error {
	// /readyz shows these messages: they name the fault, never the
	// directory; the detail is the problem's cause, for the logs.
	if err := l.probeWrite(); err != nil {
		if storageFull(err) {
			return problem.Unavailable("issuance log: its storage is full (no space left)").WithCause(err)
		}
		return problem.Unavailable("issuance log: its directory cannot be written").WithCause(err)
	}
	raw, err := l.root.ReadFile(layout.CheckpointPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil // tessera publishes the first one within CheckpointInterval
	}
	if err != nil {
		return problem.Unavailable("issuance log: its checkpoint cannot be read").WithCause(err)
	}
	if _, err := tlog.OpenCheckpoint(raw, l.verifier); err != nil {
		return fmt.Errorf("issuance log: the published checkpoint no longer verifies: %w", err)
	}
	return nil
}

// probeWrite writes, syncs and removes a temporary file in the log's
// private .state directory, which is never served.
func (l *Log) probeWrite() (err error) {
	f, err := os.CreateTemp(filepath.Join(l.cfg.Dir, ".state"), "signet-ready-*")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.Remove(f.Name()); err == nil {
			err = rmErr
		}
	}()
	if _, err := f.Write(make([]byte, probeSize)); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// readyDatabase reports whether the log database answers and its
// published checkpoint still verifies with this log's key.
func (l *Log) readyDatabase(ctx context.Context) error {
	if err := l.db.PingContext(ctx); err != nil {
		return problem.Unavailable("issuance log: its database does not answer").WithCause(err)
	}
	raw, err := l.reader.ReadCheckpoint(ctx)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return problem.Unavailable("issuance log: its checkpoint cannot be read").WithCause(err)
	}
	if _, err := tlog.OpenCheckpoint(raw, l.verifier); err != nil {
		return fmt.Errorf("issuance log: the published checkpoint no longer verifies: %w", err)
	}
	return nil
}
