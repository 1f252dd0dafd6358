package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/signet-dev/signet/internal/problem"
)

// MaxTokenSize bounds a raw identity token. Real CI tokens are 1 to 2 KiB;
// a larger one is refused before any parsing.
const MaxTokenSize = 16 << 10

// TokenAlgorithms lists the only JWS algorithms signet ever accepts for an
// identity token: asymmetric ones; never none, never an HMAC whose key
// would be public.
func TokenAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	}
}

// unverifiedIssuer returns the token's `iss`, its claims, decoded (numbers
// kept exact), and the parsed JWS, without checking anything but their
// shape: the issuer picks the verifier that then checks it all, and the
// claims are used only once that verifier has accepted the same raw token,
// whose payload they were decoded from.
func unverifiedIssuer(raw string) (string, map[string]any, *jose.JSONWebSignature, error) {
	if raw == "" {
		return "", nil, nil, problem.Unauthorized("identity token is missing: send it as `Authorization: Bearer <token>`")
	}
	if len(raw) > MaxTokenSize {
		return "", nil, nil, problem.Unauthorized("identity token is %d bytes, over the %d-byte limit", len(raw), MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return "", nil, nil, problem.Unauthorized("identity token is not a JWT: it must have exactly three dot-separated parts")
	}
	jws, err := jose.ParseSigned(raw, TokenAlgorithms())
	if err != nil {
		return "", nil, nil, problem.Unauthorized("identity token is malformed or uses a refused algorithm: %s", joseFault(err)).WithCause(err)
	}
	claims, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return "", nil, nil, problem.Unauthorized("identity token claims are malformed: %s", problem.ParseDetail(err)).WithCause(err)
	}
	iss, isString := claims["iss"].(string)
	switch {
	case claims["iss"] != nil && !isString:
		return "", nil, nil, problem.Unauthorized("identity token claims are malformed: iss must be a string")
	case iss == "":
		return "", nil, nil, problem.Unauthorized("identity token has no iss claim")
	}
	return iss, claims, jws, nil
}

// joseFault words why go-jose could not parse a token. Its header errors
// quote Go types and echo the header's values, so only a refused algorithm
// and bad base64 are described; any other fault is named as the header's.
func joseFault(err error) string {
	var alg *jose.ErrUnexpectedSignatureAlgorithm
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &alg):
		accepted := make([]string, 0, len(TokenAlgorithms()))
		for _, a := range TokenAlgorithms() {
			accepted = append(accepted, string(a))
		}
		return fmt.Sprintf("algorithm %q is refused: accepted are %s", problem.Truncate(string(alg.Got)), strings.Join(accepted, ", "))
	case errors.As(err, &b64):
		return "a part is not unpadded base64url: " + b64.Error()
	default:
		return "its protected header is not a JOSE header of the right JSON types"
	}
}

// claimTypeFault explains why go-oidc could not decode a token's claims,
// naming the claim checkClaims finds at fault in the unverified payload.
// It only ever words a refusal: nothing unverified is trusted.
func claimTypeFault(raw string, maxLifetime time.Duration) error {
	generic := problem.Unauthorized("identity token's registered claims have the wrong JSON types: iss, sub and aud must be strings, exp, iat and nbf numbers")
	jws, err := jose.ParseSigned(raw, TokenAlgorithms())
	if err != nil {
		return generic
	}
	m, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return generic
	}
	if err := checkClaims(m, maxLifetime); err != nil {
		return err
	}
	return generic
}

// decodeClaims decodes raw JSON claims, numbers kept as json.Number so
// that checkClaims sees their JSON kind. It refuses what Go's JSON decoder
// would otherwise read differently from other parsers: bytes that are not
// UTF-8 (it would put U+FFFD in their place) and anything after the one
// object (a lone Decode stops there and ignores it).
func decodeClaims(raw json.RawMessage) (map[string]any, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("decode claims: the claims are not UTF-8 text")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode claims: something follows the claims object")
	}
	if m == nil {
		return nil, fmt.Errorf("decode claims: the claims are not a JSON object")
	}
	return m, nil
}

// claimSet is a token's claims in the three forms the mappings use.
type claimSet struct {
	// strings are the scalar claims (strings, numbers kept exactly as sent,
	// booleans) formatted as templates see them; objects, arrays and null
	// are left out, so no template can render them.
	strings map[string]string
	// kinds is the JSON kind of every top-level claim.
	kinds map[string]string
	// values are the claims as JSON values, integers as int64, for nested
	// claims and policy.
	values map[string]any
}

// splitClaims turns decoded claims into a claimSet. It takes over m.
func splitClaims(m map[string]any) claimSet {
	cs := claimSet{strings: make(map[string]string, len(m)), kinds: make(map[string]string, len(m)), values: m}
	for k, v := range m {
		kind := kindOf(v)
		cs.kinds[k] = kind
		if scalar(kind) {
			cs.strings[k] = claimString(v)
		}
		m[k] = normalizeNumbers(v)
	}
	return cs
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
