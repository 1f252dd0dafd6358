package oidcmock

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/devissuer"
)

// Signing algorithms MintOptions.Algorithm accepts.
const (
	// AlgRS256 signs with an RSA key (the default).
	AlgRS256 = "RS256"
	// AlgRS384 signs with the same RSA key under RS384, an algorithm the
	// issuer's discovery document does not advertise.
	AlgRS384 = "RS384"
	// AlgHS256 signs with HMAC-SHA256, keyed with the PEM encoding of the
	// current public key: the classic algorithm-confusion attack.
	AlgHS256 = "HS256"
	// AlgNone produces an unsigned token: header {"alg":"none"} and an
	// empty signature.
	AlgNone = "none"
)

// MintOptions selects the hostile variants of MintWith. The zero value mints
// exactly what Mint mints.
type MintOptions struct {
	// KID overrides the header kid, e.g. with a kid the JWKS lacks. Empty
	// keeps the kid of the signing key (no kid for AlgNone).
	KID string
	// Algorithm is AlgRS256 (default when empty), AlgRS384, AlgHS256 or AlgNone.
	Algorithm string
	// UnpublishedKey signs with a fresh RSA key that is not in the JWKS,
	// under the current kid unless KID says otherwise. Only for AlgRS256.
	UnpublishedKey bool
	// EditPayload, when set, rewrites the encoded claims before they are
	// signed: for payloads no JSON encoder writes, such as bytes that are
	// not UTF-8 or data after the object.
	EditPayload func([]byte) []byte
}

// Mint signs claims with RS256 and the current key, with its kid in the
// header. It fills iss (the issuer URL), iat (now), nbf (now-5s), exp
// (iat+300) and jti (a random UUID) when claims lacks them; claims given
// explicitly win, and a claim explicitly set to nil is left out of the token
// (to mint a token without exp, say). The caller's map is not modified.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	token, err := i.dev.Mint(claims)
	if err != nil {
		return "", fmt.Errorf("oidcmock: %w", err)
	}
	return token, nil
}

// MintWith is Mint with options for the hostile tokens of negative tests.
// The claims are completed as Mint completes them.
func (i *Issuer) MintWith(claims map[string]any, opts MintOptions) (string, error) {
	alg := opts.Algorithm
	if alg == "" {
		alg = AlgRS256
	}
	if opts.UnpublishedKey && alg != AlgRS256 {
		return "", fmt.Errorf("oidcmock: mint: UnpublishedKey needs %s, not %q", AlgRS256, alg)
	}
	if alg == AlgRS256 && opts.KID == "" && !opts.UnpublishedKey && opts.EditPayload == nil {
		return i.Mint(claims)
	}
	payload, err := json.Marshal(i.dev.Claims(claims))
	if err != nil {
		return "", fmt.Errorf("oidcmock: mint: encode claims: %w", err)
	}
	if opts.EditPayload != nil {
		payload = opts.EditPayload(payload)
	}
	key := i.signingKey()
	kid := opts.KID
	if kid == "" && alg != AlgNone {
		kid = key.ID
	}
	switch alg {
	case AlgRS256:
		priv := key.Private
		if opts.UnpublishedKey {
			if priv, err = rsa.GenerateKey(rand.Reader, devissuer.KeyBits); err != nil {
				return "", fmt.Errorf("oidcmock: mint: generate unpublished key: %w", err)
			}
		}
		return sign(jose.RS256, priv, kid, payload)
	case AlgRS384:
		return sign(jose.RS384, key.Private, kid, payload)
	case AlgHS256:
		der, err := x509.MarshalPKIXPublicKey(&key.Private.PublicKey)
		if err != nil {
			return "", fmt.Errorf("oidcmock: mint: encode public key as HMAC secret: %w", err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return sign(jose.HS256, secret, kid, payload)
	case AlgNone:
		return unsigned(kid, payload)
	default:
		return "", fmt.Errorf("oidcmock: mint: unsupported algorithm %q", alg)
	}
}

// sign returns the compact JWS of payload signed with key under alg and kid.
func sign(alg jose.SignatureAlgorithm, key any, kid string, payload []byte) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("oidcmock: mint: new %s signer: %w", alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidcmock: mint: sign %s: %w", alg, err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oidcmock: mint: serialize %s token: %w", alg, err)
	}
	return token, nil
}

// unsigned returns an "alg":"none" JWT: header.payload. with no signature.
// go-jose refuses to produce one, so it is assembled by hand.
func unsigned(kid string, payload []byte) (string, error) {
	header := map[string]string{"alg": AlgNone, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("oidcmock: mint: encode none header: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(payload) + ".", nil
}
