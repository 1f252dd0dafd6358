package identity

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/problem"
)

// Bounds of the verifier cache.
const (
	// maxCachedVerifiers bounds the verifiers kept for meta-issuers.
	maxCachedVerifiers = 256
	// maxFailedDiscoveries bounds the failed discoveries remembered.
	maxFailedDiscoveries = 1024
	// discoveryRetryAfter is how long a failed discovery is remembered:
	// tokens of that issuer are refused meanwhile without a fetch.
	discoveryRetryAfter = 30 * time.Second
)

// verifierCache holds the verifiers of the issuers discovered so far.
//
// An oidc-issuers entry is configured, so its verifier is kept from its
// first successful discovery. An issuer a meta-issuer pattern matches is
// named by the unverified token itself, so its verifier is kept only once a
// token of that issuer has verified (confirm), in a bounded map; until then
// every token of it is discovered anew. Concurrent discoveries of one
// issuer are merged into one, and a failed discovery is remembered for
// discoveryRetryAfter, in a bounded map.
type verifierCache struct {
	clock func() time.Time

	mu       sync.Mutex
	exact    map[string]*oidc.IDTokenVerifier
	meta     map[string]*oidc.IDTokenVerifier
	failed   map[string]failedDiscovery
	inflight map[string]*discoveryCall
}

// failedDiscovery is a remembered discovery failure.
type failedDiscovery struct {
	until time.Time
	err   error
}

// discoveryCall is a discovery in flight; done is closed when it ends.
type discoveryCall struct {
	done chan struct{}
	v    *oidc.IDTokenVerifier
	err  error
}

func newVerifierCache(clock func() time.Time) *verifierCache {
	return &verifierCache{
		clock: clock, exact: map[string]*oidc.IDTokenVerifier{}, meta: map[string]*oidc.IDTokenVerifier{},
		failed: map[string]failedDiscovery{}, inflight: map[string]*discoveryCall{},
	}
}

// get returns the verifier of iss: a cached one, the recent failure, the
// result of a discovery in flight, or of a discovery of its own made with
// discover.
func (c *verifierCache) get(ctx context.Context, iss string, meta bool, discover func() (*oidc.IDTokenVerifier, error)) (*oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	if v := c.cached(iss); v != nil {
		c.mu.Unlock()
		return v, nil
	}
	if f, ok := c.failed[iss]; ok && c.clock().Before(f.until) {
		c.mu.Unlock()
		return nil, f.err
	}
	if call := c.inflight[iss]; call != nil {
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, unavailable(iss, fmt.Errorf("waiting for the discovery in flight: %w", ctx.Err()))
		case <-call.done:
			return call.v, call.err
		}
	}
	call := &discoveryCall{done: make(chan struct{})}
	c.inflight[iss] = call
	c.mu.Unlock()

	call.v, call.err = discover()

	c.mu.Lock()
	delete(c.inflight, iss)
	switch {
	case call.err != nil:
		c.rememberFailure(iss, call.err)
	case !meta:
		c.exact[iss] = call.v
	}
	c.mu.Unlock()
	close(call.done)
	return call.v, call.err
}

// cached returns the kept verifier of iss, or nil; c.mu is held.
func (c *verifierCache) cached(iss string) *oidc.IDTokenVerifier {
	if v, ok := c.exact[iss]; ok {
		return v
	}
	return c.meta[iss]
}

// confirm keeps the verifier of a meta-issuer's issuer once a token of it
// has verified, evicting another when the map is full.
func (c *verifierCache) confirm(iss string, v *oidc.IDTokenVerifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.meta[iss]; ok {
		return
	}
	if len(c.meta) >= maxCachedVerifiers {
		for k := range c.meta { // an arbitrary one
			delete(c.meta, k)
			break
		}
	}
	c.meta[iss] = v
}

