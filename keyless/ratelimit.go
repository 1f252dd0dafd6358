package keyless

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/signet-dev/signet/keyless/problem"
)

// RateLimit bounds the POST requests (certificates, bundles, timestamps)
// of each client address. The zero value disables it.
type RateLimit struct {
	// PerSecond is the sustained rate per client; 0 disables the limit.
	PerSecond float64 `yaml:"requests-per-second,omitempty"`
	// Burst is how many requests a client may send at once; default 2×PerSecond.
	Burst int `yaml:"burst,omitempty"`
	// MaxClients bounds the addresses tracked; default 10,000.
	MaxClients int `yaml:"max-clients,omitempty"`
}

// clientLimiter holds one token bucket per client address.
type clientLimiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiter(cfg RateLimit) *clientLimiter {
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(2*cfg.PerSecond)))
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10_000
	}
	return &clientLimiter{cfg: cfg, clients: map[string]*bucket{}}
}

// reserve takes a token for client; when none is left it returns how long
// until one is.
func (l *clientLimiter) reserve(client string, now time.Time) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.clients[client]
	if !found {
		if len(l.clients) >= l.cfg.MaxClients {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.PerSecond), l.cfg.Burst)}
		l.clients[client] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops idle clients, and everyone if all are busy, to bound memory.
func (l *clientLimiter) evict(now time.Time) {
	for k, b := range l.clients {
		if now.Sub(b.seen) > time.Minute {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= l.cfg.MaxClients {
		clear(l.clients)
	}
}

// middleware answers 429 with Retry-After to clients over their rate.
func (l *clientLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			if ok, retry := l.reserve(host, time.Now()); !ok {
				secs := int(math.Ceil(retry.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				problem.Write(w, nil, r, problem.TooManyRequests("too many requests from %s: retry in %d s", host, secs))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
