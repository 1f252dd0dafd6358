// Package oidcmock is a mock OpenID Connect issuer for tests.
//
// An Issuer is signet's --dev issuer (internal/devissuer: discovery, a JWKS
// of RSA keys with distinct kids, and a runner token endpoint that emulates
// GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL) plus what only tests need: a
// settable clock, key rotation on demand, a real HTTP server (Start), and,
// for negative tests, hostile tokens (MintWith): unknown kids, keys that are
// not published, RS384, HS256 keyed with the public key, and unsigned
// ("none") tokens.
//
// It is test code: nothing outside tests may import it, and the signet
// binary does not link it (cmd/signet's dependency test keeps it so).
//
// End-to-end tests run it as a real HTTP server with Start; in-process
// tests mount Handler under a path prefix of their own server, with an
// issuer URL that ends in that prefix.
package oidcmock

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/signet-dev/signet/internal/devissuer"
)

// Issuer is a mock OIDC issuer: discovery, JWKS with several keys and kids,
// token minting, hostile tokens. It is safe for concurrent use.
type Issuer struct {
	dev *devissuer.Issuer
	log *slog.Logger

	mu      sync.RWMutex
	clock   func() time.Time
	signing devissuer.Key // the key dev signs with, for MintWith

	rotate sync.Mutex // serialises RotateKey
	nkeys  int        // keys published so far, to name the next kid; under rotate

	// server is set by Start only; Close shuts it down.
	server    *http.Server
	serveErr  chan error
	closeOnce sync.Once
}

// Option adjusts an Issuer made by New or Start.
type Option func(*settings)

// settings are what the options set.
type settings struct{ log *slog.Logger }

// WithLogger sends the issuer's logs (and its server's, for Start) to log;
// without it they are discarded.
func WithLogger(log *slog.Logger) Option {
	return func(s *settings) { s.log = log }
}

// New creates an issuer whose iss is issuerURL (a trailing slash is
// removed). It generates two RSA-2048 keys, kid "key-1" and "key-2", signs
// with the first and publishes both in the JWKS. Its request token is
// random. The runner endpoint mints from GitHubClaims("acme/widgets") until
// SetRunnerClaims says otherwise.
func New(issuerURL string, opts ...Option) (*Issuer, error) {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var keys []devissuer.Key
	for n := range 2 {
		k, err := devissuer.NewKey(fmt.Sprintf("key-%d", n+1))
		if err != nil {
			return nil, fmt.Errorf("oidcmock: %w", err)
		}
		keys = append(keys, k)
	}
	i := &Issuer{clock: time.Now, signing: keys[0], nkeys: len(keys)}
	dev, err := devissuer.New(issuerURL, devissuer.Options{
		RequestToken: randomSecret(),
		Keys:         keys,
		Clock:        i.Now,
		Log:          s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("oidcmock: %w", err)
	}
	i.dev = dev
	i.log = s.log.With(slog.String("component", "oidcmock"), slog.String("issuer", dev.URL()))
	return i, nil
}

// randomSecret returns 32 random bytes in hex.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+)
	return hex.EncodeToString(b)
}

// GitHubClaims returns a complete, realistic GitHub Actions claim set for
// repository "owner/repo"; see devissuer.GitHubClaims.
func GitHubClaims(repository string) map[string]any {
	return devissuer.GitHubClaims(repository)
}

// URL returns the issuer URL, the iss of every token it mints.
func (i *Issuer) URL() string { return i.dev.URL() }

// Handler serves discovery, the JWKS and the runner token endpoint; see
// devissuer.Issuer.Handler.
func (i *Issuer) Handler() http.Handler { return i.dev.Handler() }

// RequestToken returns the bearer secret the runner endpoint requires, the
// counterpart of ACTIONS_ID_TOKEN_REQUEST_TOKEN. It is random per issuer.
func (i *Issuer) RequestToken() string { return i.dev.RequestToken() }

// SetRequestToken replaces the runner endpoint's bearer secret; an empty
// one is ignored.
func (i *Issuer) SetRequestToken(secret string) { i.dev.SetRequestToken(secret) }

// SetRunnerClaims sets the claim set the runner endpoint (/token) mints
// from. The endpoint overrides "aud" with the audience query parameter and
// fills the defaults Mint fills. The map is copied.
func (i *Issuer) SetRunnerClaims(claims map[string]any) { i.dev.SetRunnerClaims(claims) }

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

// RotateKey adds a new RSA-2048 key under the next kid ("key-3", ...),
// publishes it and signs with it from now on. Old keys stay published, so
// tokens they signed keep verifying.
func (i *Issuer) RotateKey() error {
	i.rotate.Lock()
	defer i.rotate.Unlock()
	k, err := devissuer.NewKey(fmt.Sprintf("key-%d", i.nkeys+1))
	if err != nil {
		return fmt.Errorf("oidcmock: rotate key: %w", err)
	}
	if err := i.dev.Rotate(k); err != nil {
		return fmt.Errorf("oidcmock: rotate key: %w", err)
	}
	i.nkeys++
	i.mu.Lock()
	i.signing = k
	i.mu.Unlock()
	return nil
}

// signingKey returns the key tokens are signed with.
func (i *Issuer) signingKey() devissuer.Key {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.signing
}
