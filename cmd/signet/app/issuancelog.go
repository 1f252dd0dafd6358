package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/issuancelog"
)

// LogPath is where the issuance log is served, in the C2SP tlog-tiles
// layout: LogPath+"/checkpoint", LogPath+"/tile/...", LogPath+"/key".
const LogPath = "/api/v1/log"

// issuanceLog is the opened log with its metrics; it is the service's
// keyless.IssuanceLog and mounts itself under LogPath.
type issuanceLog struct {
	log      *issuancelog.Log
	latency  prometheus.Histogram
	failures prometheus.Counter
	size     prometheus.Gauge
}

// openLog opens the issuance log the configuration asks for: nil when it
// is off; a temporary directory and a key made now when it is ephemeral
// (development); else the configured directory and key, a file or a Vault
// transit key (through vc, the app's Vault client).
func (a *App) openLog(ctx context.Context, cfg *config.Config, vc *vault.Client, log *slog.Logger, reg *prometheus.Registry) (*issuanceLog, error) {
	lc := cfg.EffectiveLog()
	var signer issuancelog.Signer
	var err error
	if lc.Ephemeral() {
		if lc.Dir, err = os.MkdirTemp("", "signet-log-"); err != nil {
			return nil, fmt.Errorf("app: log: temporary directory: %w", err)
		}
		dir := lc.Dir
		a.onClose(func() { _ = os.RemoveAll(dir) })
		if signer, _, err = issuancelog.GenerateKey(rand.Reader, lc.Origin); err != nil {
			return nil, fmt.Errorf("app: log: %w", err)
		}
		log.Warn("issuance log is temporary (development): it is deleted when signet stops", "dir", dir)
	} else if name, ok := lc.TransitKey(); ok {
		if signer, err = transitLogSigner(ctx, vc, name, lc.Origin); err != nil {
			return nil, fmt.Errorf("app: log.key %s: %w", lc.Key, err)
		}
	} else if signer, err = issuancelog.LoadKeySigner(lc.Key); err != nil {
		return nil, fmt.Errorf("app: log.key %s: %w", lc.Key, err)
	}
	batchTime := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "signet_log_batch_duration_seconds",
		Help:    "Time the issuance log's storage took to store one group of entries (its share of every append's latency).",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14),
	})
	batchSize := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "signet_log_batch_entries", Help: "Entries in each group the issuance log stored together.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9),
	})
	l, err := issuancelog.Open(ctx, lc.Config, signer, log, issuancelog.WithBatchObserver(func(entries int, took time.Duration) {
		batchTime.Observe(took.Seconds())
		batchSize.Observe(float64(entries))
	}))
	if err != nil {
		return nil, fmt.Errorf("app: log: %w", err)
	}
	a.onClose(func() {
		cctx, cancel := context.WithTimeout(context.Background(), issuancelog.CloseTimeout)
		defer cancel()
		if err := l.Close(cctx); err != nil {
			log.Error("closing the issuance log", "error", err)
		}
	})
	il := &issuanceLog{
		log: l,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "signet_log_append_duration_seconds", Help: "Time to store an issued certificate in the issuance log.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_log_append_failures_total", Help: "Certificates not issued because the issuance log could not store them.",
		}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signet_log_size", Help: "Entries in the issuance log as this replica last appended (index + 1).",
		}),
	}
	reg.MustRegister(il.latency, il.failures, il.size, batchTime, batchSize)
	log.Info("issuance log open", "origin", lc.Origin, "verifier_key", l.VerifierKey())
	return il, nil
}

// transitLogSigner is the checkpoint signer of the latest version of the
// Vault transit ed25519 key name: Vault signs each checkpoint, the key
// never leaves it.
func transitLogSigner(ctx context.Context, vc *vault.Client, name, origin string) (issuancelog.Signer, error) {
	if vc == nil {
		return nil, errors.New("a transit key needs the CA in Vault")
	}
	info, ok, err := vc.ReadKey(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("transit key %s does not exist: run `signet ca init --backend vault`", name)
	}
	pub, ok := info.Public[info.Latest].(ed25519.PublicKey)
	if info.Type != "ed25519" || !ok {
		return nil, fmt.Errorf("transit key %s is %s, not ed25519", name, info.Type)
	}
	version := info.Latest
	return issuancelog.NewEd25519Signer(origin, pub, vc.Config().Timeout, func(ctx context.Context, msg []byte) ([]byte, error) {
		return vc.SignMessage(ctx, name, version, msg)
	})
}

// Append stores der and records the append's latency and outcome.
func (il *issuanceLog) Append(ctx context.Context, der []byte) (uint64, error) {
	start := time.Now()
	index, err := il.log.Append(ctx, der)
	il.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		il.failures.Inc()
		return 0, err
	}
	il.size.Set(float64(index + 1))
	return index, nil
}

// Register serves the log read-only under LogPath.
func (il *issuanceLog) Register(r *mux.Router) {
	r.PathPrefix(LogPath + "/").Handler(http.StripPrefix(LogPath, il.log.Handler())).Methods(http.MethodGet)
}

// Ready reports whether the log can take appends.
func (il *issuanceLog) Ready(ctx context.Context) error { return il.log.Ready(ctx) }

// lateLog is the issuance log, opened once the keys are loaded (with a
// Vault transit checkpoint key, possibly after start); until then appends
// and reads answer 503, so nothing is issued unlogged.
type lateLog struct {
	log atomic.Pointer[issuanceLog]
	why func() string // why it is not open yet, for clients
}

func (l *lateLog) get() *issuanceLog   { return l.log.Load() }
func (l *lateLog) set(il *issuanceLog) { l.log.Store(il) }

// errNotOpen is what clients get before the log is open.
func (l *lateLog) errNotOpen() error {
	return problem.Unavailable("the issuance log is not open yet (%s): try again shortly", l.why()).WithRetryAfter(time.Second)
}

// Append stores der in the log, once it is open.
func (l *lateLog) Append(ctx context.Context, der []byte) (uint64, error) {
	il := l.get()
	if il == nil {
		return 0, l.errNotOpen()
	}
	return il.Append(ctx, der)
}

// Register serves the log read-only under LogPath, once it is open.
func (l *lateLog) Register(r *mux.Router) {
	r.PathPrefix(LogPath + "/").Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		il := l.get()
		if il == nil {
			problem.Write(w, nil, req, l.errNotOpen())
			return
		}
		http.StripPrefix(LogPath, il.log.Handler()).ServeHTTP(w, req)
	})).Methods(http.MethodGet)
}

// Ready reports whether the log is open and can take appends.
func (l *lateLog) Ready(ctx context.Context) error {
	il := l.get()
	if il == nil {
		return fmt.Errorf("the issuance log is not open yet (%s)", l.why())
	}
	return il.Ready(ctx)
}
