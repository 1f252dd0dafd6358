package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/vaultdev"
)

// TestBatchWait: with batch-wait, a digest that finds no request in
// flight waits for company, so two digests asked for a little apart share
// one transit request; without it, the first goes at once and the second
// gets its own. Every signature verifies over its own digest. The wait is
// set past the configured bound (2ms) so that a loaded machine cannot
// make the test flaky.
func TestBatchWait(t *testing.T) {
	vs := vaultdev.Start(t)
	for _, tt := range []struct {
		wait         time.Duration
		wantRequests int64
	}{{0, 2}, {time.Second, 1}} {
		t.Run(fmt.Sprintf("batch-wait=%s", tt.wait), func(t *testing.T) {
			ctx := t.Context()
			c, err := Connect(ctx, Config{Address: vs.Addr, Auth: Auth{Token: vs.RootToken}, Timeout: 3 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			if err := c.EnsureEngines(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.EnsureKey(ctx, "wait", "ecdsa-p256", false); err != nil {
				t.Fatal(err)
			}
			s, err := NewSigner(ctx, c, "wait", 0)
			if err != nil {
				t.Fatal(err)
			}
			c.cfg.BatchWait = tt.wait // before the first signature starts the batcher
			var requests atomic.Int64
			traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { requests.Add(1) }})
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					digest := sha256.Sum256(fmt.Appendf(nil, "digest %d", i))
					sig, err := s.SignDigest(traced, digest[:], crypto.SHA256)
					if err != nil || !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
						t.Errorf("digest %d: signature does not verify (%v)", i, err)
					}
				})
				time.Sleep(100 * time.Millisecond) // the first is answered meanwhile unless it waits
			}
			wg.Wait()
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("%d transit requests for 2 digests, want %d", got, tt.wantRequests)
			}
		})
	}
}

// TestOnlyAnIdleBatcherWaits: a digest asked for while a request was in
// flight goes at once with whatever else is waiting; only one that found
// the batcher idle waits batch-wait for company.
func TestOnlyAnIdleBatcherWaits(t *testing.T) {
	const wait = 300 * time.Millisecond
	b := &batcher{c: &Client{cfg: Config{BatchWait: wait}}}
	for _, tt := range []struct {
		behind bool
		want   time.Duration
	}{{true, 0}, {false, wait}} {
		if got := b.waitFor(&batchItem{behind: tt.behind}); got != tt.want {
			t.Errorf("behind a request %v: waits %s, want %s", tt.behind, got, tt.want)
		}
	}
}
