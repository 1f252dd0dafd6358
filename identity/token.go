package identity

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/signet-dev/signet/internal/problem"
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

// decodeClaims decodes raw JSON claims twice over: as strings for the
// templates, numbers kept exactly as sent (GitHub sends ids as strings,
// others as numbers); and as JSON values for nested claims and policy,
// integers as int64.
func decodeClaims(raw json.RawMessage) (map[string]string, map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("decode claims: %w", err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = claimString(v)
		m[k] = normalizeNumbers(v)
	}
	return out, m, nil
}

// claimString formats a claim value as templates see it.
func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprintf("%v", v)
	}
}

// normalizeNumbers replaces json.Number by int64 (or float64 when it is not
// an integer) throughout a decoded JSON value.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalizeNumbers(e)
		}
	}
	return v
}
