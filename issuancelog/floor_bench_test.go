package issuancelog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"

	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// BenchmarkTesseraPOSIXFloor measures what one durable append costs in
// Tessera's POSIX driver alone, with none of signet around it: one entry
// at a time, each added and awaited before the next (so every append is
// a group of one), on a log already holding 5000 entries (two tile
// levels), in the directory $SIGNET_BENCH_DIR (default: the test's
// temporary directory). gap is the pause before each append: none (back
// to back), or 10ms, an append every 10 ms or so as a lightly loaded
// server makes them, where the machine idles between appends.
// It is the floor under signet's append latency on a given disk: no
// batching or scheduling of signet's can make a durable append cheaper.
func BenchmarkTesseraPOSIXFloor(b *testing.B) {
	ca := logtest.NewCA(b)
	der := ca.Leaf(b, "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com")
	const size = 5000
	for _, gap := range []time.Duration{0, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%s", gap), func(b *testing.B) {
			dir := b.TempDir()
			if base := os.Getenv("SIGNET_BENCH_DIR"); base != "" {
				var err error
				if dir, err = os.MkdirTemp(base, "floor"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = os.RemoveAll(dir) })
			}
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			add := openTessera(ctx, b, filepath.Join(dir, "log"))
			grow(ctx, b, add, der, size)
			lat := make([]time.Duration, 0, 1024)
			b.ResetTimer()
			for b.Loop() {
				time.Sleep(gap)
				start := time.Now()
				if _, err := add(ctx, tessera.NewEntry(der))(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// openTessera starts Tessera's POSIX appender on dir with a batch of one
// flushed at once, as signet's group committer hands Tessera its groups.
func openTessera(ctx context.Context, b *testing.B, dir string) tessera.AddFn {
	b.Helper()
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(logtest.Signer(b, logtest.Origin)).
		WithBatching(256, 250*time.Microsecond).
		WithCheckpointInterval(time.Second)
	app, shutdown, _, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	})
	return app.Add
}

// grow appends n entries in batches of 256, so the measured appends land
// on a tree with as many tile levels as a log of that size has.
func grow(ctx context.Context, b *testing.B, add tessera.AddFn, der []byte, n int) {
	b.Helper()
	for n > 0 {
		batch := min(n, 256)
		futures := make([]tessera.IndexFuture, batch)
		for i := range futures {
			futures[i] = add(ctx, tessera.NewEntry(der))
		}
		for _, f := range futures {
			if _, err := f(); err != nil {
				b.Fatal(err)
			}
		}
		n -= batch
	}
}
