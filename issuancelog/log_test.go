package issuancelog_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// TestAppendConcurrentProvable appends certificates at once: each gets
// its own index, and each is proven in the served log by audit.Prove.
func TestAppendConcurrentProvable(t *testing.T) {
	const n = 40
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	l := logtest.Open(t, logtest.Config(t.TempDir()), s)
	base, hc := logtest.Serve(t, l)

	ders := make([][]byte, n)
	idx := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		ders[i] = ca.Leaf(t, "https://github.com/org/repo/.github/workflows/w.yml@refs/heads/main", "https://token.actions.githubusercontent.com")
		wg.Go(func() {
			var err error
			if idx[i], err = l.Append(t.Context(), ders[i]); err != nil {
				t.Errorf("Append %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, x := range idx {
		if seen[x] || x >= n {
			t.Fatalf("indices %v are not a permutation of 0..%d", idx, n-1)
		}
		seen[x] = true
	}
	c, err := audit.New(base, l.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	for i, der := range ders {
		inc, err := c.Prove(t.Context(), der, 5*time.Second)
		if err != nil {
			t.Fatalf("Prove %d: %v", i, err)
		}
		if inc.Index != idx[i] || inc.Checkpoint.Size <= idx[i] {
			t.Errorf("Prove %d: index %d at size %d, want index %d", i, inc.Index, inc.Checkpoint.Size, idx[i])
		}
	}
}

// TestReopenContinues closes a log and opens its directory again: the
// indices go on, and the old entries stay provable.
func TestReopenContinues(t *testing.T) {
	ca := logtest.NewCA(t)
	s := logtest.Signer(t, logtest.Origin)
	cfg := logtest.Config(t.TempDir())
	first := ca.Leaf(t, "alice@example.com", "https://accounts.example.com")
	l := logtest.Open(t, cfg, s)
	for want := range uint64(3) {
		der := first
		if want > 0 {
			der = ca.Leaf(t, "alice@example.com", "https://accounts.example.com")
		}
		if got, err := l.Append(t.Context(), der); err != nil || got != want {
			t.Fatalf("Append = %d, %v; want %d", got, err, want)
		}
	}
	logtest.Close(t, l)
	if _, err := l.Append(t.Context(), first); problem.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("Append after Close = %v, want a 503", err)
	}

	l = logtest.Open(t, cfg, s)
	if got, err := l.Append(t.Context(), ca.Leaf(t, "bob@example.com", "https://accounts.example.com")); err != nil || got != 3 {
		t.Fatalf("Append after reopening = %d, %v; want 3", got, err)
	}
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, s.VerifierKey(), hc)
	if err != nil {
		t.Fatal(err)
	}
	if inc, err := c.Prove(t.Context(), first, 5*time.Second); err != nil || inc.Index != 0 {
		t.Fatalf("Prove(first) = %+v, %v", inc, err)
	}
}

// TestCloseAtTheLongestInterval: a log publishing checkpoints at the
// longest interval allowed still closes within CloseTimeout after an
// append, with a checkpoint covering it, so a stopping server never gives
// up on its last checkpoint.
func TestCloseAtTheLongestInterval(t *testing.T) {
	t.Parallel()
	ca := logtest.NewCA(t)
	cfg := logtest.Config(t.TempDir())
	cfg.CheckpointInterval = issuancelog.MaxCheckpointInterval
	l := logtest.Open(t, cfg, logtest.Signer(t, logtest.Origin))
	for range 2 { // the first append may fall just before a checkpoint
		if _, err := l.Append(t.Context(), ca.Leaf(t, "alice@example.com", "https://accounts.example.com")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), issuancelog.CloseTimeout)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close at a %s checkpoint interval: %v", cfg.CheckpointInterval, err)
	}
}

// TestAppendTimeout is a 503 naming no internal detail when the entry is
// not stored within AppendTimeout.
func TestAppendTimeout(t *testing.T) {
	cfg := logtest.Config(t.TempDir())
	cfg.AppendTimeout, cfg.BatchMaxAge = time.Millisecond, 200*time.Millisecond
	l := logtest.Open(t, cfg, logtest.Signer(t, logtest.Origin))
	_, err := l.Append(t.Context(), logtest.NewCA(t).Leaf(t, "alice@example.com", "https://issuer.example"))
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable {
		t.Fatalf("Append = %v, want a 503 problem", err)
	}
	if strings.Contains(pe.Error(), cfg.Dir) || !errors.Is(pe.Cause, context.DeadlineExceeded) {
		t.Errorf("message %q must not name the directory; cause %v must be the deadline", pe.Error(), pe.Cause)
	}
}

// TestReady is ready while the log can write and its checkpoint is its
// own, and not once it is closed.
func TestReady(t *testing.T) {
	cfg := logtest.Config(t.TempDir())
	l, err := issuancelog.Open(t.Context(), cfg, logtest.Signer(t, logtest.Origin), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	logtest.Close(t, l)
	if err := l.Ready(t.Context()); err == nil {
		t.Fatal("Ready after Close = nil")
	}
}
