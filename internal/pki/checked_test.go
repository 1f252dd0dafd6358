package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
)

// swappable signs with one key or, once swapped, with another while still
// naming the first as its public key: a key store whose key changed.
type swappable struct {
	pinned, other LocalSigner
	swapped       atomic.Bool
}

func (s *swappable) Public() crypto.PublicKey { return s.pinned.Public() }

func (s *swappable) SignDigest(ctx context.Context, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if s.swapped.Load() {
		return s.other.SignDigest(ctx, d, o)
	}
	return s.pinned.SignDigest(ctx, d, o)
}

// TestCheckedSigner: the first signature is checked; a changed key is
// refused at the next check, at most CheckInterval later, and from then
// on every signature until the key verifies again.
func TestCheckedSigner(t *testing.T) {
	key := func() LocalSigner {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return LocalSigner{Key: k}
	}
	s := &swappable{pinned: key(), other: key()}
	if _, local := Checked(s.pinned).(LocalSigner); !local {
		t.Error("Checked wrapped a key in process memory")
	}
	c, ok := Checked(s).(*CheckedSigner)
	if !ok {
		t.Fatal("Checked did not wrap a signer outside the process")
	}
	d := sha256.Sum256([]byte("x"))
	sign := func() error { _, err := c.SignDigest(t.Context(), d[:], crypto.SHA256); return err }

	s.swapped.Store(true)
	if err := sign(); problem.StatusOf(err) != 503 {
		t.Fatalf("the first signature, by another key = %v, want 503", err)
	}
	s.swapped.Store(false)
	if err := sign(); err != nil {
		t.Fatalf("the pinned key again = %v", err)
	}
	s.swapped.Store(true)
	deadline := testclock.WallNow().Add(CheckInterval + 2*time.Second)
	for sign() == nil {
		if testclock.WallNow().After(deadline) {
			t.Fatalf("signatures by another key still passed %s after the swap", CheckInterval+2*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 3 {
		if err := sign(); problem.StatusOf(err) != 503 {
			t.Errorf("once a check failed = %v, want every signature refused", err)
		}
	}
	s.swapped.Store(false)
	if err := sign(); err != nil {
		t.Errorf("the pinned key back = %v, want it accepted", err)
	}
}
