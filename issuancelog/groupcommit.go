package issuancelog

import (
	"context"
	"time"

	"github.com/transparency-dev/tessera"

	"github.com/signet-dev/signet/internal/groupcommit"
)

// groupCommitter hands entries to Tessera a whole group at a time: while
// one group is being stored, new entries wait, and every entry that
// arrived meanwhile goes to Tessera together as the next group, so each
// storage batch holds all the entries that queued behind the last one
// (group commit).
//
// Without it, Tessera's queue flushes a batch every batch-max-age and its
// single writer stores batches one after another: when storing a batch
// (several files written, each fsynced) takes longer than the age, as it
// does on most disks, a steady load becomes a line of tiny batches, each
// paying the full fsync cost. Measured on this project's 2-core VM (ext4 on
// a virtual disk): about 7 ms of CPU, mostly kernel time, per batch.
type groupCommitter struct {
	add tessera.AddFn
	in  chan *pendingEntry
	// maxAge is how long a lone entry waits for others to join its group.
	maxAge time.Duration
	// observe, if set, is told of every group once it is stored.
	observe BatchObserver
}

// tesseraFlushAge is the batch age given to Tessera itself: a group is
// added in one burst, well within it, and Tessera should then store it
// at once, not wait for more.
const tesseraFlushAge = 250 * time.Microsecond

// pendingEntry is one Append waiting for its group to be stored.
type pendingEntry struct {
	entry  *tessera.Entry
	result chan addResult // buffered: the committer never blocks on it
	done   func()         // called once the result is sent
}

// addResult is the outcome of one entry's append.
type addResult struct {
	index tessera.Index
	err   error
}

// queueDepth bounds the entries waiting for the next group.
const queueDepth = 4 * batchMaxSize

func newGroupCommitter(add tessera.AddFn, maxAge time.Duration, observe BatchObserver) *groupCommitter {
	return &groupCommitter{add: add, in: make(chan *pendingEntry, queueDepth), maxAge: maxAge, observe: observe}
}

// submit queues p for the next group, or gives up when ctx ends first.
func (g *groupCommitter) submit(ctx context.Context, p *pendingEntry) error {
	select {
	case g.in <- p:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// run stores groups until ctx ends: it takes the first waiting entry and
// every other one already queued (up to a batch), adds them all to
// Tessera, waits until they are stored, and reports each result.
func (g *groupCommitter) run(ctx context.Context) {
	group := make([]*pendingEntry, 0, batchMaxSize)
	futures := make([]tessera.IndexFuture, 0, batchMaxSize)
	results := make([]addResult, 0, batchMaxSize)
	for {
		group, futures, results = group[:0], futures[:0], results[:0]
		select {
		case p := <-g.in:
			group = append(group, p)
		case <-ctx.Done():
			return
		}
		// An idle writer costs the same file writes for one entry as for
		// many, so a lone entry waits up to maxAge for company; entries
		// that queued behind a busy writer are already many and go at once.
		group = groupcommit.Gather(g.in, group, batchMaxSize, g.maxAge, ctx.Done())
		start := time.Now()
		for _, p := range group {
			futures = append(futures, g.add(ctx, p.entry))
		}
		for _, f := range futures {
			idx, err := f()
			results = append(results, addResult{idx, err})
		}
		if g.observe != nil {
			g.observe(len(group), time.Since(start))
		}
		for i, r := range results {
			group[i].result <- r
			group[i].done()
		}
	}
}
