// Package oidcmock is a mock OpenID Connect issuer for tests and for
// signet's --dev mode.
//
// An Issuer serves OIDC discovery, a JWKS holding several RSA keys with
// distinct kids, and a runner token endpoint that emulates GitHub Actions'
// ACTIONS_ID_TOKEN_REQUEST_URL. It mints RS256 ID tokens with the current key
// and, for negative tests, hostile ones: unknown kids, keys that are not
// published, HS256 and unsigned ("none") tokens. Keys rotate on demand and
// the clock used for iat, nbf and exp is injectable.
//
// End-to-end tests run it as a real HTTP server with Start; signet's dev
// mode mounts Handler under a path prefix of its own server, with an issuer
// URL that ends in that prefix.
package oidcmock

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// rsaBits is the size of every generated signing key.
const rsaBits = 2048

// signingKey is one RSA key of the issuer and the kid it is published under.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// Issuer is a mock OIDC issuer: discovery, JWKS with several keys and kids,
// token minting. It is safe for concurrent use.
type Issuer struct {
	url string
	log *slog.Logger

	mu           sync.RWMutex
	requestToken string
	keys         []signingKey // all published keys, oldest first
	current      int          // index in keys of the signing key
	clock        func() time.Time
	runnerClaims map[string]any

	// server is set by Start only; Close shuts it down.
	server    *http.Server
	serveErr  chan error
	closeOnce sync.Once
}

// New creates an issuer whose iss is issuerURL (a trailing slash is
// removed). It generates two RSA-2048 keys, kid "key-1" and "key-2", signs
// with the first and publishes both in the JWKS. The runner endpoint mints
// from GitHubClaims("acme/widgets") until SetRunnerClaims says otherwise.
func New(issuerURL string) (*Issuer, error) {
	issuerURL = strings.TrimRight(issuerURL, "/")
	if issuerURL == "" {
		return nil, fmt.Errorf("oidcmock: empty issuer URL")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("oidcmock: generate runner request token: %w", err)
	}
	i := &Issuer{
		url:          issuerURL,
		requestToken: hex.EncodeToString(secret),
		log:          slog.Default().With(slog.String("component", "oidcmock"), slog.String("issuer", issuerURL)),
		clock:        time.Now,
		runnerClaims: GitHubClaims("acme/widgets"),
	}
	for range 2 {
		priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("oidcmock: generate RSA key: %w", err)
		}
		i.keys = append(i.keys, signingKey{kid: fmt.Sprintf("key-%d", len(i.keys)+1), priv: priv})
	}
	return i, nil
}

// URL returns the issuer URL, the iss of every token it mints.
func (i *Issuer) URL() string { return i.url }

// RequestToken returns the bearer secret the runner endpoint requires, the
// counterpart of ACTIONS_ID_TOKEN_REQUEST_TOKEN. It is random per issuer.
func (i *Issuer) RequestToken() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.requestToken
}

// SetRequestToken replaces the runner endpoint's bearer secret, so that a
// development server can document a fixed one.
func (i *Issuer) SetRequestToken(secret string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.requestToken = secret
}

// SetClock sets the clock used for the iat, nbf and exp defaults of minted
// tokens; nil restores time.Now.
func (i *Issuer) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clock = now
}

// Now returns the current time of the issuer's clock.
func (i *Issuer) Now() time.Time {
	i.mu.RLock()
	now := i.clock
	i.mu.RUnlock()
	return now()
}

// SetRunnerClaims sets the claim set the runner endpoint (/token) mints
// from. The endpoint overrides "aud" with the audience query parameter and
// fills the defaults Mint fills. The map is copied.
func (i *Issuer) SetRunnerClaims(claims map[string]any) {
	c := copyClaims(claims)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.runnerClaims = c
}

// runnerClaimSet returns a copy of the runner claims.
func (i *Issuer) runnerClaimSet() map[string]any {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return copyClaims(i.runnerClaims)
}

// RotateKey adds a new RSA-2048 key under the next kid ("key-3", ...),
// publishes it and signs with it from now on. Old keys stay published, so
// tokens they signed keep verifying.
func (i *Issuer) RotateKey() error {
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return fmt.Errorf("oidcmock: rotate key: generate RSA key: %w", err)
	}
	i.mu.Lock()
	kid := fmt.Sprintf("key-%d", len(i.keys)+1)
	i.keys = append(i.keys, signingKey{kid: kid, priv: priv})
	i.current = len(i.keys) - 1
	i.mu.Unlock()
	i.log.Debug("rotated signing key", slog.String("kid", kid))
	return nil
}

// currentKey returns the key tokens are signed with.
func (i *Issuer) currentKey() signingKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.keys[i.current]
}

// publishedKeys returns a copy of the published key list.
func (i *Issuer) publishedKeys() []signingKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return append([]signingKey(nil), i.keys...)
}

// copyClaims returns a shallow copy of claims; nil yields an empty map.
func copyClaims(claims map[string]any) map[string]any {
	c := make(map[string]any, len(claims)+6)
	for k, v := range claims {
		c[k] = v
	}
	return c
}
