package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/tsa"
)

// trustSource is the server's CA, TSA and trust documents. Memory and file
// keys are loaded once, at start. Vault keys are loaded in the background:
// a replica that starts while Vault is sealed or unreachable stays up, not
// ready, answering 503 with the cause, and becomes ready on its own when
// Vault answers; it then rereads the chains every vault.refresh-interval
// and follows a rotation: the new chain goes into the trusted root at
// once, and the replica issues with the new key version from
// vault.activation-delay after the rotation stored it.
type trustSource struct {
	cfg               *config.Config
	clock             func() time.Time
	log               *slog.Logger
	publicURL, tsaURL string
	// opened runs after the first load with the Vault client (nil without
	// Vault), to open what needs Vault too; it is retried until it works.
	opened func(ctx context.Context, vc *vault.Client) error

	vc       atomic.Pointer[vault.Client]
	cur      atomic.Pointer[material]
	why      atomic.Pointer[string] // why nothing is loaded, for clients
	isOpened bool                   // opened has succeeded (loop goroutine only)
	pending  *material              // loaded, issuing from activeAt (loop goroutine only)
	// scheduled is a read rotation whose documents are published at its
	// publishAt: the TUF targets switch to them at that moment exactly,
	// whenever the loop gets to it, so that what a replica's TUF
	// repository serves is a function of the time and of Vault alone.
	scheduled atomic.Pointer[material]

	stop, done chan struct{}
	closeOnce  sync.Once
}

// material is one loaded generation of keys and documents.
type material struct {
	issuer                     *ca.Issuer
	authority                  *tsa.Authority
	caSigner, tsaSigner        pki.KeySigner
	caVersion, tsaVersion      int // transit key versions (Vault); 0 otherwise
	trustedRoot, signingConfig []byte
	// since is when the newest chain in the documents became current.
	since time.Time
	// publishAt and activeAt are when a rotation's documents are published
	// and its keys issue; published records the first.
	publishAt, activeAt time.Time
	published           bool
}

// newTrustSource returns a source that is not loaded yet: call start.
func newTrustSource(cfg *config.Config, clock func() time.Time, log *slog.Logger, publicURL, tsaURL string) *trustSource {
	s := &trustSource{cfg: cfg, clock: clock, log: log, publicURL: publicURL, tsaURL: tsaURL,
		stop: make(chan struct{}), done: make(chan struct{})}
	why := "loading the keys"
	s.why.Store(&why)
	return s
}

// start loads the keys. Without Vault a failure is returned (the server
// cannot start). With Vault, a failure that passes on its own (Vault
// sealed, unreachable, without an active node, too slow) is logged and
// loading goes on in the background; any other (a refused login, TLS, a
// chain that does not match its key, a smuggled chain) is returned.
func (s *trustSource) start(ctx context.Context) error {
	if !s.cfg.UsesVault() {
		close(s.done)
		m, err := s.load(ctx, nil, nil)
		if err != nil {
			return err
		}
		s.cur.Store(m)
		if s.opened != nil {
			if err := s.opened(ctx, nil); err != nil {
				return err
			}
		}
		s.isOpened = true
		return nil
	}
	if err := s.tryLoad(ctx); err != nil {
		if !vault.IsTransient(err) {
			// A misconfiguration (login refused, TLS, a chain that does
			// not match its key) needs an operator: stop, naming it.
			if vc := s.vc.Load(); vc != nil {
				vc.Close()
			}
			close(s.done)
			return err
		}
		s.log.Warn("starting without Vault: not ready until it answers; retrying in the background", "error", err)
	}
	go s.run()
	return nil
}

// tryLoad connects to Vault if needed, loads the keys and runs opened.
func (s *trustSource) tryLoad(ctx context.Context) error {
	vc := s.vc.Load()
	if vc == nil {
		c, err := vault.Connect(ctx, s.cfg.Vault, s.log)
		if err != nil {
			s.setWhy(err)
			return fmt.Errorf("app: %w", err)
		}
		s.vc.Store(c)
		vc = c
	}
	if s.cur.Load() == nil {
		m, err := s.load(ctx, vc, nil)
		if err != nil {
			s.setWhy(err)
			return err
		}
		s.cur.Store(m)
		s.log.Info("keys loaded from Vault", "ca_key_version", m.caVersion, "tsa_key_version", m.tsaVersion)
		for _, pin := range []struct {
			name          string
			pinned, found int
		}{{"ca", s.cfg.CA.KeyVersion, m.caVersion}, {"tsa", s.cfg.TSA.KeyVersion, m.tsaVersion}} {
			if pin.pinned != 0 && pin.pinned != pin.found {
				s.log.Warn("key-version in the config is ignored: replicas follow the version stored with the chain in Vault",
					"backend", pin.name, "config_key_version", pin.pinned, "chain_key_version", pin.found)
			}
		}
	}
	if !s.isOpened && s.opened != nil {
		if err := s.opened(ctx, vc); err != nil {
			s.setWhy(err)
			return err
		}
	}
	s.isOpened = true
	return nil
}

