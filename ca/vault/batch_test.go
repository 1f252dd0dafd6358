package vault_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca/vault"
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
