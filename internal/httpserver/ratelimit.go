package httpserver

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/signet-dev/signet/internal/problem"
)

// RateLimit bounds the POST requests (certificates, bundles, timestamps)
// of each client address. The zero value disables it.
type RateLimit struct {
	// PerSecond is the sustained rate per client; 0 disables the limit.
	PerSecond float64
	// Burst is how many requests a client may send at once; default 2×PerSecond.
	Burst int
	// MaxClients bounds the addresses tracked; default 10,000.
	MaxClients int
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

// evict drops idle clients or, when none is idle, the one seen longest
// ago, to bound memory without resetting anyone else's bucket.
func (l *clientLimiter) evict(now time.Time) {
	oldest, oldestSeen := "", now
	for k, b := range l.clients {
		if now.Sub(b.seen) > time.Minute {
			delete(l.clients, k)
			continue
		}
		if b.seen.Before(oldestSeen) || oldest == "" {
			oldest, oldestSeen = k, b.seen
		}
	}
	if len(l.clients) >= l.cfg.MaxClients {
		delete(l.clients, oldest)
	}
}

// clientKey is the rate-limited identity of a remote address: the IPv4
// address, or the /64 of an IPv6 address (one host holds a whole /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// middleware answers 429 with Retry-After to clients over their rate.
func (l *clientLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			host := clientKey(r.RemoteAddr)
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
