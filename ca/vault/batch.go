package vault

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/internal/groupcommit"
	"github.com/signet-dev/signet/internal/problem"
)

// maxBatch bounds the digests of one transit batch request.
const maxBatch = 64

// batchKey names the signatures one batcher groups: one key version and
// one hash algorithm.
type batchKey struct {
	key     string
	version int
	alg     string
}

// batcher group-commits transit signatures: while one batch request is
// in flight, every digest asked for meanwhile waits, and all of them go
// to Vault as the next request's batch_input. One HTTP request, token
// check, policy check and audit entry then serves many signatures, which
// is what a one-shot signing load spends most of its Vault time on (Vault
// signs a batch's items one after another, so the signing CPU is not
// saved, only the per-request overhead). A lone digest goes at once.
type batcher struct {
	c   *Client
	bk  batchKey
	in  chan *batchItem
	run sync.Once
	// busy is true while a request is in flight.
	busy atomic.Bool
}

// batchItem is one digest waiting for its signature.
type batchItem struct {
	ctx    context.Context
	digest []byte
	done   chan batchResult // buffered
	// behind is true when a request was in flight as it was asked for.
	behind bool
}

// batchResult is one signature or why there is none.
type batchResult struct {
	sig []byte
	err error
}

// batcherFor returns the client's batcher for bk, starting it once.
func (c *Client) batcherFor(bk batchKey) *batcher {
	v, _ := c.batchers.LoadOrStore(bk, &batcher{c: c, bk: bk, in: make(chan *batchItem, 4*maxBatch)})
	b := v.(*batcher)
	b.run.Do(func() {
		c.batchWG.Add(1)
		go b.loop()
	})
	return b
}

// sign asks for one signature and waits for it, or for ctx.
func (b *batcher) sign(ctx context.Context, digest []byte) ([]byte, error) {
	it := &batchItem{ctx: ctx, digest: digest, done: make(chan batchResult, 1), behind: b.busy.Load()}
	select {
	case b.in <- it:
	case <-ctx.Done():
		return nil, problem.Unavailable("the request ended before vault signed").WithCause(ctx.Err())
	case <-b.c.stop:
		return nil, problem.Unavailable("signet is shutting down")
	}
	select {
	case r := <-it.done:
		return r.sig, r.err
	case <-ctx.Done():
		return nil, problem.Unavailable("vault did not sign within the request's deadline").WithCause(ctx.Err())
	case <-b.c.stop:
		// The loop may have ended with it queued: it is never answered.
		return nil, problem.Unavailable("signet is shutting down")
	}
}

// loop sends a batch with every waiting digest (at most maxBatch) as soon
// as the previous one is answered, until the client closes.
func (b *batcher) loop() {
	defer b.c.batchWG.Done()
	items := make([]*batchItem, 0, maxBatch)
	for {
		items = items[:0]
		select {
		case it := <-b.in:
			items = append(items, it)
		case <-b.c.stop:
			return
		}
		items = groupcommit.Gather(b.in, items, maxBatch, b.waitFor(items[0]), b.c.stop)
		b.busy.Store(true)
		b.send(items)
		b.busy.Store(false)
	}
}

// waitFor is how long first may wait for company: batch-wait when it found
// the batcher idle, nothing when it queued behind a request in flight.
func (b *batcher) waitFor(first *batchItem) time.Duration {
	if first.behind {
		return 0
	}
	return b.c.cfg.BatchWait
}

// send signs items in one transit request and answers each.
func (b *batcher) send(items []*batchItem) {
	live := items[:0:0]
	for _, it := range items {
		if it.ctx.Err() == nil { // its caller gave up: do not sign for nobody
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return
	}
	inputs := make([]map[string]any, len(live))
	for i, it := range live {
		inputs[i] = map[string]any{"input": base64.StdEncoding.EncodeToString(it.digest)}
	}
	// The batch runs on behalf of several requests: bound it by the Vault
	// timeout, not by any one caller's context.
	ctx := context.WithoutCancel(live[0].ctx)
	sec, err := b.c.write(ctx, "sign with transit key "+b.bk.key, b.c.cfg.TransitMount+"/sign/"+b.bk.key, map[string]any{
		"batch_input":          inputs,
		"prehashed":            true,
		"hash_algorithm":       b.bk.alg,
		"marshaling_algorithm": "asn1",
		"key_version":          b.bk.version,
	})
	if err != nil {
		for _, it := range live {
			it.done <- batchResult{err: err}
		}
		return
	}
	sigs, err := parseBatchSignatures(sec, b.bk.key, len(live))
	for i, it := range live {
		if err != nil {
			it.done <- batchResult{err: err}
			continue
		}
		it.done <- sigs[i]
	}
}

// parseBatchSignatures reads n batch_results, in input order.
func parseBatchSignatures(sec *api.Secret, key string, n int) ([]batchResult, error) {
	if sec == nil {
		return nil, problem.Unavailable("vault returned no signatures for transit key %s", key)
	}
	results, _ := sec.Data["batch_results"].([]any)
	if len(results) != n {
		return nil, problem.Unavailable("vault returned %d signatures for %d digests (transit key %s)", len(results), n, key)
	}
	out := make([]batchResult, n)
	for i, r := range results {
		m, _ := r.(map[string]any)
		if msg, _ := m["error"].(string); msg != "" {
			out[i].err = problem.Unavailable("vault could not sign with transit key %s", key).WithCause(fmt.Errorf("batch item %d: %s", i, msg))
			continue
		}
		raw, _ := m["signature"].(string)
		parts := strings.Split(raw, ":")
		if len(parts) != 3 || parts[0] != "vault" {
			out[i].err = problem.Unavailable("vault returned a malformed signature for transit key %s", key)
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(parts[2])
		if err != nil {
			out[i].err = problem.Unavailable("vault returned a malformed signature for transit key %s", key)
			continue
		}
		out[i].sig = sig
	}
	return out, nil
}
