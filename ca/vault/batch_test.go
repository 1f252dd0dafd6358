package vault_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"net/http/httptrace"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/problem"
)

// TestBatchedSignaturesEachVerify: many digests signed at once through one
// transit key version (batched into shared requests) each get their own
// signature, valid for their own digest, and a caller whose context ended
// gets an error, not a signature.
func TestBatchedSignaturesEachVerify(t *testing.T) {
	_, c := connect(t)
	ctx := t.Context()
	if _, err := c.EnsureKey(ctx, "batch", "ecdsa-p384", false); err != nil {
		t.Fatal(err)
	}
	s, err := vault.NewSigner(ctx, c, "batch", 0)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public().(*ecdsa.PublicKey)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			digest := digestOf(crypto.SHA384, fmt.Appendf(nil, "message %d", i))
			sig, err := s.SignDigest(ctx, digest, crypto.SHA384)
			switch {
			case err != nil:
				errs <- fmt.Errorf("digest %d: %w", i, err)
			case !ecdsa.VerifyASN1(pub, digest, sig):
				errs <- fmt.Errorf("digest %d: the signature is not over it", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.SignDigest(done, digestOf(crypto.SHA384, []byte("late")), crypto.SHA384); err == nil {
		t.Error("a caller whose context had ended got a signature")
	}
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	if _, err := s.SignDigest(short, digestOf(crypto.SHA384, []byte("late")), crypto.SHA384); err == nil {
		t.Error("a caller past its deadline got a signature")
	}
}

// TestConnectionsToVaultAreReused: 16 callers signing at once (batching
// off, so 16 requests are in flight) reuse their connections round after
// round: vault/api's default pool keeps only GOMAXPROCS+1 idle ones per
// host, so the rest were dialled anew every round.
func TestConnectionsToVaultAreReused(t *testing.T) {
	vs, _ := connect(t)
	ctx := t.Context()
	// vault/api's default pool holds GOMAXPROCS+1: as on a 2-core server,
	// whatever cores run this test.
	procs := runtime.GOMAXPROCS(2)
	c, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}, Timeout: 3 * time.Second, NoBatch: true}, nil)
	runtime.GOMAXPROCS(procs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.EnsureKey(ctx, "reuse", "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
	s, err := vault.NewSigner(ctx, c, "reuse", 0)
	if err != nil {
		t.Fatal(err)
	}
	var dialled, reused atomic.Int64
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused.Add(1)
		} else {
			dialled.Add(1)
		}
	}})
	// Rounds in lockstep: all 16 requests of a round are answered before
	// the next starts, so between rounds all 16 connections sit idle.
	const callers, rounds = 16, 10
	for j := range rounds {
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				digest := digestOf(crypto.SHA256, fmt.Appendf(nil, "message %d/%d", i, j))
				if _, err := s.SignDigest(traced, digest, crypto.SHA256); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// Each caller holds one connection at a time, so a pool that keeps
	// them all never dials more than one per caller.
	if d := dialled.Load(); d > callers {
		t.Errorf("%d connections dialled for %d requests from %d callers (%d reused): the idle pool drops them", d, callers*rounds, callers, reused.Load())
	}
}

// TestSignAfterCloseReturns: a signature asked for after Close, with a
// context that never ends, is answered (503), never left waiting on a
// batch loop that has stopped.
func TestSignAfterCloseReturns(t *testing.T) {
	vs, admin := connect(t)
	ctx := context.Background()
	if _, err := admin.EnsureKey(ctx, "closed", "ecdsa-p256", false); err != nil {
		t.Fatal(err)
	}
	c, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := vault.NewSigner(ctx, c, "closed", 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	done := make(chan error, 1)
	go func() {
		var err error
		for range 50 {
			if _, err = s.SignDigest(ctx, digestOf(crypto.SHA256, []byte("x")), crypto.SHA256); err == nil {
				break
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if problem.StatusOf(err) != 503 {
			t.Errorf("SignDigest after Close = %v, want 503", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SignDigest after Close did not return within 10s")
	}
}
