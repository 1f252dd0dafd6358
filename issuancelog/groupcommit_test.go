package issuancelog

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
)

// fakeStore stands in for Tessera's Add: each entry's future blocks until
// the test releases it, and every add records how many entries had been
// stored before it.
type fakeStore struct {
	mu      sync.Mutex
	stored  int
	added   []int // per add: entries stored before it
	release chan struct{}
	nextIdx uint64
}

func (s *fakeStore) add(_ context.Context, _ *tessera.Entry) tessera.IndexFuture {
	s.mu.Lock()
	s.added = append(s.added, s.stored)
	idx := s.nextIdx
	s.nextIdx++
	s.mu.Unlock()
	return func() (tessera.Index, error) {
		<-s.release
		s.mu.Lock()
		s.stored++
		s.mu.Unlock()
		return tessera.Index{Index: idx}, nil
	}
}

func TestGroupCommitGroupsWhatQueuedBehindABusyWriter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
	}{{"no wait for company", 0}, {"a lone entry waits", 5 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeStore{release: make(chan struct{})}
			var groups []int // the size of each stored group, as observed
			g := newGroupCommitter(s.add, tc.maxAge, func(entries int, took time.Duration) {
				if took < 0 {
					t.Errorf("a group took %v", took)
				}
				s.mu.Lock()
				groups = append(groups, entries)
				s.mu.Unlock()
			})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { g.run(ctx) })
			defer func() { cancel(); wg.Wait() }()

			submit := func() *pendingEntry {
				p := &pendingEntry{entry: tessera.NewEntry([]byte("x")), result: make(chan addResult, 1), done: func() {}}
				if err := g.submit(ctx, p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			first := submit()
			waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.added) == 1 })
			var rest []*pendingEntry
			for range 4 { // queue behind the busy writer
				rest = append(rest, submit())
			}
			close(s.release)
			for _, p := range append([]*pendingEntry{first}, rest...) {
				if r := <-p.result; r.err != nil {
					t.Fatal(r.err)
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			want := []int{0, 1, 1, 1, 1} // the four went to storage together, after the first was stored
			for i := range want {
				if s.added[i] != want[i] {
					t.Fatalf("entries stored before each add: %v, want %v", s.added, want)
				}
			}
			if len(groups) != 2 || groups[0] != 1 || groups[1] != 4 {
				t.Fatalf("observed groups %v, want [1 4]", groups)
			}
		})
	}
}

func TestGroupCommitSubmitGivesUpWithItsContext(t *testing.T) {
	g := &groupCommitter{in: make(chan *pendingEntry)} // nobody reads: the queue is full
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := g.submit(ctx, &pendingEntry{}); err == nil {
		t.Fatal("submit to a full queue returned without its context ending")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
