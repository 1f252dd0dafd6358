// Package httpserver is signet's HTTP infrastructure, shared by every API:
// the router with /healthz, /readyz (cached) and /metrics, request metrics,
// panic recovery, HEAD on every GET endpoint, the per-address rate limit,
// an optional admin handler, and the JSON writers.
package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/signet-dev/signet/internal/problem"
)

var (
	errNotFound = errors.New("no such endpoint")
	errMethod   = errors.New("method not allowed on this endpoint")
	errPanic    = errors.New("internal error")
)

// Routes is a set of endpoints that mounts itself on a router.
type Routes interface {
	Register(r *mux.Router)
}

// ReadinessCheck reports whether a backend can serve now.
type ReadinessCheck func(ctx context.Context) error

// Server composes signet's HTTP surface: the APIs, /healthz, /readyz and
// /metrics, behind request logging, metrics and panic recovery.
type Server struct {
	// Routes are mounted in order.
	Routes []Routes
	// Ready are run by /readyz; any error makes signet not ready.
	Ready map[string]ReadinessCheck
	// Log receives request logs.
	Log *slog.Logger
	// Metrics is the registry served at /metrics; nil means a new one.
	Metrics *prometheus.Registry
	// ReadyTimeout bounds /readyz; 0 means 3 s.
	ReadyTimeout time.Duration
	// RateLimit bounds each client's POST requests; zero disables it.
	RateLimit RateLimit
	// SeparateAdmin serves /readyz and /metrics only on AdminHandler, for
	// an admin listener that the public cannot reach.
	SeparateAdmin bool

	once          sync.Once
	public, admin http.Handler
	draining      atomic.Bool
}

// Drain makes /readyz answer 503 from now on, at once and whatever its
// cache holds: the server is shutting down and load balancers should stop
// sending it requests, which it still serves meanwhile.
func (s *Server) Drain() { s.draining.Store(true) }

// Handler returns the public HTTP stack; tests mount it as is.
func (s *Server) Handler() http.Handler {
	s.once.Do(s.build)
	return s.public
}

// AdminHandler serves /healthz, /readyz and /metrics, for an admin listener.
func (s *Server) AdminHandler() http.Handler {
	s.once.Do(s.build)
	return s.admin
}

func (s *Server) build() {
	reg := s.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signet_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "signet_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"route"})
	_ = reg.Register(requests)
	_ = reg.Register(latency)

	r := mux.NewRouter()
	for _, routes := range s.Routes {
		routes.Register(r)
	}
	timeout := s.ReadyTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	ready := &readiness{checks: s.Ready, timeout: timeout, draining: &s.draining}
	admin := mux.NewRouter()
	for _, router := range []*mux.Router{r, admin} {
		router.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
		}).Methods(http.MethodGet)
		if router == r && s.SeparateAdmin {
			continue
		}
		router.HandleFunc("/readyz", ready.serve).Methods(http.MethodGet)
		router.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	}
	for _, router := range []*mux.Router{r, admin} {
		router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			problem.Write(w, nil, req, &problem.Error{Status: http.StatusNotFound, Code: "not_found", Err: errNotFound})
		})
		router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			problem.Write(w, nil, req, &problem.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Err: errMethod})
		})
	}
	r.Use(s.observe(requests, latency))
	if s.RateLimit.PerSecond > 0 {
		r.Use(newClientLimiter(s.RateLimit).middleware)
	}
	s.public, s.admin = withCORS(headAsGet(r)), headAsGet(admin)
}

// withCORS lets browsers call the public APIs from any origin, as Fulcio
// and the timestamp authority do (sigstore-js in a page): GET, HEAD and
// POST with a JSON or RFC 3161 body and a bearer token, never with cookies
// or other credentials, which signet does not use.
func withCORS(h http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Authorization", "Accept"},
		ExposedHeaders: []string{"Retry-After", "Signet-Log-Index"},
		MaxAge:         600,
	}).Handler(h)
}

// headAsGet answers HEAD on every GET endpoint: the request is routed as a
// GET, and net/http, which knows the client asked for HEAD, sends the
// status and headers without the body.
func headAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			get := r.Clone(r.Context())
			get.Method = http.MethodGet
			r = get
		}
		h.ServeHTTP(w, r)
	})
}

// readiness runs the checks at most once per readyCacheTTL, so that
// polling /readyz cannot turn into load on the key store.
type readiness struct {
	checks   map[string]ReadinessCheck
	timeout  time.Duration
	draining *atomic.Bool

	mu     sync.Mutex
	at     time.Time
	status int
	report map[string]string
}

// readyCacheTTL is how long a readiness answer is reused.
const readyCacheTTL = 2 * time.Second

func (rd *readiness) serve(w http.ResponseWriter, r *http.Request) {
	if rd.draining.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, "application/json", map[string]any{"ready": false,
			"checks": map[string]string{"shutdown": "shutting down: finishing the requests in flight"}})
		return
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.at) > readyCacheTTL {
		ctx, cancel := context.WithTimeout(r.Context(), rd.timeout)
		rd.status, rd.report = http.StatusOK, map[string]string{}
		for name, check := range rd.checks {
			if err := check(ctx); err != nil {
				rd.status, rd.report[name] = http.StatusServiceUnavailable, err.Error()
				continue
			}
			rd.report[name] = "ok"
		}
		cancel()
		rd.at = time.Now()
	}
	WriteJSON(w, rd.status, "application/json", map[string]any{"ready": rd.status == http.StatusOK, "checks": rd.report})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and writes it.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and writes b.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// observe logs and measures every request and turns a panic into a 500.
func (s *Server) observe(requests *prometheus.CounterVec, latency *prometheus.HistogramVec) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			route := "unmatched"
			if cur := mux.CurrentRoute(r); cur != nil {
				if tmpl, err := cur.GetPathTemplate(); err == nil {
					route = tmpl
				}
			}
			defer func() {
				if p := recover(); p != nil {
					if s.Log != nil {
						s.Log.Error("panic serving request", "path", r.URL.Path, "panic", p)
					}
					if rec.status == 0 {
						problem.Write(rec, nil, r, errPanic)
					}
				}
				requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
				latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
				if s.Log != nil {
					s.Log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
						"duration_ms", time.Since(start).Milliseconds())
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
