package issuancelog_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// BenchmarkAppend appends certificates for several batch ages, from one
// client at a time and from 8 per CPU at once as concurrent issuance
// does, and reports the latency of one Append (p50, p99) beside the time
// per append (ns/op, the inverse of throughput).
func BenchmarkAppend(b *testing.B) {
	ca := logtest.NewCA(b)
	der := ca.Leaf(b, "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com")
	for _, age := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		for _, perCPU := range []int{0, 8} {
			clients := "1"
			if perCPU > 0 {
				clients = fmt.Sprintf("%dxGOMAXPROCS", perCPU)
			}
			b.Run(fmt.Sprintf("batch-max-age=%s/clients=%s", age, clients), func(b *testing.B) {
				cfg := logtest.Config(b.TempDir())
				cfg.BatchMaxAge = age
				l := logtest.Open(b, cfg, logtest.Signer(b, logtest.Origin))
				var mu sync.Mutex
				var lat []time.Duration
				run := func(next func() bool) {
					var mine []time.Duration
					for next() {
						start := time.Now()
						if _, err := l.Append(b.Context(), der); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}
				b.ResetTimer()
				if perCPU == 0 {
					run(b.Loop)
				} else {
					b.SetParallelism(perCPU)
					b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
				}
				b.StopTimer()
				slices.Sort(lat)
				if len(lat) > 0 {
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}