// setWhy records a load failure in words a client may see.
func (s *trustSource) setWhy(err error) {
	msg := "the key store is not available"
	var pe *problem.Error
	var oe openError
	switch {
	case errors.As(err, &oe):
		msg = oe.what + " did not open; the server's log names the cause"
	case errors.As(err, &pe):
		msg = pe.Error()
	}
	s.why.Store(&msg)
}

// run loads in the background until it succeeds (backing off up to 30 s),
// then follows rotations every refresh-interval, until close.
func (s *trustSource) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	backoff := time.Second
	for {
		wait := s.cfg.Vault.RefreshInterval
		if s.cur.Load() == nil || !s.isOpened {
			wait = backoff
		} else if s.pending != nil {
			wait = min(wait, s.nextStep())
		}
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
		if s.cur.Load() == nil || !s.isOpened {
			if err := s.tryLoad(ctx); err != nil {
				if oe := (openError{}); errors.As(err, &oe) {
					s.log.Error(oe.what+" did not open; not ready, retrying", "error", err, "retry_in", min(2*backoff, 30*time.Second))
				} else {
					s.log.Warn("still waiting for Vault", "error", err, "retry_in", min(2*backoff, 30*time.Second))
				}
				backoff = min(2*backoff, 30*time.Second)
				continue
			}
			s.log.Info("ready: keys loaded from Vault")
			continue
		}
		s.refresh(ctx)
	}
}

// refresh follows a rotation. Every replica acts at the same moments,
// counted from when Vault recorded the new chain (its KV version time), so
// replicas agree on what they serve: the new chain goes into the trusted
// root (and TUF targets) at publishAt, one refresh interval after the
// rotation (by then every replica has read it), and is issued with from
// activeAt, activation-delay after the rotation but never before
// publishAt. An activation delay of 0 (an emergency rotation) does both at
// once, as soon as each replica reads the new chain.
func (s *trustSource) refresh(ctx context.Context) {
	if s.pending != nil {
		s.advance()
		return
	}
	vc, cur := s.vc.Load(), s.cur.Load()
	stored, err := s.storedChains(ctx, vc)
	if err != nil {
		s.log.Warn("rereading the chains in Vault failed; serving the ones loaded", "error", err)
		return
	}
	// A new key version, or a new chain for the same one (an offline
	// root that signed the intermediate again: ca import-chain).
	if stored[0].matches(cur.caVersion, cur.issuer.Chain()) && stored[1].matches(cur.tsaVersion, cur.authority.Chain()) {
		return
	}
	m, err := s.load(ctx, vc, cur)
	if err != nil {
		s.log.Error("a new chain in Vault was refused; serving the chain loaded", "error", err)
		return
	}
	delay := *s.cfg.Vault.ActivationDelay
	m.publishAt, m.activeAt = m.since, m.since
	if delay > 0 {
		m.publishAt = m.since.Add(s.cfg.Vault.RefreshInterval)
		m.activeAt = m.since.Add(max(delay, s.cfg.Vault.RefreshInterval))
	}
	s.pending = m
	if delay > 0 {
		s.scheduled.Store(m)
	}
	s.log.Info("rotation read from Vault", "publish_at", m.publishAt.UTC().Format(time.RFC3339Nano),
		"activate_at", m.activeAt.UTC().Format(time.RFC3339Nano), "ca_key_version", m.caVersion, "tsa_key_version", m.tsaVersion)
	s.advance()
}

// advance moves a pending rotation on: its documents are published from
// publishAt, its keys issue from activeAt.
func (s *trustSource) advance() {
	p, now := s.pending, s.clock()
	switch {
	case !now.Before(p.activeAt):
		s.cur.Store(p)
		s.scheduled.Store(nil)
		s.pending = nil
		s.log.Info("rotation active: issuing with the new keys", "ca_key_version", p.caVersion, "tsa_key_version", p.tsaVersion)
	case !now.Before(p.publishAt) && !p.published:
		published := *s.cur.Load()
		published.trustedRoot, published.signingConfig, published.since = p.trustedRoot, p.signingConfig, p.since
		s.cur.Store(&published)
		s.scheduled.Store(nil)
		p.published = true
		s.log.Info("rotation published: the new chain is in the trusted root; issuing with it from activation",
			"activates_at", p.activeAt.UTC().Format(time.RFC3339Nano))
	}
}

