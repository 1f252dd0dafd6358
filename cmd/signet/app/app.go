// Package app assembles a signet server from its configuration: it picks
// the key backends, builds the CA, the TSA, the authenticator and the trust
// documents, and mounts every API on one handler. The signet binary and the
// in-process test harness both start signet through New.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/devissuer"
	"github.com/signet-dev/signet/internal/httpserver"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/keyless/httpapi"
	"github.com/signet-dev/signet/tsa"
	"github.com/signet-dev/signet/tufrepo"
)

// DevRequestToken is the fixed runner request token of the --dev issuer.
const DevRequestToken = "signet-dev-insecure"

// DevIssuerPath is where the --dev issuer is mounted.
const DevIssuerPath = "/dev/oidc"

// App is an assembled signet server.
type App struct {
	// Handler is the whole public HTTP stack.
	Handler http.Handler
	// AdminHandler serves /healthz, /readyz and /metrics; with
	// admin-listen set, only it serves the last two.
	AdminHandler http.Handler
	// PublicURL is the URL clients reach the server at.
	PublicURL string
	// DevIssuer is the built-in, insecure test issuer, in dev mode only.
	DevIssuer *devissuer.Issuer

	clock func() time.Time
	// closers release what was opened, last first; the issuance log may
	// be opened late, from the trust source's goroutine, hence the lock.
	closersMu sync.Mutex
	closers   []func()
	closed    bool
	usesVault bool
	trust     *trustSource
	server    *httpserver.Server
}

// TrustedRoot is the trusted_root.json that verifies this server's
// bundles now; nil while the keys are not loaded.
func (a *App) TrustedRoot() []byte {
	if a.trust == nil {
		return nil
	}
	tr, _ := a.trust.TrustedRoot()
	return tr
}

// Drain makes /readyz report not ready at once: the server is shutting
// down, still serving what reaches it.
func (a *App) Drain() {
	if a.server != nil {
		a.server.Drain()
	}
}

// Close releases background work (the Vault login renewal, the issuance
// log). What is opened after Close began is closed as it is registered.
func (a *App) Close() {
	a.closersMu.Lock()
	closers := a.closers
	a.closers, a.closed = nil, true
	a.closersMu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- { // last opened, first closed
		closers[i]()
	}
}

// onClose registers f for Close, or runs it now if Close has begun.
func (a *App) onClose(f func()) {
	a.closersMu.Lock()
	if !a.closed {
		a.closers = append(a.closers, f)
		a.closersMu.Unlock()
		return
	}
	a.closersMu.Unlock()
	f()
}

// Env is what New takes from its caller beside the configuration.
type Env struct {
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// Clock is the time source of the CA, the TSA, token checks and the
	// memory chains; nil means time.Now. The signet binary always uses the
	// wall clock; the in-process test harness injects the tests' clock.
	Clock func() time.Time
}

