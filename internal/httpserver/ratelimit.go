package httpserver

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/internal/ratelimit"
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
type clientLimiter struct{ buckets *ratelimit.Buckets }

func newClientLimiter(cfg RateLimit) *clientLimiter {
	return &clientLimiter{buckets: ratelimit.New(ratelimit.Limits{PerSecond: cfg.PerSecond, Burst: cfg.Burst, MaxKeys: cfg.MaxClients})}
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
			if ok, retry := l.buckets.Reserve(host, time.Now()); !ok {
				secs := int(math.Ceil(retry.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				problem.Write(w, nil, r, problem.TooManyRequests("too many requests from this client: retry in %d s", secs))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
