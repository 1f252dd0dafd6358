package identity

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-dev/signet/internal/problem"
)

// DefaultMaxTokenLifetime caps exp - iat of a token when neither the
// issuer's max-token-lifetime nor oidc.max-token-lifetime says otherwise. A
// GitHub Actions token lives 5 minutes, CircleCI's 5 hours; a day leaves
// room for long GitLab job tokens and refuses tokens minted to last for
// years.
const DefaultMaxTokenLifetime = 24 * time.Hour

// JSON kinds of a claim value, as claim rules name them.
const (
	kindString  = "string"
	kindNumber  = "number"
	kindBoolean = "boolean"
	kindObject  = "object"
	kindArray   = "array"
	kindNull    = "null"
)

// kindOf names the JSON kind of a value decoded with UseNumber.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return kindString
	case json.Number, int64, float64:
		return kindNumber
	case bool:
		return kindBoolean
	case map[string]any:
		return kindObject
	case []any:
		return kindArray
	}
	return kindNull
}

// scalar reports whether a claim of this kind may be rendered into a
// certificate extension: a string, a number (Buildkite) or a boolean
// (CircleCI), never an object, an array or null.
func scalar(kind string) bool {
	return kind == kindString || kind == kindNumber || kind == kindBoolean
}

// checkClaims applies the rules every verified token must meet before any
// claim reaches a certificate, a SAN or a log line:
//   - sub is a non-empty JSON string (OIDC Core), whatever the issuer type:
//     the proof of possession is never made over an empty challenge;
//   - exp and iat are present, and exp, iat and nbf are JSON numbers;
//   - exp - iat is at most maxLifetime;
//   - no string anywhere in the claims, object keys included, holds a
//     control or formatting character (see forbiddenRune) or U+FFFD,
//     which stands for text lost before or in decoding.
//
// Each refusal is problem.Unauthorized naming the claim.
func checkClaims(raw map[string]any, maxLifetime time.Duration) error {
	sub, ok := raw["sub"].(string)
	switch {
	case !ok && raw["sub"] == nil:
		return problem.Unauthorized("identity token has no sub claim: every token must name its subject")
	case !ok:
		return problem.Unauthorized("identity token's sub claim is a JSON %s: it must be a string", kindOf(raw["sub"]))
	case sub == "":
		return problem.Unauthorized("identity token's sub claim is empty")
	}
	times := map[string]float64{}
	for _, name := range []string{"exp", "iat", "nbf"} {
		v, present := raw[name]
		if !present {
			if name != "nbf" {
				return problem.Unauthorized("identity token has no %s claim", name)
			}
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return problem.Unauthorized("identity token's %s claim is a JSON %s: it must be a number (seconds since 1970)", name, kindOf(v))
		}
		f, err := n.Float64()
		if err != nil {
			return problem.Unauthorized("identity token's %s claim %q is not a number of seconds", name, n.String())
		}
		times[name] = f
	}
	// In float seconds: a Duration would overflow on a token minted for
	// centuries and wrap below the cap.
	if life := times["exp"] - times["iat"]; maxLifetime > 0 && life > maxLifetime.Seconds() {
		return problem.Unauthorized("identity token lives %.0fs (exp - iat), over this issuer's limit of %s", life, maxLifetime)
	}
	return cleanStrings("", raw)
}

// cleanStrings refuses any string in v, or key of an object in v, that
// holds a forbidden character, naming the claim where it is.
func cleanStrings(where string, v any) error {
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, utf8.RuneError) {
			return problem.Unauthorized("identity token's %s claim holds U+FFFD, the replacement character: its text was lost in encoding (an escaped lone surrogate, say), so a certificate cannot hold it faithfully", where)
		}
		if i := strings.IndexFunc(v, forbiddenRune); i >= 0 {
			r, _ := utf8.DecodeRuneInString(v[i:])
			return problem.Unauthorized("identity token's %s claim holds the control or formatting character %U, which a certificate or a log line must not carry", where, r)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			name := k
			if where != "" {
				name = where + "." + k
			}
			if strings.IndexFunc(k, forbiddenRune) >= 0 || strings.ContainsRune(k, utf8.RuneError) {
				return problem.Unauthorized("identity token has a claim name holding a control or formatting character, or U+FFFD")
			}
			if err := cleanStrings(name, v[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := cleanStrings(fmt.Sprintf("%s[%d]", where, i), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// forbiddenRune reports the characters no claim may carry: C0 controls,
// DEL, C1 controls, the line and paragraph separators U+2028 and U+2029,
// and the bidirectional controls U+202A to U+202E and U+2066 to U+2069
// (which can make a certificate's identity read differently from what it
// is).
func forbiddenRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// requireString checks that the claim named is a non-empty JSON string,
// for the claims that form a SAN or the proof-of-possession challenge.
func requireString(kinds map[string]string, claims map[string]string, name, role string) error {
	kind, ok := kinds[name]
	switch {
	case !ok:
		return problem.Unauthorized("identity token lacks the %s claim, which forms the %s", name, role)
	case kind != kindString:
		return problem.Unauthorized("identity token's %s claim is a JSON %s: it forms the %s, so it must be a string", name, kind, role)
	case claims[name] == "":
		return problem.Unauthorized("identity token's %s claim is empty: it forms the %s", name, role)
	}
	return nil
}