// nextStep is how long until the pending rotation's next step.
func (s *trustSource) nextStep() time.Duration {
	p := s.pending
	at := p.activeAt
	if !p.published && p.publishAt.Before(at) {
		at = p.publishAt
	}
	return max(at.Sub(s.clock()), 10*time.Millisecond)
}

// storedChains reads the chains in KV of the CA and the TSA.
func (s *trustSource) storedChains(ctx context.Context, vc *vault.Client) ([2]storedEntry, error) {
	var out [2]storedEntry
	for i, b := range []config.Backend{s.cfg.CA, s.cfg.TSA.Backend} {
		if b.Type != config.BackendVault {
			continue
		}
		sc, ok, err := vc.ReadChain(ctx, b.ChainPath)
		if err != nil {
			return out, err
		}
		if !ok {
			return out, fmt.Errorf("no chain at %s", b.ChainPath)
		}
		out[i] = storedEntry{sc}
	}
	return out, nil
}

// storedEntry is the chain KV holds for one authority; zero for an
// authority whose keys are not in Vault.
type storedEntry struct{ sc *vault.StoredChain }

// matches reports whether the stored chain is the one loaded: the same key
// version and the same certificates.
func (e storedEntry) matches(version int, loaded []*x509.Certificate) bool {
	if e.sc == nil {
		return true
	}
	return e.sc.Version == version && slices.EqualFunc(e.sc.Chain, loaded, (*x509.Certificate).Equal)
}

// close stops the background work and the Vault client.
func (s *trustSource) close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		if vc := s.vc.Load(); vc != nil {
			vc.Close()
		}
	})
}

// load builds one generation: keys, CA, TSA and documents. prev, when
// set, keeps its memory keys (they are never reloaded).
func (s *trustSource) load(ctx context.Context, vc *vault.Client, prev *material) (*material, error) {
	cfg := s.cfg
	caKey, err := loadKey(ctx, cfg.CA, "ca", vc, func(ctx context.Context) (pki.KeyChain, error) {
		if prev != nil { // a memory key lives as long as the process
			return pki.KeyChain{Signer: prev.caSigner, Chain: prev.issuer.Chain()}, nil
		}
		return ca.NewMemoryCA(ctx, cfg.Organization, s.clock(), cfg.CA.Curve())
	})
	if err != nil {
		return nil, err
	}
	tsaKey, err := loadKey(ctx, cfg.TSA.Backend, "tsa", vc, func(context.Context) (pki.KeyChain, error) {
		if prev != nil {
			return pki.KeyChain{Signer: prev.tsaSigner, Chain: prev.authority.Chain()}, nil
		}
		return tsa.NewDevChain(cfg.Organization, s.clock(), cfg.TSA.Curve())
	})
	if err != nil {
		return nil, err
	}
	m := &material{caSigner: caKey.Signer, tsaSigner: tsaKey.Signer,
		caVersion: transitVersion(caKey.Signer), tsaVersion: transitVersion(tsaKey.Signer)}
	if m.issuer, err = ca.NewIssuer(caKey, cfg.CertificateLifetime, s.clock); err != nil {
		return nil, err
	}
	policy, err := pki.ParseOID(cfg.TSA.PolicyOID)
	if err != nil {
		return nil, fmt.Errorf("app: tsa.policy-oid: %w", err)
	}
	if m.authority, err = tsa.New(tsa.Options{Key: tsaKey, Policy: policy, Clock: s.clock}); err != nil {
		return nil, err
	}
	caAuth, caSince, err := authorities(ctx, vc, cfg.CA, s.publicURL, caKey.Chain, cfg.CertificateLifetime)
	if err != nil {
		return nil, err
	}
	tsaAuth, tsaSince, err := authorities(ctx, vc, cfg.TSA.Backend, s.tsaURL, tsaKey.Chain, cfg.CertificateLifetime)
	if err != nil {
		return nil, err
	}
	if m.trustedRoot, err = bundle.TrustedRoot(caAuth, tsaAuth); err != nil {
		return nil, err
	}
	start := caKey.Chain[0].NotBefore
	if now := s.clock(); start.After(now) {
		start = now
	}
	u, _ := url.Parse(s.publicURL)
	if m.signingConfig, err = bundle.SigningConfig(s.publicURL, s.tsaURL, u.Hostname(), start); err != nil {
		return nil, err
	}
	m.since = later(caSince, tsaSince)
	return m, nil
}

// transitVersion is the transit key version of a Vault signer, else 0.
func transitVersion(s pki.KeySigner) int {
	if v, ok := s.(*vault.Signer); ok {
		return v.Version()
	}
	return 0
}
