// Package ratelimit keeps one token bucket per key (a client address, a
// verified identity) in bounded memory. Both of signet's rate limits use
// it; the buckets live in process memory, so every limit is per replica.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys tracked when Limits.MaxKeys is 0.
const DefaultMaxKeys = 10_000

// Limits configure Buckets.
type Limits struct {
	// PerSecond is the sustained rate per key; it must be positive.
	PerSecond float64
	// Burst is how many requests a key may send at once; 0 means
	// 2 × PerSecond (at least 1).
	Burst int
	// MaxKeys bounds the keys tracked; 0 means DefaultMaxKeys.
	MaxKeys int
}

// Buckets is a token bucket per key. It is safe for concurrent use.
type Buckets struct {
	limits  Limits
	refill  time.Duration // time for an empty bucket to fill up again
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns empty buckets with the defaults of l filled in.
func New(l Limits) *Buckets {
	if l.Burst <= 0 {
		l.Burst = max(1, int(math.Ceil(2*l.PerSecond)))
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	return &Buckets{limits: l, buckets: map[string]*bucket{},
		refill: time.Duration(float64(l.Burst) / l.PerSecond * float64(time.Second))}
}

// Limits returns the effective limits.
func (b *Buckets) Limits() Limits { return b.limits }

// Reserve takes a token from key's bucket at now; when none is left it
// takes nothing and returns how long until one is.
func (b *Buckets) Reserve(key string, now time.Time) (ok bool, retry time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, found := b.buckets[key]
	if !found {
		if len(b.buckets) >= b.limits.MaxKeys {
			b.evict(now)
		}
		bk = &bucket{lim: rate.NewLimiter(rate.Limit(b.limits.PerSecond), b.limits.Burst)}
		b.buckets[key] = bk
	}
	bk.seen = now
	r := bk.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of keys tracked.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}

// evict drops every bucket idle long enough to be full again (dropping it
// changes nothing) or, when none is, the one seen longest ago: memory stays
// bounded at the price of resetting that one key's bucket.
func (b *Buckets) evict(now time.Time) {
	oldest, oldestSeen := "", now
	for k, bk := range b.buckets {
		if now.Sub(bk.seen) >= b.refill {
			delete(b.buckets, k)
			continue
		}
		if oldest == "" || bk.seen.Before(oldestSeen) {
			oldest, oldestSeen = k, bk.seen
		}
	}
	if len(b.buckets) >= b.limits.MaxKeys {
		delete(b.buckets, oldest)
	}
}