// New builds a server from a validated configuration.
func New(ctx context.Context, cfg *config.Config, env Env) (*App, error) {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.Clock == nil {
		env.Clock = time.Now
	}
	a := &App{PublicURL: cfg.EffectivePublicURL(), clock: env.Clock, usesVault: cfg.UsesVault()}
	if err := a.build(ctx, cfg, env.Log); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	idcfg, routes, err := a.identityConfig(cfg, log)
	if err != nil {
		return err
	}
	idopts := cfg.OIDC.Options(log)
	idopts.Clock = a.clock
	auth, err := identity.NewAuthenticator(idcfg, idopts)
	if err != nil {
		return err
	}
	claimPolicy, err := identity.NewPolicy(cfg.Policy, idcfg, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	src := newTrustSource(cfg, a.clock, log, a.PublicURL, a.PublicURL+"/api/v1/timestamp")
	a.trust = src
	il, repo := &lateLog{why: src.whyNot}, &lateTUF{why: src.whyNot}
	src.opened = func(ctx context.Context, vc *vault.Client) error {
		if cfg.EffectiveLog().Enabled() && il.get() == nil {
			l, err := a.openLog(ctx, cfg, vc, log, reg)
			if err != nil {
				return openError{"the issuance log", err}
			}
			il.set(l)
		}
		if cfg.TUFEnabled() && repo.get() == nil && repo.refused.Load() == nil {
			r, err := a.openTUF(ctx, cfg, vc, src.targets, log)
			if errors.Is(err, tufrepo.ErrRootExpired) {
				// Trust distribution is down, signing need not be.
				log.Error("the TUF repository is not served; signing goes on", "error", err)
				why := "its root has expired; the operator must sign a new one"
				repo.refused.Store(&why)
				return nil
			}
			if err != nil {
				return openError{"the TUF repository", err}
			}
			repo.set(r)
		}
		return nil
	}
	if err := src.start(ctx); err != nil {
		return err
	}
	a.onClose(src.close)

	issued := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signet_certificates_issued_total", Help: "Certificates issued, by kind of request.",
	}, []string{"kind"})
	reg.MustRegister(issued)
	reg.MustRegister(a.expiryMetrics(src)...)
	svc := &keyless.Service{Auth: auth, CA: src, TSA: src, Log: log,
		OnIssue: func(kind string) { issued.WithLabelValues(kind).Inc() }}
	if len(cfg.Policy.Rules) > 0 {
		svc.Policy = claimPolicy
	}
	if svc.Limit, err = identityLimiter(cfg.RateLimit.PerIdentity, idcfg, a.clock); err != nil {
		return err
	}
	ready := map[string]httpserver.ReadinessCheck{
		"ca":  src.ready(func(m *material) pki.KeySigner { return m.caSigner }),
		"tsa": src.ready(func(m *material) pki.KeySigner { return m.tsaSigner }),
	}
	if cfg.EffectiveLog().Enabled() {
		svc.IssuanceLog = il
		routes = append(routes, il)
		ready["log"] = il.Ready
	} else {
		log.Warn("issuance log is off: certificates are issued without a record")
	}
	if cfg.TUFEnabled() {
		routes = append(routes, repo)
		ready["tuf"] = repo.Ready
	}
	api := &httpapi.API{Service: svc, Documents: src, Issuers: issuerInfo(idcfg), Log: log}
	routes = append(routes, api, &tsa.API{Authority: src, Log: log})
	srv := &httpserver.Server{Routes: routes, Log: log, Metrics: reg, Ready: ready, SeparateAdmin: cfg.AdminListen != "",
		RateLimit: httpserver.RateLimit{PerSecond: cfg.RateLimit.PerSecond, Burst: cfg.RateLimit.Burst, MaxClients: cfg.RateLimit.MaxClients}}
	a.Handler, a.AdminHandler, a.server = srv.Handler(), srv.AdminHandler(), srv
	return nil
}

// openError is a part of the server (the issuance log, the TUF
// repository) that did not open once the keys were loaded: its cause is
// for the server's log, not for clients.
type openError struct {
	what string // "the issuance log", "the TUF repository"
	err  error
}

// Error is the cause's message.
func (e openError) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e openError) Unwrap() error { return e.err }

// identityLimiter builds the per-identity rate limit over every trusted
// issuer (the dev issuer too), each with its effective key kind; nil when
// the limit is off.
func identityLimiter(l config.IdentityRateLimit, idcfg identity.Config, clock func() time.Time) (keyless.IdentityLimiter, error) {
	if l.PerSecond == 0 {
		return nil, nil
	}
	rl := keyless.IdentityRateLimit{PerSecond: l.PerSecond, Burst: l.Burst, MaxIdentities: l.MaxIdentities,
		Issuers: map[string]keyless.IdentityKey{}, MetaIssuers: map[string]keyless.IdentityKey{}}
	for u, iss := range idcfg.OIDCIssuers {
		rl.Issuers[u] = keyless.IdentityKey(l.KeyFor(u, iss))
	}
	for pattern, iss := range idcfg.MetaIssuers {
		rl.MetaIssuers[pattern] = keyless.IdentityKey(l.KeyFor(pattern, iss))
	}
	b, err := keyless.NewIdentityBuckets(rl, clock)
	if err != nil {
		return nil, fmt.Errorf("app: rate-limit.per-identity: %w", err)
	}
	return b, nil
}

