package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// Run one target at a time, e.g.
//
//	go test -run '^$' -fuzz '^FuzzUnverifiedIssuer$' -fuzztime 30s -parallel 1 ./identity/
//
// or all of them with `make fuzz`.

// watchdog crashes the fuzz worker when one input runs longer than limit,
// so that the fuzzer saves that input as a failure: a hang is a finding
// too (the Go fuzzer has no per-input timeout of its own). Use it as
// defer watchdog(limit, input)().
func watchdog(limit time.Duration, input any) func() bool {
	return time.AfterFunc(limit, func() {
		panic(fmt.Sprintf("fuzz: one input ran over %s: %q", limit, input))
	}).Stop
}

// fuzzLimit is the time one input may take, however loaded the machine.
const fuzzLimit = 20 * time.Second

// fuzzJWT signs claims as a compact JWS with a fresh key under alg (ES256
// or RS-less algorithms only: the key is ECDSA P-256).
func fuzzJWT(tb testing.TB, key *ecdsa.PrivateKey, claims any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// gitHubClaimSet is a GitHub Actions claim set as a verified token carries
// it: the oidcmock claims plus iss, aud and the times.
func gitHubClaimSet(iss string) map[string]any {
	c := oidcmock.GitHubClaims("acme/widgets")
	now := testclock.Now().Unix()
	c["iss"], c["iat"], c["nbf"], c["exp"] = iss, now, now-5, now+300
	return c
}

// FuzzUnverifiedIssuer feeds arbitrary strings to the first parser a token
// meets: it must never panic, and every refusal must be a 401. A token it
// accepts must name, as its issuer, the iss of its payload segment.
//
//	go test -run '^$' -fuzz '^FuzzUnverifiedIssuer$' -fuzztime 30s -parallel 1 ./identity/
func FuzzUnverifiedIssuer(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"", "a.b.c", "..", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3gifQ.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOjF9.AAAA", strings.Repeat("A", 100) + ".." + strings.Repeat("B", 10),
		fuzzJWT(f, key, gitHubClaimSet("https://token.actions.githubusercontent.com")),
		fuzzJWT(f, key, map[string]any{"iss": "https://accounts.example.com", "sub": "1", "email": "dev@example.com", "email_verified": true}),
		fuzzJWT(f, key, map[string]any{"iss": ""}),
		fuzzJWT(f, key, map[string]any{"iss": []string{"a"}}),
		fuzzJWT(f, key, []int{1}),
		"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL3gifQ==.AAAA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		defer watchdog(fuzzLimit, raw)()
		iss, _, _, err := unverifiedIssuer(raw)
		var pe *problem.Error
		switch {
		case err != nil && (!errors.As(err, &pe) || pe.Status != http.StatusUnauthorized):
			t.Fatalf("refusal %v is not a 401", err)
		case err == nil && (iss == "" || strings.Count(raw, ".") != 2 || len(raw) > MaxTokenSize):
			t.Fatalf("accepted %q as a token of issuer %q", raw, iss)
		case err == nil:
			// The payload segment, decoded on its own, names the same issuer.
			seg := strings.Split(raw, ".")[1]
			b, derr := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
			var c struct {
				Issuer string `json:"iss"`
			}
			if derr != nil || json.Unmarshal(b, &c) != nil || c.Issuer != iss {
				t.Fatalf("accepted %q as a token of issuer %q, but its payload %q says %q (%v)", raw, iss, b, c.Issuer, derr)
			}
		}
	})
}

// FuzzSPIFFEID checks that whatever the SPIFFE ID parser accepts is a
// spiffe:// URI of a valid trust domain.
//
//	go test -run '^$' -fuzz '^FuzzSPIFFEID$' -fuzztime 30s -parallel 1 ./identity/
func FuzzSPIFFEID(f *testing.F) {
	for _, seed := range []string{"spiffe://example.org/ns/a", "spiffe://example.org", "spiffe://a/../b", "spiffe://EX/a", "spiffe://x//"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		defer watchdog(fuzzLimit, id)()
		td, err := spiffeTrustDomain(id)
		if err != nil {
			return
		}
		if validTrustDomain(td) != nil || !strings.HasPrefix(id, "spiffe://"+td) {
			t.Fatalf("accepted %q with trust domain %q", id, td)
		}
		if _, err := absoluteURI(id); err != nil {
			t.Fatalf("accepted %q, which is not an absolute URI: %v", id, err)
		}
	})
}

