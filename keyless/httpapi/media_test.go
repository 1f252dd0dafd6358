package httpapi_test

import (
	"crypto/elliptic"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/test/harness"
)

// TestMediaTypes: the certificate and signing endpoints parse Content-Type
// as a media type: application/json in any case and with parameters is
// accepted; any other type, a malformed one or none is 415 naming the type
// to send, and nothing is issued.
func TestMediaTypes(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	cases := []struct {
		contentType string // "" sends no Content-Type
		accepted    bool
		reason      string
	}{
		{"application/json", true, ""},
		{"Application/JSON", true, ""},
		{"application/json; charset=utf-8", true, ""},
		{"APPLICATION/JSON;CHARSET=UTF-8", true, ""},
		{"application/jsonpatch", false, `Content-Type "application/jsonpatch" is not accepted here: send application/json`},
		{"application/json-seq", false, "is not accepted here"},
		{"text/plain", false, `"text/plain" is not accepted here: send application/json`},
		{"application/x-www-form-urlencoded", false, "send application/json"},
		{"application/json; charset", false, "is malformed: send application/json"},
		{"", false, "Content-Type is missing: send application/json"},
	}
	for _, ep := range certEndpoints {
		for _, tc := range cases {
			t.Run(ep.path+" "+tc.contentType, func(t *testing.T) {
				before := issuedCount(t, env)
				b, err := json.Marshal(ep.body(t, newKey(t, elliptic.P256()), sub))
				if err != nil {
					t.Fatal(err)
				}
				h := map[string]string{"Authorization": "Bearer " + token}
				if tc.contentType != "" {
					h["Content-Type"] = tc.contentType
				}
				resp := env.Do(t, http.MethodPost, ep.path, h, strings.NewReader(string(b)))
				if tc.accepted {
					if resp.Status != ep.ok {
						t.Fatalf("status %d, want %d: %s", resp.Status, ep.ok, resp.Body)
					}
					return
				}
				expectRefusal(t, resp, http.StatusUnsupportedMediaType, tc.reason)
				if after := issuedCount(t, env); after != before {
					t.Errorf("a certificate was issued: before %q, after %q", before, after)
				}
			})
		}
	}
}

// TestHeadOnEveryGetEndpoint: HEAD answers what GET answers, headers only.
func TestHeadOnEveryGetEndpoint(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	for _, path := range []string{
		"/healthz", "/readyz", "/metrics", "/api/v2/trustBundle", "/api/v1/rootCert", "/api/v2/configuration",
		"/api/v1/trustedroot", "/api/v1/signingconfig", "/api/v1/timestamp/certchain",
	} {
		t.Run(path, func(t *testing.T) {
			get := env.Do(t, http.MethodGet, path, nil, nil)
			req, err := http.NewRequest(http.MethodHead, env.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			switch {
			case get.Status != http.StatusOK:
				t.Fatalf("GET %s: status %d", path, get.Status)
			case resp.StatusCode != http.StatusOK:
				t.Fatalf("HEAD %s: status %d, want 200", path, resp.StatusCode)
			case len(body) != 0:
				t.Errorf("HEAD %s returned a body of %d bytes", path, len(body))
			case resp.Header.Get("Content-Type") != get.Header.Get("Content-Type"):
				t.Errorf("HEAD Content-Type %q, GET %q", resp.Header.Get("Content-Type"), get.Header.Get("Content-Type"))
			}
		})
	}
	// HEAD is not a way around POST-only endpoints.
	req, _ := http.NewRequest(http.MethodHead, env.URL+"/api/v1/sign", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /api/v1/sign: status %d, want 405", resp.StatusCode)
	}
}
