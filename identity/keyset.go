package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/signet-dev/signet/internal/problem"
)

// maxJWKSSize bounds a JWKS document; real ones are a few KiB.
const maxJWKSSize = 1 << 20

// keySet is the JWKS of one issuer, an oidc.KeySet for oidc.NewVerifier.
//
// go-oidc's RemoteKeySet refetches the JWKS on every token whose signature
// its cached keys do not verify, with no bound: a stream of tokens naming
// random kids makes one fetch each. keySet keeps the same semantics (keys
// cached, refetched on a miss, concurrent misses share one fetch, cached keys
// kept when a fetch fails) and adds the bound: at most one fetch per
// minInterval. Signatures are verified by go-jose; the claims by go-oidc.
type keySet struct {
	issuer      string
	url         string
	client      *http.Client
	timeout     time.Duration
	minInterval time.Duration
	clock       func() time.Time
	log         *slog.Logger

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	fetched  time.Time     // start of the last fetch, successful or not
	inflight chan struct{} // closed when the fetch in flight ends
	lastErr  error
	// afterMiss, when set (tests only), runs after the cached keys failed
	// to verify and before a refetch is asked for.
	afterMiss func()
}

// VerifySignature verifies a compact JWS with the cached keys, refetching
// them once when none verifies and the last fetch is old enough.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := parsedToken(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := verifyWith(jws, kid, k.cached()); ok {
		return payload, nil
	}
	if k.afterMiss != nil {
		k.afterMiss()
	}
	keys, err := k.refresh(ctx)
	var recent *recentFetchError
	switch {
	case errors.As(err, &recent):
		// Another request may have fetched the keys between our look at
		// the cache and now (the first requests to a new issuer race so):
		// try what is cached now before refusing.
		if payload, ok := verifyWith(jws, kid, k.cached()); ok {
			return payload, nil
		}
		return nil, fmt.Errorf("%w (the JWKS was fetched %s ago and is refetched at most every %s)", miss(kid, k.cached()), recent.since, k.minInterval)
	case err != nil:
		noteFault(ctx, err)
		return nil, err
	}
	if payload, ok := verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	return nil, miss(kid, keys)
}

// miss says why no key verified a signature.
func miss(kid string, keys []jose.JSONWebKey) error {
	if kid != "" && !hasKID(keys, kid) {
		return fmt.Errorf("key id %q is not in the issuer's JWKS", problem.Truncate(kid))
	}
	return errors.New("no key of the issuer's JWKS verifies the signature")
}

// recentFetchError refuses a fetch sooner than minInterval after the last.
type recentFetchError struct{ since time.Duration }

func (e *recentFetchError) Error() string { return "the JWKS was fetched " + e.since.String() + " ago" }

func (k *keySet) cached() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// refresh returns the keys after a fetch: its own, or one in flight; or a
// *recentFetchError when the last fetch is more recent than minInterval.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	wait := k.inflight
	if wait == nil {
		if since := k.clock().Sub(k.fetched); !k.fetched.IsZero() && since < k.minInterval {
			k.mu.Unlock()
			return nil, &recentFetchError{since: since.Round(time.Millisecond)}
		}
		k.fetched = k.clock()
		k.inflight = make(chan struct{})
		k.mu.Unlock()
		keys, err := k.fetch(context.WithoutCancel(ctx))
		k.mu.Lock()
		if err == nil {
			k.keys = keys
		} else {
			k.log.Warn("jwks fetch failed; keeping the cached keys", "issuer", k.issuer, "jwks_uri", k.url, "cached_keys", len(k.keys), "error", err)
		}
		k.lastErr = err
		close(k.inflight)
		k.inflight = nil
		keys = k.keys
		k.mu.Unlock()
		if err != nil {
			return nil, keysUnavailable(k.issuer, err)
		}
		return keys, nil
	}
	k.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait:
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastErr != nil {
		return nil, keysUnavailable(k.issuer, k.lastErr)
	}
	return k.keys, nil
}

// keysUnavailable is the fixed answer to a client when an issuer's keys
// cannot be fetched; cause, which may quote the issuer's response, is
// logged, not shown.
func keysUnavailable(iss string, cause error) error {
	return problem.Unavailable("cannot fetch the keys of identity token issuer %q; try again later", iss).WithCause(cause)
}

// fetch GETs the JWKS within the timeout and the size limit.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get jwks: %s", resp.Status)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("jwks is over %d bytes", maxJWKSSize)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	return set.Keys, nil
}

// verifyWith tries the keys named kid (every key when the token names none).
func verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if !keys[i].IsPublic() {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

func hasKID(keys []jose.JSONWebKey, kid string) bool {
	for _, key := range keys {
		if key.KeyID == kid {
			return true
		}
	}
	return false
}

// faultNote travels on the context through go-oidc to the key set: in,
// the token as Authenticate already parsed it, so that the key set does
// not parse it again (go-oidc parses it once more itself); out, a
// classified key-set error, which go-oidc would flatten into a string.
type faultNote struct {
	raw string
	jws *jose.JSONWebSignature
	err error
}

type faultNoteKey struct{}

// withFaultNote returns a context carrying raw, parsed as jws, on which
// the key set can leave its fault.
func withFaultNote(ctx context.Context, raw string, jws *jose.JSONWebSignature) (context.Context, *faultNote) {
	n := &faultNote{raw: raw, jws: jws}
	return context.WithValue(ctx, faultNoteKey{}, n), n
}

// parsedToken returns raw parsed: as Authenticate left it on ctx when it
// is the same token, else parsed now.
func parsedToken(ctx context.Context, raw string) (*jose.JSONWebSignature, error) {
	if n, ok := ctx.Value(faultNoteKey{}).(*faultNote); ok && n.jws != nil && n.raw == raw {
		return n.jws, nil
	}
	return jose.ParseSigned(raw, TokenAlgorithms())
}

// noteFault records a classified error (a *problem.Error) on the context.
func noteFault(ctx context.Context, err error) {
	var pe *problem.Error
	if n, ok := ctx.Value(faultNoteKey{}).(*faultNote); ok && errors.As(err, &pe) {
		n.err = err
	}
}
