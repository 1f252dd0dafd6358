package tsa

import (
	"bytes"
	"crypto"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/digitorus/timestamp"
)

// newRecorder serves one POST /api/v1/timestamp through h.
func newRecorder(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/timestamp", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzTimestampRequest feeds DER and JSON bodies through the real handler:
// it must never panic nor answer 5xx, and a 200 must carry a parsable reply.
func FuzzTimestampRequest(f *testing.F) {
	fx := newFixture(f)
	d256 := digestOf(crypto.SHA256, []byte("seed"))
	seedsDER := []*timestamp.Request{
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256, Certificates: true, Nonce: randomNonce(f)},
		{HashAlgorithm: crypto.SHA512, HashedMessage: digestOf(crypto.SHA512, []byte("seed")), TSAPolicyOID: DefaultPolicy()},
		{HashAlgorithm: crypto.SHA1, HashedMessage: make([]byte, 20)},
		{HashAlgorithm: crypto.SHA384, HashedMessage: d256},
	}
	for _, r := range seedsDER {
		f.Add(false, derRequest(f, r))
	}
	for _, s := range []string{
		"", "\x30\x00", "\x30\x80\x00\x00", "not der",
	} {
		f.Add(false, []byte(s))
	}
	for _, s := range []string{
		`{"artifactHash":"` + "q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=" + `","hashAlgorithm":"sha256","certificates":true,"nonce":123}`,
		`{"artifactHash":"AAAA","hashAlgorithm":"sha1"}`,
		`{"artifactHash":"q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=","hashAlgorithm":"sha256","tsaPolicyOID":"1.3.6.1.4.1.57264.2","nonce":-5}`,
		`{"artifactHash":"q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=","hashAlgorithm":"sha256","tsaPolicyOID":"99999999999.1"}`,
		`{"nonce":1e999}`, `null`, `[]`, `{}`, `{"hashAlgorithm":7}`,
	} {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, isJSON bool, body []byte) {
		ct := ContentTypeQuery
		if isJSON {
			ct = ContentTypeJSON
		}
		rec := newRecorder(fx.route, ct, body)
		switch rec.Code {
		case http.StatusOK:
			if _, err := timestamp.ParseResponse(rec.Body.Bytes()); err != nil {
				t.Fatalf("200 with an unparsable reply: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