// identityConfig returns the trusted issuers: the configured ones (GitHub
// Actions by default) and, in dev mode, the built-in insecure issuer
// (logging to log) and its routes.
func (a *App) identityConfig(cfg *config.Config, log *slog.Logger) (identity.Config, []httpserver.Routes, error) {
	idcfg := cfg.EffectiveIdentity()
	if !cfg.Dev {
		return idcfg, nil, nil
	}
	var err error
	if a.DevIssuer, err = devissuer.New(a.PublicURL+DevIssuerPath, devissuer.Options{
		RequestToken: DevRequestToken, Clock: a.clock, Log: log,
	}); err != nil {
		return identity.Config{}, nil, fmt.Errorf("app: dev issuer: %w", err)
	}
	idcfg.OIDCIssuers = maps.Clone(idcfg.OIDCIssuers)
	if idcfg.OIDCIssuers == nil {
		idcfg.OIDCIssuers = map[string]identity.Issuer{}
	}
	idcfg.OIDCIssuers[a.DevIssuer.URL()] = identity.Issuer{
		IssuerURL: a.DevIssuer.URL(), ClientID: "sigstore", Type: identity.TypeGitHubWorkflow,
		Description: "signet --dev built-in test issuer (insecure)",
	}
	return idcfg, []httpserver.Routes{devRoutes{a.DevIssuer}}, nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loadKey is the one place a key backend is chosen.
func loadKey(ctx context.Context, b config.Backend, name string, vc *vault.Client, memory func(context.Context) (pki.KeyChain, error)) (pki.KeyChain, error) {
	switch b.Type {
	case config.BackendMemory:
		return memory(ctx)
	case config.BackendVault:
		// The key version is the one recorded with the chain in KV, so a
		// replica follows a rotation; a key-version in the config (written
		// by earlier releases of ca init) is ignored.
		kc, err := vc.KeyChain(ctx, b.Key, 0, b.ChainPath)
		if err != nil {
			return pki.KeyChain{}, fmt.Errorf("app: %s: %w", name, err)
		}
		return kc, nil
	case config.BackendFile:
		kc, err := pki.LoadFiles(b.KeyFile, b.ChainFile)
		if err != nil {
			return pki.KeyChain{}, fmt.Errorf("app: %s: %w", name, err)
		}
		return kc, nil
	}
	return pki.KeyChain{}, fmt.Errorf("app: %s: unknown backend type %q", name, b.Type)
}

// rotationGrace is how long a rotated-out chain stays trusted after the
// rotation, for replicas that still issue with it until they restart.
const rotationGrace = time.Hour

// authorities lists an authority for the trusted root: its current chain
// and, for a Vault backend, every checked chain a rotation replaced, each
// trusted for the period it was current (plus a grace period), so older
// bundles keep verifying. since is when the current chain became current:
// when it was stored in Vault, else its certificate's start.
func authorities(ctx context.Context, vc *vault.Client, b config.Backend, uri string, current []*x509.Certificate, lifetime time.Duration) (out []bundle.Authority, since time.Time, err error) {
	since = current[0].NotBefore
	if b.Type != config.BackendVault {
		return []bundle.Authority{{URI: uri, Chain: current}}, since, nil
	}
	history, err := vc.ChainHistory(ctx, b.ChainPath)
	if err != nil {
		return nil, since, fmt.Errorf("app: chain history of %s: %w", b.ChainPath, err)
	}
	var past []vault.ChainPeriod
	for _, p := range history {
		if !p.Until.IsZero() {
			past = append(past, p)
		} else if p.From.After(since) {
			since = p.From
		}
	}
	if err := vc.CheckHistory(ctx, b.Key, past, current); err != nil {
		return nil, since, fmt.Errorf("app: chain history of %s: %w", b.ChainPath, err)
	}
	for _, p := range past {
		out = append(out, bundle.Authority{URI: uri, Chain: p.Chain, ValidUntil: p.Until.Add(lifetime + rotationGrace)})
	}
	return append(out, bundle.Authority{URI: uri, Chain: current}), since, nil
}

// readiness checks a signer that can report its health (a remote key
// store); a key in memory or a file is always ready.
func readiness(s pki.KeySigner) httpserver.ReadinessCheck {
	return func(ctx context.Context) error {
		if r, ok := s.(interface{ Ready(context.Context) error }); ok {
			return r.Ready(ctx)
		}
		return nil
	}
}

// issuerInfo lists the trusted issuers for /api/v2/configuration as
// Fulcio's configuration does, each with the challenge claim its type's
// mapping checks.
func issuerInfo(cfg identity.Config) []httpapi.IssuerInfo {
	var out []httpapi.IssuerInfo
	for u, iss := range cfg.OIDCIssuers {
		info := describeIssuer(iss)
		info.IssuerURL = u
		out = append(out, info)
	}
	for u, iss := range cfg.MetaIssuers {
		info := describeIssuer(iss)
		info.WildcardURL = u
		out = append(out, info)
	}
	return out
}

// describeIssuer is iss's configuration entry without its URL.
func describeIssuer(iss identity.Issuer) httpapi.IssuerInfo {
	return httpapi.IssuerInfo{Audience: iss.ClientID, ChallengeClaim: identity.ChallengeClaim(iss), IssuerType: iss.Type,
		SPIFFETrustDomain: iss.SPIFFETrustDomain, SubjectDomain: iss.SubjectDomain, SkipEmailVerification: iss.SkipEmailVerification}
}

// devRoutes mounts the dev issuer under DevIssuerPath.
type devRoutes struct{ iss *devissuer.Issuer }

// Register mounts the dev issuer under DevIssuerPath.
func (d devRoutes) Register(r *mux.Router) {
	r.PathPrefix(DevIssuerPath + "/").Handler(http.StripPrefix(DevIssuerPath, d.iss.Handler()))
}