// rememberFailure records a failed discovery, first dropping expired
// entries, then the one closest to expiry, when the map is full; c.mu is held.
func (c *verifierCache) rememberFailure(iss string, err error) {
	now := c.clock()
	if len(c.failed) >= maxFailedDiscoveries {
		var oldest string
		for k, f := range c.failed {
			if !now.Before(f.until) {
				delete(c.failed, k)
			} else if oldest == "" || f.until.Before(c.failed[oldest].until) {
				oldest = k
			}
		}
		if len(c.failed) >= maxFailedDiscoveries {
			delete(c.failed, oldest)
		}
	}
	c.failed[iss] = failedDiscovery{until: now.Add(discoveryRetryAfter), err: err}
}

// discover fetches the discovery document of iss with the issuer's client
// and builds its verifier. Every failure is problem.Unavailable with a
// fixed message; the detail, which may quote the issuer's response, is
// logged and kept as the cause, never shown to the client.
func (a *Authenticator) discover(ctx context.Context, iss string, ent *issuerEntry) (*oidc.IDTokenVerifier, error) {
	// The discovery may serve concurrent requests: it outlives the one
	// that started it, within its own timeout.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), ent.client), a.opts.DiscoveryTimeout)
	defer cancel()
	fail := func(err error) (*oidc.IDTokenVerifier, error) {
		a.opts.Log.Warn("oidc discovery failed", "issuer", iss, "error", err, "retry_after", discoveryRetryAfter)
		return nil, unavailable(iss, err)
	}
	provider, err := oidc.NewProvider(dctx, iss)
	if err != nil {
		return fail(err)
	}
	var meta struct {
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		JWKSURI string   `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return fail(fmt.Errorf("decode discovery document: %w", err))
	}
	algs := allowedAlgs(meta.Algs)
	if len(algs) == 0 {
		return fail(fmt.Errorf("the issuer advertises no asymmetric signing algorithm (%q)", meta.Algs))
	}
	if err := checkJWKSURI(iss, meta.JWKSURI); err != nil {
		return fail(err)
	}
	keys := &keySet{
		issuer: iss, url: meta.JWKSURI, client: ent.client, timeout: a.opts.JWKSTimeout,
		minInterval: a.opts.JWKSRefetchInterval, clock: a.opts.Clock, log: a.opts.Log,
	}
	v := oidc.NewVerifier(iss, keys, &oidc.Config{
		ClientID:             ent.conf.ClientID,
		SupportedSigningAlgs: algs,
		Now:                  func() time.Time { return a.opts.Clock().Add(-a.opts.Skew) },
	})
	a.opts.Log.Info("oidc issuer discovered", "issuer", iss, "algorithms", algs, "jwks_uri", meta.JWKSURI)
	return v, nil
}

// checkJWKSURI accepts an absolute http(s) jwks_uri, and only an https one
// for an https issuer: keys fetched in clear text would let anyone on the
// path forge tokens of an issuer reached over TLS.
func checkJWKSURI(iss, jwks string) error {
	u, err := url.Parse(jwks)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("the discovery document advertises no usable jwks_uri (%q)", jwks)
	}
	if is, err := url.Parse(iss); err == nil && is.Scheme == "https" && u.Scheme != "https" {
		return fmt.Errorf("the discovery document of an https issuer advertises a jwks_uri that is not https (%q)", jwks)
	}
	return nil
}

// unavailable is the fixed answer to a client when an issuer cannot be
// used; cause is logged, not shown.
func unavailable(iss string, cause error) error {
	return problem.Unavailable("identity token issuer %q is unavailable; try again later", problem.Truncate(iss)).WithCause(cause)
}

// allowedAlgs keeps the advertised algorithms that are asymmetric; an
// issuer that advertises nothing gets RS256, the OIDC default.
func allowedAlgs(advertised []string) []string {
	if len(advertised) == 0 {
		return []string{string(oidc.RS256)}
	}
	var out []string
	for _, alg := range advertised {
		if slices.ContainsFunc(TokenAlgorithms(), func(a2 jose.SignatureAlgorithm) bool { return string(a2) == alg }) {
			out = append(out, alg)
		}
	}
	return out
}
