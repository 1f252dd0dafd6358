// Package identity turns a raw OIDC identity token into a Principal: it
// routes the token by its issuer, verifies it with go-oidc (discovery, JWKS
// with rotation, audience, expiry), and maps its claims to the certificate
// identity (SAN and Fulcio extensions) as Fulcio's identity config says.
package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/signet-dev/signet/keyless/problem"
)

// Options tunes an Authenticator; the zero value works.
type Options struct {
	// HTTPClient fetches discovery documents and JWKS; nil means a client
	// with a 10 s timeout that follows no redirects.
	HTTPClient *http.Client
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Skew is the clock skew tolerated on exp, nbf and iat; 0 means 1 minute.
	Skew time.Duration
	// DiscoveryTimeout bounds an issuer's discovery; 0 means 10 s.
	DiscoveryTimeout time.Duration
	// Log receives discovery events; nil discards them.
	Log *slog.Logger
}

// maxCachedVerifiers bounds the verifiers kept for meta-issuers.
const maxCachedVerifiers = 256

// Authenticator verifies identity tokens from the issuers of one Config.
// It is safe for concurrent use.
type Authenticator struct {
	cfg   Config
	opts  Options
	metas []metaIssuer

	mu        sync.Mutex
	verifiers map[string]*oidc.IDTokenVerifier
}

type metaIssuer struct {
	re   *regexp.Regexp
	conf Issuer
}

// NewAuthenticator validates cfg and returns an Authenticator over it.
// Discovery happens lazily, on each issuer's first token.
func NewAuthenticator(cfg Config, opts Options) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Skew == 0 {
		opts.Skew = time.Minute
	}
	if opts.DiscoveryTimeout == 0 {
		opts.DiscoveryTimeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{cfg: cfg, opts: opts, verifiers: map[string]*oidc.IDTokenVerifier{}}
	for _, pattern := range sortedKeys(cfg.MetaIssuers) {
		re, err := MetaRegex(pattern)
		if err != nil {
			return nil, fmt.Errorf("identity: meta-issuers[%q]: %w", pattern, err)
		}
		a.metas = append(a.metas, metaIssuer{re: re, conf: cfg.MetaIssuers[pattern]})
	}
	return a, nil
}

// Authenticate verifies a raw token and maps it to a Principal. Token
// faults are problem.Unauthorized; an unreachable issuer is
// problem.Unavailable.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, err
	}
	conf, ok := a.lookup(iss)
	if !ok {
		return nil, problem.Unauthorized("identity token issuer %q is not trusted by this server", iss)
	}
	v, err := a.verifier(ctx, iss, conf)
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, problem.Unauthorized("identity token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
		}
		return nil, problem.Unauthorized("identity token rejected: %v", err)
	}
	var rawClaims json.RawMessage
	if err := tok.Claims(&rawClaims); err != nil {
		return nil, problem.Unauthorized("identity token claims: %v", err)
	}
	claims, err := stringClaims(rawClaims)
	if err != nil {
		return nil, problem.Unauthorized("identity token claims: %v", err)
	}
	if err := a.checkTimes(tok.IssuedAt, rawClaims); err != nil {
		return nil, err
	}
	return principalFor(a.cfg, conf, tok.Issuer, tok.Subject, claims)
}

// checkTimes enforces the small skew on nbf and iat that go-oidc leaves
// at five minutes.
func (a *Authenticator) checkTimes(iat time.Time, raw json.RawMessage) error {
	limit := a.opts.Clock().Add(a.opts.Skew)
	var t struct {
		NotBefore *json.Number `json:"nbf"`
	}
	_ = json.Unmarshal(raw, &t)
	if t.NotBefore != nil {
		if nbf, err := t.NotBefore.Float64(); err == nil && time.Unix(int64(nbf), 0).After(limit) {
			return problem.Unauthorized("identity token is not valid yet (nbf %s)", time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339))
		}
	}
	if !iat.IsZero() && iat.After(limit) {
		return problem.Unauthorized("identity token was issued in the future (iat %s)", iat.UTC().Format(time.RFC3339))
	}
	return nil
}

// lookup finds the configuration of an issuer: an exact oidc-issuers entry,
// else the first meta-issuer pattern that matches it whole.
func (a *Authenticator) lookup(iss string) (Issuer, bool) {
	if conf, ok := a.cfg.OIDCIssuers[iss]; ok {
		return conf, true
	}
	for _, m := range a.metas {
		if m.re.MatchString(iss) {
			return m.conf, true
		}
	}
	return Issuer{}, false
}

// verifier returns the cached verifier of iss, discovering it on first use.
func (a *Authenticator) verifier(ctx context.Context, iss string, conf Issuer) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	v, ok := a.verifiers[iss]
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	client, err := a.clientFor(conf)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), a.opts.DiscoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, iss)
	if err != nil {
		a.opts.Log.Warn("oidc discovery failed", "issuer", iss, "error", err)
		return nil, problem.Unavailable("cannot reach identity token issuer %q for discovery: %v", iss, err)
	}
	var meta struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = provider.Claims(&meta)
	algs := allowedAlgs(meta.Algs)
	if len(algs) == 0 {
		return nil, problem.Unavailable("identity token issuer %q advertises no asymmetric signing algorithm", iss)
	}
	v = provider.Verifier(&oidc.Config{
		ClientID:             conf.ClientID,
		SupportedSigningAlgs: algs,
		Now:                  func() time.Time { return a.opts.Clock().Add(-a.opts.Skew) },
	})
	a.mu.Lock()
	if len(a.verifiers) < maxCachedVerifiers {
		a.verifiers[iss] = v
	}
	a.mu.Unlock()
	a.opts.Log.Info("oidc issuer discovered", "issuer", iss, "algorithms", algs)
	return v, nil
}

// allowedAlgs keeps the advertised algorithms that are asymmetric; an
// issuer that advertises nothing gets RS256, the OIDC default.
func allowedAlgs(advertised []string) []string {
	if len(advertised) == 0 {
		return []string{string(oidc.RS256)}
	}
	var out []string
	for _, alg := range advertised {
		if slices.ContainsFunc(asymmetricAlgs, func(a2 joseAlg) bool { return string(a2) == alg }) {
			out = append(out, alg)
		}
	}
	return out
}

// clientFor returns the HTTP client for an issuer, trusting its ca-cert.
func (a *Authenticator) clientFor(conf Issuer) (*http.Client, error) {
	if conf.CACert == "" {
		return a.opts.HTTPClient, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(conf.CACert)) {
		return nil, fmt.Errorf("identity: ca-cert of %q holds no certificate", conf.IssuerURL)
	}
	base := a.opts.HTTPClient
	return &http.Client{
		Timeout:       base.Timeout,
		CheckRedirect: base.CheckRedirect,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

func certPoolFromPEM(pemData string) bool {
	return x509.NewCertPool().AppendCertsFromPEM([]byte(pemData))
}
