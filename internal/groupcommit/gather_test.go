package groupcommit

import (
	"testing"
	"time"
)

// TestGather: the items already waiting join the first, up to max; a lone
// first item waits for company only when given a wait, and the group then
// closes when full, when the wait ends or when done closes.
func TestGather(t *testing.T) {
	const wait = 200 * time.Millisecond
	closed := make(chan struct{})
	close(closed)
	for _, tt := range []struct {
		name      string
		waiting   int // items queued before Gather
		late      int // items sent 20ms after Gather starts
		max       int
		wait      time.Duration
		done      <-chan struct{}
		wantItems int
		minTook   time.Duration
		maxTook   time.Duration
	}{
		{"takes those waiting", 3, 0, 10, wait, nil, 4, 0, wait / 2},
		{"up to max", 20, 0, 5, wait, nil, 5, 0, wait / 2},
		{"lone without a wait goes at once", 0, 1, 10, 0, nil, 1, 0, wait / 2},
		{"lone with a wait gathers late company until the wait ends", 0, 2, 10, wait, nil, 3, wait, 2 * wait},
		{"a full group closes the wait early", 0, 4, 3, wait, nil, 3, 0, wait / 2},
		{"done ends the wait", 0, 0, 10, wait, closed, 1, 0, wait / 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := make(chan int, 32)
			for i := range tt.waiting {
				in <- i
			}
			go func() {
				time.Sleep(20 * time.Millisecond)
				for i := range tt.late {
					in <- 100 + i
				}
			}()
			start := time.Now()
			got := Gather(in, []int{-1}, tt.max, tt.wait, tt.done)
			took := time.Since(start)
			if len(got) != tt.wantItems || got[0] != -1 {
				t.Errorf("gathered %v, want %d items led by the first", got, tt.wantItems)
			}
			if took < tt.minTook || took > tt.maxTook {
				t.Errorf("took %s, want between %s and %s", took, tt.minTook, tt.maxTook)
			}
			time.Sleep(30 * time.Millisecond) // let the sender finish before the channel goes
		})
	}
}
