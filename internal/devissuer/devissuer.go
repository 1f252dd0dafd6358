// Package devissuer is the built-in OpenID Connect issuer of `signet serve
// --dev`.
//
// INSECURE BY DESIGN: anyone who presents the request token (for --dev the
// documented, fixed "signet-dev-insecure") gets a signed token for the
// configured GitHub repository. Trusting this issuer means trusting every
// process that can reach it. It exists so that a developer can try signet on
// one machine without a CI provider; it must never be trusted by a server
// that signs anything that matters, which is why signet refuses --dev with
// file or Vault keys and on a non-loopback address.
//
// An Issuer is an honest, minimal issuer: it serves OIDC discovery, a JWKS
// with its RSA keys, and a token endpoint shaped like GitHub Actions'
// ACTIONS_ID_TOKEN_REQUEST_URL (see Handler). Every token it mints is an
// RS256 JWT signed by go-jose with a key its JWKS publishes; discovery
// advertises RS256 and nothing else. The clock and the logger are injected.
//
// Tests build a hostile mock issuer on top of it (test/oidcmock); nothing
// hostile lives here.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Algorithm is the only signing algorithm an Issuer uses and advertises.
const Algorithm = jose.RS256

// KeyBits is the size of the RSA keys NewKey generates, and the least size
// an Issuer accepts.
const KeyBits = 2048

// DefaultRepository is the GitHub repository ("owner/name") the token
// endpoint mints for when Options.Repository is empty.
const DefaultRepository = "acme/widgets"

// Token lifetime and clock skew of minted tokens, as GitHub issues them.
const (
	tokenLifetime = 300 // seconds from iat to exp
	nbfSkew       = 5   // seconds nbf lies before iat
)

// Key is an RSA signing key and the kid it is published under.
type Key struct {
	// ID is the kid: in the JWKS and in the header of the tokens it signs.
	ID string
	// Private signs tokens; its public half is published in the JWKS.
	Private *rsa.PrivateKey
}

// NewKey generates a KeyBits RSA key published under kid id.
func NewKey(id string) (Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return Key{}, fmt.Errorf("devissuer: generate RSA key: %w", err)
	}
	return Key{ID: id, Private: priv}, nil
}

// Options configure an Issuer.
type Options struct {
	// RequestToken is the bearer secret the token endpoint requires, the
	// counterpart of ACTIONS_ID_TOKEN_REQUEST_TOKEN. It must not be empty.
	// Whoever knows it gets tokens: this is the whole of the issuer's
	// "authentication".
	RequestToken string
	// Repository is the GitHub repository ("owner/name") the token endpoint
	// mints GitHubClaims for; empty means DefaultRepository.
	Repository string
	// Keys are the published keys; the first signs. Empty means one fresh
	// NewKey("key-1").
	Keys []Key
	// Clock is the time of iat, nbf and exp; nil means time.Now.
	Clock func() time.Time
	// Log receives the issuer's logs; nil discards them.
	Log *slog.Logger
}

// Issuer is the --dev OIDC issuer: discovery, JWKS and a runner token
// endpoint, RS256 only. Anyone with its request token gets tokens (see the
// package documentation). It is safe for concurrent use.
type Issuer struct {
	url   string
	clock func() time.Time
	log   *slog.Logger

	mu           sync.RWMutex
	requestToken string
	keys         []Key // every published key, oldest first
	current      int   // index in keys of the signing key
	runnerClaims map[string]any
}