// claimsSeeds are JSON claim sets: real ones of every issuer kind signet
// maps (with iat and exp of now), then malformed and hostile ones.
func claimsSeeds(tb testing.TB) []string {
	tb.Helper()
	gh, err := json.Marshal(gitHubClaimSet("https://token.actions.githubusercontent.com"))
	if err != nil {
		tb.Fatal(err)
	}
	// A GitHub token whose url claim overrides the profile's base URL
	// (claims win over default-template-values, as in Fulcio).
	withURL := gitHubClaimSet("https://token.actions.githubusercontent.com")
	withURL["url"] = "https://ghe.example.com"
	ghURL, err := json.Marshal(withURL)
	if err != nil {
		tb.Fatal(err)
	}
	now := testclock.Now().Unix()
	times := fmt.Sprintf(`{"iat":%d,"nbf":%d,"exp":%d,`, now, now-5, now+300)
	seeds := []string{string(gh), string(ghURL)}
	for _, body := range []string{
		`"iss":"https://gitlab.com","sub":"project_path:acme/widgets:ref_type:branch:ref:main","aud":"sigstore","namespace_id":"4","namespace_path":"acme","project_id":"42","project_path":"acme/widgets","pipeline_id":"1","pipeline_source":"push","job_id":"7","ref":"main","ref_type":"branch","ci_config_ref_uri":"gitlab.com/acme/widgets//.gitlab-ci.yml@refs/heads/main","ci_config_sha":"abc","sha":"abc","runner_environment":"gitlab-hosted","project_visibility":"public"}`,
		`"iss":"https://agent.buildkite.com","sub":"organization:acme:pipeline:widgets:ref:refs/heads/main:commit:abc:step:build","organization_slug":"acme","pipeline_slug":"widgets","build_number":42,"job_id":"j-1","build_commit":"abc","build_source":"webhook"}`,
		`"iss":"https://oidc.circleci.com/org/x","sub":"org/x/project/y/user/z","oidc.circleci.com/project-id":"p","oidc.circleci.com/pipeline-definition-id":"d","oidc.circleci.com/pipeline-id":"pl","oidc.circleci.com/workflow-id":"w","oidc.circleci.com/job-id":"j","oidc.circleci.com/ssh-rerun":false,"oidc.circleci.com/vcs-ref":"refs/heads/main","oidc.circleci.com/vcs-origin":"github.com/acme/widgets"}`,
		`"iss":"https://oidc.codefresh.io","sub":"account:a:pipeline:p","account_name":"acme","pipeline_name":"widgets","account_id":"1","pipeline_id":"2","workflow_id":"3","scm_repo_url":"https://github.com/acme/widgets","scm_ref":"main","runner_environment":"saas"}`,
		`"iss":"https://accounts.example.com","sub":"1234","email":"dev@example.com","email_verified":true,"federated_claims":{"connector_id":"https://github.com/login/oauth","user_id":"9"}}`,
		`"iss":"https://oidc.eks.eu-west-1.amazonaws.com/id/ABC","sub":"system:serviceaccount:prod:builder","kubernetes.io":{"namespace":"prod","serviceaccount":{"name":"builder","uid":"u"}}}`,
		`"sub":"spiffe://example.com/ns/prod/sa/builder"}`,
		`"sub":"https://builds.example.com/jobs/1"}`,
		`"sub":"alice"}`,
		`"sub":"repo:acme/widgets","url":"https://ghe.example.com","job_workflow_ref":"acme/widgets/.github/workflows/release.yml@refs/heads/main","repository":"acme/widgets"}`,
		`"sub":"x","job_workflow_ref":"a b/c?d=é#frag"}`,
		`"sub":"x","run_id":12345678901234567890,"run_attempt":1.5,"repository_id":1e3,"big":1e999}`,
		`"sub":"x","email_verified":"True","email":"Dev <dev@example.com>"}`,
		`"sub":"x","a":{"b":[1,{"c":null}]}}`,
		`"sub":"x","job_workflow_ref":"a\u202eb","ref":"\u0000"}`,
		`"sub":""}`, `"sub":1}`, `"exp":"soon","sub":"x"}`,
	} {
		seeds = append(seeds, times+body)
	}
	return append(seeds, `{}`, `null`, `[]`, `"str"`, `1`, `{"sub":"x"} trailing`, `{"a":`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1,"a":"x"}`)
}

// FuzzDecodeClaims feeds arbitrary bytes to the claims decoding of a
// verified token (decodeClaims, checkClaims, splitClaims, in the order
// Authenticate runs them): it must never panic and refuse only with a 401.
// Claims it accepts come out as a string view holding exactly the scalar
// claims (strings unchanged), a kind for every claim, and values holding
// only JSON values with integers as int64, which encode and decode again
// to the same.
//
//	go test -run '^$' -fuzz '^FuzzDecodeClaims$' -fuzztime 30s -parallel 1 ./identity/
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimsSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer watchdog(fuzzLimit, raw)()
		m, err := decodeClaims(raw)
		if err != nil {
			return
		}
		if m == nil {
			t.Fatalf("%q: decoded to nil claims without an error", raw)
		}
		// What it accepts, any JSON parser reads alike: one valid JSON
		// text, in UTF-8.
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("%q: decoded, but it is not one JSON text in UTF-8", raw)
		}
		if err := checkClaims(m, DefaultMaxTokenLifetime); err != nil {
			if problem.StatusOf(err) != http.StatusUnauthorized {
				t.Fatalf("%q: refused with status %d, not 401: %v", raw, problem.StatusOf(err), err)
			}
			return
		}
		if s, ok := m["sub"].(string); !ok || s == "" {
			t.Fatalf("%q: accepted without a non-empty string sub", raw)
		}
		// The lifetime cap holds: exp - iat, in seconds as sent, is at
		// most the limit.
		exp, errExp := m["exp"].(json.Number).Float64()
		iat, errIat := m["iat"].(json.Number).Float64()
		if errExp != nil || errIat != nil || exp-iat > DefaultMaxTokenLifetime.Seconds() {
			t.Fatalf("%q: accepted a token living %g s (exp %v, iat %v), over the %s cap", raw, exp-iat, m["exp"], m["iat"], DefaultMaxTokenLifetime)
		}
		originals := map[string]any{}
		for k, v := range m {
			originals[k] = v
		}
		cs := splitClaims(m)
		if len(cs.kinds) != len(cs.values) {
			t.Fatalf("%q: %d kinds for %d claims", raw, len(cs.kinds), len(cs.values))
		}
		for k, v := range cs.values {
			kind, ok := cs.kinds[k]
			if !ok {
				t.Fatalf("%q: claim %q has no kind", raw, k)
			}
			s, hasString := cs.strings[k]
			if hasString != scalar(kind) {
				t.Fatalf("%q: claim %q of kind %s has a template string: %v", raw, k, kind, hasString)
			}
			if str, isStr := originals[k].(string); isStr && (kind != kindString || s != str) {
				t.Fatalf("%q: string claim %q reads %q (kind %s) as a template value", raw, k, s, kind)
			}
			if n, isNum := originals[k].(json.Number); isNum && (kind != kindNumber || s != n.String()) {
				t.Fatalf("%q: number claim %q reads %q (kind %s) as a template value", raw, k, s, kind)
			}
			if err := jsonModel(v); err != nil {
				t.Fatalf("%q: claim %q: %v", raw, k, err)
			}
		}
		for k := range cs.strings {
			if _, ok := cs.values[k]; !ok {
				t.Fatalf("%q: template string %q is no claim", raw, k)
			}
		}
		// What was accepted re-parses: the values, encoded again (when
		// they hold no infinite float), decode to values that encode the
		// same. (An integral float such as 1e3 comes back as an int64,
		// which encodes the same.)
		if b, err := json.Marshal(cs.values); err == nil {
			again, err := decodeClaims(b)
			if err != nil {
				t.Fatalf("%q: re-encoded claims %q do not decode: %v", raw, b, err)
			}
			if err := checkClaims(again, DefaultMaxTokenLifetime); err != nil {
				t.Fatalf("%q: re-encoded claims %q are refused: %v", raw, b, err)
			}
			if b2, err := json.Marshal(splitClaims(again).values); err != nil || string(b2) != string(b) {
				t.Fatalf("%q: claims change through a JSON round trip:\n%s\n%s (%v)", raw, b, b2, err)
			}
		}
	})
}

// jsonModel checks that v holds only what decodeClaims promises: strings,
// bools, nil, int64, float64, []any and map[string]any.
func jsonModel(v any) error {
	switch v := v.(type) {
	case nil, string, bool, int64, float64:
		return nil
	case []any:
		for _, e := range v {
			if err := jsonModel(e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, e := range v {
			if err := jsonModel(e); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("value of type " + reflect.TypeOf(v).String() + " left in the claims")
}
