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
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/signet-dev/signet/internal/problem"
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
	// client. Either way redirects to another host or from https to http
	// are refused and responses are bounded in size; an issuer with a
	// ca-cert gets a copy that trusts it, made once by NewAuthenticator.
	HTTPClient *http.Client
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Skew is the clock skew tolerated on exp, nbf and iat; 0 means DefaultSkew.
	Skew time.Duration
	// MaxTokenLifetime caps exp - iat of every token whose issuer sets no
	// max-token-lifetime of its own; 0 means DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
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

// Authenticator verifies identity tokens from the issuers of one Config.
// It is safe for concurrent use.
type Authenticator struct {
	cfg       Config
	opts      Options
	exact     map[string]*issuerEntry
	metas     []metaIssuer
	verifiers *verifierCache
	templates *templateCache
}

// issuerEntry is one configured issuer (an oidc-issuers URL or a
// meta-issuers pattern) and the HTTP client that reaches it.
type issuerEntry struct {
	conf   Issuer
	client *http.Client
	meta   bool
}

type metaIssuer struct {
	re    *regexp.Regexp
	entry *issuerEntry
}

// NewAuthenticator validates cfg and returns an Authenticator over it,
// with each issuer's HTTP client built (its ca-cert trusted). It logs a
// warning for each GitHubBaseWarnings finding. Discovery happens lazily, on
// each issuer's first token.
func NewAuthenticator(cfg Config, opts Options) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	a := &Authenticator{cfg: cfg, opts: opts, exact: map[string]*issuerEntry{}, verifiers: newVerifierCache(opts.Clock), templates: newTemplateCache()}
	for _, key := range sortedKeys(cfg.OIDCIssuers) {
		client, err := clientFor(opts.HTTPClient, cfg.OIDCIssuers[key])
		if err != nil {
			return nil, fmt.Errorf("identity: oidc-issuers[%q]: %w", key, err)
		}
		a.exact[key] = &issuerEntry{conf: cfg.OIDCIssuers[key], client: client}
	}
	for _, pattern := range sortedKeys(cfg.MetaIssuers) {
		re, err := MetaRegex(pattern)
		if err != nil {
			return nil, fmt.Errorf("identity: meta-issuers[%q]: %w", pattern, err)
		}
		client, err := clientFor(opts.HTTPClient, cfg.MetaIssuers[pattern])
		if err != nil {
			return nil, fmt.Errorf("identity: meta-issuers[%q]: %w", pattern, err)
		}
		a.metas = append(a.metas, metaIssuer{re: re, entry: &issuerEntry{conf: cfg.MetaIssuers[pattern], client: client, meta: true}})
	}
	for _, w := range GitHubBaseWarnings(cfg) {
		opts.Log.Warn(w.String(), "issuer", w.Issuer, "base_url", w.BaseURL)
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
	if o.MaxTokenLifetime == 0 {
		o.MaxTokenLifetime = DefaultMaxTokenLifetime
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
	iss, decoded, jws, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, err
	}
	ent, ok := a.lookup(iss)
	if !ok {
		return nil, problem.Unauthorized("identity token issuer %q is not trusted by this server", problem.Truncate(iss))
	}
	v, err := a.verifiers.get(ctx, iss, ent.meta, func() (*oidc.IDTokenVerifier, error) { return a.discover(ctx, iss, ent) })
	if err != nil {
		return nil, err
	}
	vctx, note := withFaultNote(ctx, raw, jws)
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
		case strings.Contains(err.Error(), "failed to unmarshal claims"):
			// go-oidc refuses a registered claim of the wrong JSON type
			// before the signature is checked; name the claim in plain words.
			return nil, claimTypeFault(raw, a.maxLifetime(ent.conf))
		}
		return nil, problem.Unauthorized("identity token rejected: %s", problem.Clip(err.Error(), 240)).WithCause(err)
	}
	if ent.meta {
		a.verifiers.confirm(iss, v)
	}
	// decoded came from the payload go-oidc has just verified: the same raw token.
	if err := checkClaims(decoded, a.maxLifetime(ent.conf)); err != nil {
		return nil, err
	}
	if err := a.checkTimes(tok.IssuedAt, decoded["nbf"]); err != nil {
		return nil, err
	}
	cs := splitClaims(decoded)
	return principalFor(a.cfg, ent.conf, verified{issuer: tok.Issuer, subject: tok.Subject, claims: cs.strings, kinds: cs.kinds, raw: cs.values, templates: a.templates})
}

// maxLifetime is the longest exp - iat accepted from an issuer: its own
// max-token-lifetime, else Options.MaxTokenLifetime.
func (a *Authenticator) maxLifetime(conf Issuer) time.Duration {
	if d, err := conf.maxTokenLifetime(); err == nil && d > 0 {
		return d
	}
	return a.opts.MaxTokenLifetime
}

// checkTimes enforces the small skew on nbf and iat that go-oidc leaves
// at five minutes and unchecked; nbfClaim is the decoded nbf claim (a
// json.Number, which checkClaims has required), nil when absent.
func (a *Authenticator) checkTimes(iat time.Time, nbfClaim any) error {
	limit := a.opts.Clock().Add(a.opts.Skew)
	if n, ok := nbfClaim.(json.Number); ok {
		if nbf, err := n.Float64(); err == nil && time.Unix(int64(nbf), 0).After(limit) {
			return problem.Unauthorized("identity token is not valid yet (nbf %s, clock skew allowed: %s)", time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339), a.opts.Skew)
		}
	}
	if !iat.IsZero() && iat.After(limit) {
		return problem.Unauthorized("identity token was issued in the future (iat %s, clock skew allowed: %s)", iat.UTC().Format(time.RFC3339), a.opts.Skew)
	}
	return nil
}

// lookup finds the configured issuer of iss: an exact oidc-issuers entry,
// else the first meta-issuer pattern that matches it whole. Nothing is
// fetched for an issuer no entry matches.
func (a *Authenticator) lookup(iss string) (*issuerEntry, bool) {
	if ent, ok := a.exact[iss]; ok {
		return ent, true
	}
	for _, m := range a.metas {
		if m.re.MatchString(iss) {
			return m.entry, true
		}
	}
	return nil, false
}
