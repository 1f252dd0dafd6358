package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// FuzzTimestampRequest feeds DER (isJSON false, application/timestamp-query)
// and JSON (isJSON true, application/json) bodies through the real handler:
// it must never panic nor answer anything but 200, 400 or 413. A 200 must
// carry a reply that parses and verifies, whose token is over exactly the
// hash, digest and nonce of the request as the parser read it, under the
// TSA's policy and clock, with the chain only when the request asked.
//
//	go test -run '^$' -fuzz '^FuzzTimestampRequest$' -fuzztime 30s -parallel 1 ./tsa/
func FuzzTimestampRequest(f *testing.F) {
	fx := newFixture(f)
	d256 := digestOf(crypto.SHA256, []byte("seed"))
	seedsDER := []*timestamp.Request{
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256, Certificates: true, Nonce: randomNonce(f)},
		{HashAlgorithm: crypto.SHA512, HashedMessage: digestOf(crypto.SHA512, []byte("seed")), TSAPolicyOID: DefaultPolicy()},
		{HashAlgorithm: crypto.SHA1, HashedMessage: make([]byte, 20)},
		{HashAlgorithm: crypto.SHA384, HashedMessage: d256},
		{HashAlgorithm: crypto.SHA384, HashedMessage: digestOf(crypto.SHA384, []byte("seed")), Nonce: big.NewInt(-5)},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256, TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3}},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}},
	}
	for _, r := range seedsDER {
		der := derRequest(f, r)
		f.Add(false, der)
		// The same request as version 2, which RFC 3161 does not define.
		if len(der) > 4 && der[2] == 0x02 && der[3] == 0x01 && der[4] == 0x01 {
			v2 := append([]byte(nil), der...)
			v2[4] = 0x02
			f.Add(false, v2)
		}
	}
	for _, s := range []string{
		"", "\x30\x00", "\x30\x80\x00\x00", "not der", "\x30\x03\x02\x01\x01",
	} {
		f.Add(false, []byte(s))
	}
	for _, s := range []string{
		`{"artifactHash":"` + "q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=" + `","hashAlgorithm":"sha256","certificates":true,"nonce":123}`,
		`{"artifactHash":"AAAA","hashAlgorithm":"sha1"}`,
		`{"artifactHash":"q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=","hashAlgorithm":"sha256","tsaPolicyOID":"1.3.6.1.4.1.57264.2","nonce":-5}`,
		`{"artifactHash":"q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=","hashAlgorithm":"SHA256","tsaPolicyOID":"99999999999.1"}`,
		`{"artifactHash":"q1o5zMDgsmbXKNTU5fzTW2vS+x3N6LhQ4bbx+FWcSpQ=","hashAlgorithm":"sha256","nonce":123456789012345678901234567890123456789012345678901234567890}`,
		`{"nonce":1e999}`, `null`, `[]`, `{}`, `{"hashAlgorithm":7}`, `{"artifactHash":"","hashAlgorithm":"sha512"}`,
	} {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, isJSON bool, body []byte) {
		// A hang is a finding too: crash the worker so that the fuzzer
		// saves the input (it has no per-input timeout of its own).
		timer := time.AfterFunc(20*time.Second, func() { panic(fmt.Sprintf("fuzz: one input ran over 20s: %q", body)) })
		defer timer.Stop()
		ct := ContentTypeQuery
		if isJSON {
			ct = ContentTypeJSON
		}
		rec := newRecorder(fx.route, ct, body)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			// A refusal words the request's fault, not the parser's Go
			// types or ASN.1 struct tags (unless the input quoted them).
			for _, f := range []string{"Go value", "Go struct", "tsa.", "{optional", "asn1:", "big.Int"} {
				if strings.Contains(rec.Body.String(), f) && !bytes.Contains(body, []byte(f)) {
					t.Fatalf("refusal of %q shows the server's internals (%q): %s", body, f, rec.Body)
				}
			}
			return
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		ts, err := timestamp.ParseResponse(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("200 with an unparsable reply to %q: %v", body, err)
		}
		parse := parseDERRequest
		if isJSON {
			parse = parseJSONRequest
		}
		req, err := parse(body)
		if err != nil {
			t.Fatalf("200 to %q, which the parser refuses on its own: %v", body, err)
		}
		switch {
		case ts.HashAlgorithm != req.HashAlgorithm || !bytes.Equal(ts.HashedMessage, req.HashedMessage):
			t.Fatalf("%q: token over %v %x, request asked %v %x", body, ts.HashAlgorithm, ts.HashedMessage, req.HashAlgorithm, req.HashedMessage)
		case (req.Nonce == nil) != (ts.Nonce == nil) || req.Nonce != nil && req.Nonce.Cmp(ts.Nonce) != 0:
			t.Fatalf("%q: token nonce %v, request nonce %v", body, ts.Nonce, req.Nonce)
		case !ts.Policy.Equal(DefaultPolicy()):
			t.Fatalf("%q: token policy %v", body, ts.Policy)
		case !ts.Time.Equal(fx.now):
			t.Fatalf("%q: token time %v, TSA clock %v", body, ts.Time, fx.now)
		case req.Certificates != (len(ts.Certificates) > 0):
			t.Fatalf("%q: certReq %v but %d certificates in the token", body, req.Certificates, len(ts.Certificates))
		}
	})
}
