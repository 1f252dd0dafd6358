package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/tufrepo"
)

// What the trust source serves: it is the service's CA and TSA, the
// API's trust documents and the TUF repository's content, each answering
// a 503 that names the cause while the keys are not loaded.

// material returns the generation issuing now, or a 503 naming why
// there is none yet.
func (s *trustSource) material() (*material, error) {
	if m := s.cur.Load(); m != nil {
		return m, nil
	}
	return nil, problem.Unavailable("signet has not loaded its keys yet (%s): try again shortly", *s.why.Load()).
		WithRetryAfter(time.Second)
}

// Issue certifies pub with the CA issuing now.
func (s *trustSource) Issue(ctx context.Context, pub crypto.PublicKey, who ca.Embedder) (*x509.Certificate, error) {
	cert, _, err := s.IssueWithChain(ctx, pub, who)
	return cert, err
}

// IssueWithChain certifies pub and returns the chain that issued it.
func (s *trustSource) IssueWithChain(ctx context.Context, pub crypto.PublicKey, who ca.Embedder) (*x509.Certificate, []*x509.Certificate, error) {
	m, err := s.material()
	if err != nil {
		return nil, nil, err
	}
	cert, err := m.issuer.Issue(ctx, pub, who)
	return cert, m.issuer.Chain(), err
}

// Chain is the CA chain issuing now; nil before the keys are loaded.
func (s *trustSource) Chain() []*x509.Certificate {
	if m := s.cur.Load(); m != nil {
		return m.issuer.Chain()
	}
	return nil
}

// CurrentChain is the CA chain issuing now, or a 503 naming why there is
// none yet.
func (s *trustSource) CurrentChain() ([]*x509.Certificate, error) {
	m, err := s.material()
	if err != nil {
		return nil, err
	}
	return m.issuer.Chain(), nil
}

// TimestampSignature countersigns sig with the TSA issuing now.
func (s *trustSource) TimestampSignature(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
	m, err := s.material()
	if err != nil {
		return nil, time.Time{}, err
	}
	return m.authority.TimestampSignature(ctx, sig)
}

// Timestamp answers an RFC 3161 request with the TSA issuing now.
func (s *trustSource) Timestamp(ctx context.Context, req *timestamp.Request) ([]byte, error) {
	m, err := s.material()
	if err != nil {
		return nil, err
	}
	return m.authority.Timestamp(ctx, req)
}

// ChainPEM is the TSA chain issuing now.
func (s *trustSource) ChainPEM() ([]byte, error) {
	m, err := s.material()
	if err != nil {
		return nil, err
	}
	return m.authority.ChainPEM()
}

// TrustedRoot is the trusted root now published.
func (s *trustSource) TrustedRoot() ([]byte, error) {
	m, err := s.material()
	if err != nil {
		return nil, err
	}
	return m.trustedRoot, nil
}

// SigningConfig is the signing config now published.
func (s *trustSource) SigningConfig() ([]byte, error) {
	m, err := s.material()
	if err != nil {
		return nil, err
	}
	return m.signingConfig, nil
}

// targets is the content of the TUF repository now; empty before the
// keys are loaded (the repository is not served then).
//
// Replicas sign their TUF metadata each on its own, so the version of a
// content must not depend on when a replica happened to serve it. A
// rotation stored at since is read by every replica within one refresh
// interval and published at since + refresh-interval: its version floor
// is one millisecond later, above any version a replica signed for the
// older content before, so every replica gives the new content the same
// version (tufrepo takes the later of the floor and the period's start)
// and none has to bump a version on its own.
func (s *trustSource) targets() tufrepo.Targets {
	m := s.cur.Load()
	if m == nil {
		return tufrepo.Targets{}
	}
	if sch := s.scheduled.Load(); sch != nil && !s.clock().Before(sch.publishAt) {
		m = sch
	}
	floor := m.since.Add(s.cfg.Vault.RefreshInterval + time.Millisecond)
	return tufrepo.Targets{Files: map[string][]byte{TrustedRootTarget: m.trustedRoot, SigningConfigTarget: m.signingConfig}, Since: floor}
}

// ready reports whether the keys are loaded and their store answers.
func (s *trustSource) ready(which func(*material) pki.KeySigner) func(context.Context) error {
	return func(ctx context.Context) error {
		m := s.cur.Load()
		if m == nil || !s.isOpenedNow() {
			return errors.New(*s.why.Load())
		}
		return readiness(which(m))(ctx)
	}
}

// isOpenedNow reports whether opened has run: true once the documents of
// the first load are out and what needs Vault is open.
func (s *trustSource) isOpenedNow() bool { return s.cur.Load() != nil }

// whyNot says, for clients, why the keys (or what needs them) are not
// loaded yet.
func (s *trustSource) whyNot() string { return *s.why.Load() }
