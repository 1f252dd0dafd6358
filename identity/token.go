package identity

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/signet-dev/signet/keyless/problem"
)

// MaxTokenSize bounds a raw identity token. Real CI tokens are 1 to 2 KiB;
// a larger one is refused before any parsing.
const MaxTokenSize = 16 << 10

// asymmetricAlgs are the only JWS algorithms ever accepted: never none,
// never an HMAC whose key would be public.
type joseAlg = jose.SignatureAlgorithm

var asymmetricAlgs = []joseAlg{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// unverifiedIssuer returns the token's `iss` without checking anything but
// its shape: it is used only to pick the verifier that then checks it all.
func unverifiedIssuer(raw string) (string, error) {
	if raw == "" {
		return "", problem.Unauthorized("identity token is missing: send it as `Authorization: Bearer <token>`")
	}
	if len(raw) > MaxTokenSize {
		return "", problem.Unauthorized("identity token is %d bytes, over the %d-byte limit", len(raw), MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return "", problem.Unauthorized("identity token is not a JWT: it must have exactly three dot-separated parts")
	}
	tok, err := jwt.ParseSigned(raw, asymmetricAlgs)
	if err != nil {
		return "", problem.Unauthorized("identity token is malformed or uses a refused algorithm: %v", err)
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return "", problem.Unauthorized("identity token claims are malformed: %v", err)
	}
	if claims.Issuer == "" {
		return "", problem.Unauthorized("identity token has no iss claim")
	}
	return claims.Issuer, nil
}

// stringClaims decodes raw JSON claims into strings, numbers kept exactly
// as sent (GitHub sends ids as strings, others as numbers).
func stringClaims(raw json.RawMessage) (map[string]string, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprintf("%v", v)
		}
	}
	return out, nil
}