// New creates an issuer whose iss is issuerURL, an http or https URL (a
// trailing slash is removed). Mount its Handler so that issuerURL reaches
// it: at the root of a server at that URL, or under the URL's path with
// http.StripPrefix.
func New(issuerURL string, opts Options) (*Issuer, error) {
	issuerURL = strings.TrimRight(issuerURL, "/")
	u, err := url.Parse(issuerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devissuer: issuer URL %q is not an http(s) URL without query or fragment", issuerURL)
	}
	if opts.RequestToken == "" {
		return nil, fmt.Errorf("devissuer: empty request token")
	}
	repo := opts.Repository
	if repo == "" {
		repo = DefaultRepository
	}
	i := &Issuer{
		url:          issuerURL,
		clock:        opts.Clock,
		log:          opts.Log,
		requestToken: opts.RequestToken,
		runnerClaims: GitHubClaims(repo),
	}
	if i.clock == nil {
		i.clock = time.Now
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	i.log = i.log.With(slog.String("component", "devissuer"), slog.String("issuer", issuerURL))
	keys := opts.Keys
	if len(keys) == 0 {
		k, err := NewKey("key-1")
		if err != nil {
			return nil, err
		}
		keys = []Key{k}
	}
	for n, k := range keys {
		if err := i.publish(k, n == 0); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// URL returns the issuer URL, the iss of every token it mints.
func (i *Issuer) URL() string { return i.url }

// RequestToken returns the bearer secret the token endpoint requires.
func (i *Issuer) RequestToken() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.requestToken
}

// SetRequestToken replaces the token endpoint's bearer secret; an empty
// secret is ignored, so that the endpoint never accepts an empty bearer.
func (i *Issuer) SetRequestToken(secret string) {
	if secret == "" {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.requestToken = secret
}

// SetRunnerClaims replaces the claim set the token endpoint mints from
// (GitHubClaims of the repository until then). The endpoint sets "aud" and
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

// Rotate publishes k and signs with it from now on. Earlier keys stay
// published, so the tokens they signed keep verifying. k must have a kid
// not yet published and at least KeyBits bits.
func (i *Issuer) Rotate(k Key) error {
	if err := i.publish(k, true); err != nil {
		return err
	}
	i.log.Debug("rotated signing key", slog.String("kid", k.ID))
	return nil
}

// publish checks k and adds it to the published keys; with sign, it
// becomes the signing key.
func (i *Issuer) publish(k Key, sign bool) error {
	if k.ID == "" || k.Private == nil {
		return fmt.Errorf("devissuer: key needs a kid and an RSA private key")
	}
	if n := k.Private.N.BitLen(); n < KeyBits {
		return fmt.Errorf("devissuer: key %q has %d bits, want at least %d", k.ID, n, KeyBits)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, have := range i.keys {
		if have.ID == k.ID {
			return fmt.Errorf("devissuer: kid %q is already published", k.ID)
		}
	}
	i.keys = append(i.keys, k)
	if sign {
		i.current = len(i.keys) - 1
	}
	return nil
}

// signingKey returns the key tokens are signed with.
func (i *Issuer) signingKey() Key {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.keys[i.current]
}

// publishedKeys returns a copy of the published key list.
func (i *Issuer) publishedKeys() []Key {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return append([]Key(nil), i.keys...)
}

// Claims returns a copy of claims completed with the defaults Mint fills
// where claims lacks them: iss (the issuer URL), iat (now), nbf (now-5s),
// exp (iat+300) and jti (a random version 4 UUID, the shape of GitHub's).
// Claims given explicitly win; a claim explicitly set to nil is left out.
// The caller's map is not modified.
func (i *Issuer) Claims(claims map[string]any) map[string]any {
	c := copyClaims(claims)
	now := i.clock().Unix()
	defaults := map[string]any{
		"iss": i.url,
		"iat": now,
		"nbf": now - nbfSkew,
		"exp": now + tokenLifetime,
		"jti": uuid(),
	}
	for k, v := range defaults {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
	return c
}

// Mint returns an RS256 JWT of Claims(claims), signed with the signing key
// and carrying its kid.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	key := i.signingKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: Algorithm, Key: key.Private},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.ID))
	if err != nil {
		return "", fmt.Errorf("devissuer: mint: new signer: %w", err)
	}
	token, err := jwt.Signed(signer).Claims(i.Claims(claims)).Serialize()
	if err != nil {
		return "", fmt.Errorf("devissuer: mint: %w", err)
	}
	return token, nil
}

// copyClaims returns a shallow copy of claims; nil yields an empty map.
func copyClaims(claims map[string]any) map[string]any {
	c := make(map[string]any, len(claims)+6)
	maps.Copy(c, claims)
	return c
}

// uuid returns a random version 4 UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
