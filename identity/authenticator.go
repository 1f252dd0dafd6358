// Package identity turns a raw OIDC identity token into a Principal: it
// routes the token by its issuer, verifies it with go-oidc (discovery, JWKS
// with rotation, audience, expiry), maps its claims to the certificate
// identity (SAN and Fulcio extensions) as Fulcio's identity config says, and
// decides with a CEL policy whether that identity may get a certificate.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/signet-dev/signet/keyless/problem"
)

// Defaults of Options.
const (
	DefaultSkew                = time.Minute
	DefaultDiscoveryTimeout    = 10 * time.Second
	DefaultJWKSTimeout         = 10 * time.Second
	DefaultJWKSRefetchInterval = 10 * time.Second
)

// Options tunes an Authenticator; the zero value works.
type Options struct {
	// HTTPClient fetches discovery documents and JWKS; nil means a default
	// client. Either way redirects to another host are refused and
	// responses are bounded in size.
	HTTPClient *http.Client
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Skew is the clock skew tolerated on exp, nbf and iat; 0 means DefaultSkew.
	Skew time.Duration
	// DiscoveryTimeout bounds an issuer's discovery; 0 means DefaultDiscoveryTimeout.
	DiscoveryTimeout time.Duration
	// JWKSTimeout bounds one JWKS fetch; 0 means DefaultJWKSTimeout.
	JWKSTimeout time.Duration
	// JWKSRefetchInterval is the least time between two JWKS fetches of one
	// issuer, however many tokens name unknown keys; 0 means
	// DefaultJWKSRefetchInterval.
	JWKSRefetchInterval time.Duration
	// Log receives discovery and JWKS events; nil discards them.
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
	opts = opts.withDefaults()
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

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Skew == 0 {
		o.Skew = DefaultSkew
	}
	if o.DiscoveryTimeout == 0 {
		o.DiscoveryTimeout = DefaultDiscoveryTimeout
	}
	if o.JWKSTimeout == 0 {
		o.JWKSTimeout = DefaultJWKSTimeout
	}
	if o.JWKSRefetchInterval == 0 {
		o.JWKSRefetchInterval = DefaultJWKSRefetchInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.HTTPClient = hardenClient(o.HTTPClient)
	return o
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
	vctx, note := withFaultNote(ctx)
	tok, err := v.Verify(vctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case note.err != nil:
			return nil, note.err
		case errors.As(err, &expired) && expired.Expiry.IsZero():
			return nil, problem.Unauthorized("identity token has no exp claim")
		case errors.As(err, &expired):
			return nil, problem.Unauthorized("identity token expired at %s (clock skew allowed: %s)", expired.Expiry.UTC().Format(time.RFC3339), a.opts.Skew)
		case strings.Contains(err.Error(), "before the nbf"):
			// go-oidc's own nbf check, with its 5-minute leeway.
			return nil, problem.Unauthorized("identity token is not valid yet: its nbf is minutes ahead of this server's clock")
		}
		return nil, problem.Unauthorized("identity token rejected: %v", err)
	}
	var rawClaims json.RawMessage
	if err := tok.Claims(&rawClaims); err != nil {
		return nil, problem.Unauthorized("identity token claims: %v", err)
	}
	claims, values, err := decodeClaims(rawClaims)
	if err != nil {
		return nil, problem.Unauthorized("identity token claims: %v", err)
	}
	if err := a.checkTimes(tok.IssuedAt, rawClaims); err != nil {
		return nil, err
	}
	return principalFor(a.cfg, conf, verified{issuer: tok.Issuer, subject: tok.Subject, claims: claims, raw: values})
}

// checkTimes enforces the small skew on nbf and iat that go-oidc leaves
// at five minutes and unchecked.
func (a *Authenticator) checkTimes(iat time.Time, raw json.RawMessage) error {
	limit := a.opts.Clock().Add(a.opts.Skew)
	var t struct {
		NotBefore *json.Number `json:"nbf"`
	}
	_ = json.Unmarshal(raw, &t)
	if t.NotBefore != nil {
		if nbf, err := t.NotBefore.Float64(); err == nil && time.Unix(int64(nbf), 0).After(limit) {
			return problem.Unauthorized("identity token is not valid yet (nbf %s, clock skew allowed: %s)", time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339), a.opts.Skew)
		}
	}
	if !iat.IsZero() && iat.After(limit) {
		return problem.Unauthorized("identity token was issued in the future (iat %s, clock skew allowed: %s)", iat.UTC().Format(time.RFC3339), a.opts.Skew)
	}
	return nil
}

// lookup finds the configuration of an issuer: an exact oidc-issuers entry,
// else the first meta-issuer pattern that matches it whole. Nothing is
// fetched for an issuer no entry matches.
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
	client, err := clientFor(a.opts.HTTPClient, conf)
	if err != nil {
		return nil, unavailable(iss, err)
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), a.opts.DiscoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, iss)
	if err != nil {
		a.opts.Log.Warn("oidc discovery failed", "issuer", iss, "error", err)
		return nil, unavailable(iss, err)
	}
	var meta struct {
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		JWKSURI string   `json:"jwks_uri"`
	}
	_ = provider.Claims(&meta)
	algs := allowedAlgs(meta.Algs)
	if len(algs) == 0 {
		return nil, unavailable(iss, fmt.Errorf("the issuer advertises no asymmetric signing algorithm (%q)", meta.Algs))
	}
	if u, err := url.Parse(meta.JWKSURI); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, unavailable(iss, fmt.Errorf("the discovery document advertises no usable jwks_uri (%q)", meta.JWKSURI))
	}
	keys := &keySet{
		issuer: iss, url: meta.JWKSURI, client: client, timeout: a.opts.JWKSTimeout,
		minInterval: a.opts.JWKSRefetchInterval, clock: a.opts.Clock, log: a.opts.Log,
	}
	v = oidc.NewVerifier(iss, keys, &oidc.Config{
		ClientID:             conf.ClientID,
		SupportedSigningAlgs: algs,
		Now:                  func() time.Time { return a.opts.Clock().Add(-a.opts.Skew) },
	})
	a.mu.Lock()
	if len(a.verifiers) < maxCachedVerifiers {
		a.verifiers[iss] = v
	}
	a.mu.Unlock()
	a.opts.Log.Info("oidc issuer discovered", "issuer", iss, "algorithms", algs, "jwks_uri", meta.JWKSURI)
	return v, nil
}

// unavailable is the fixed answer to a client when an issuer cannot be
// used; cause, which may quote the issuer's response, is logged, not shown.
func unavailable(iss string, cause error) error {
	return problem.Unavailable("identity token issuer %q is unavailable; try again later", iss).WithCause(cause)
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
