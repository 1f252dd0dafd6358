package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/signet-dev/signet/internal/problem"
)

// tsCase is one successful request and what its token must hold.
type tsCase struct {
	name     string
	json     bool
	hash     crypto.Hash
	certReq  bool
	nonce    *big.Int
	policy   asn1.ObjectIdentifier
	artifact []byte
}

// body encodes the request in the case's form.
func (c tsCase) body(t testing.TB) (contentType string, body []byte) {
	digest := digestOf(c.hash, c.artifact)
	if !c.json {
		return ContentTypeQuery, derRequest(t, &timestamp.Request{
			HashAlgorithm: c.hash, HashedMessage: digest,
			Certificates: c.certReq, Nonce: c.nonce, TSAPolicyOID: c.policy,
		})
	}
	names := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "SHA384", crypto.SHA512: "sha512"}
	j := JSONRequest{
		ArtifactHash:  base64.StdEncoding.EncodeToString(digest),
		HashAlgorithm: names[c.hash],
		Certificates:  c.certReq,
		Nonce:         c.nonce,
	}
	if c.policy != nil {
		j.TSAPolicyOID = c.policy.String()
	}
	return ContentTypeJSON, jsonRequest(t, j)
}

func successCases(t testing.TB) []tsCase {
	return []tsCase{
		{name: "DER sha256 certReq nonce", hash: crypto.SHA256, certReq: true, nonce: randomNonce(t), artifact: []byte("hello")},
		{name: "DER sha384 no certs", hash: crypto.SHA384, artifact: []byte("artifact two")},
		{name: "DER sha512 policy nonce", hash: crypto.SHA512, nonce: big.NewInt(7), policy: DefaultPolicy(), artifact: []byte("three")},
		{name: "JSON sha256 certReq", json: true, hash: crypto.SHA256, certReq: true, artifact: []byte("json one")},
		{name: "JSON sha384 no certs nonce policy", json: true, hash: crypto.SHA384, nonce: randomNonce(t), policy: DefaultPolicy(), artifact: []byte("json two")},
		{name: "JSON sha512 certReq", json: true, hash: crypto.SHA512, certReq: true, nonce: big.NewInt(1), artifact: []byte("json three")},
	}
}

func TestTimestampSuccess(t *testing.T) {
	f := newFixture(t)
	serials := map[string]bool{}
	for _, c := range successCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ct, body := c.body(t)
			status, gotCT, resp := f.post(t, ct, body)
			if status != http.StatusOK || gotCT != ContentTypeReply {
				t.Fatalf("status %d, Content-Type %q, body %q; want 200 %s", status, gotCT, resp, ContentTypeReply)
			}
			ts, err := timestamp.ParseResponse(resp)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			wantCerts := 0
			if c.certReq {
				wantCerts = len(f.key.Chain)
			}
			checks := []struct {
				what string
				ok   bool
			}{
				{"hash algorithm", ts.HashAlgorithm == c.hash},
				{"imprint", bytes.Equal(ts.HashedMessage, digestOf(c.hash, c.artifact))},
				{"nonce echoed", (c.nonce == nil && ts.Nonce == nil) || (c.nonce != nil && ts.Nonce != nil && c.nonce.Cmp(ts.Nonce) == 0)},
				{"policy", ts.Policy.Equal(DefaultPolicy())},
				{"serial of at most 160 bits", ts.SerialNumber.Sign() > 0 && ts.SerialNumber.BitLen() <= 160 && ts.SerialNumber.BitLen() > 64},
				{"accuracy 1s", ts.Accuracy == time.Second},
				{"time from the clock", ts.Time.Equal(f.now)},
				{"certificates iff certReq", len(ts.Certificates) == wantCerts},
				{"not ordered, not qualified", !ts.Ordering && !ts.Qualified},
			}
			for _, ch := range checks {
				if !ch.ok {
					t.Errorf("%s: wrong (token %+v)", ch.what, ts)
				}
			}
			if c.certReq && !ts.Certificates[0].Equal(f.key.Chain[0]) {
				t.Errorf("first embedded certificate is %q, want the TSA leaf", ts.Certificates[0].Subject)
			}
			if serials[ts.SerialNumber.String()] {
				t.Errorf("serial %v repeated", ts.SerialNumber)
			}
			serials[ts.SerialNumber.String()] = true
			verifyToken(t, ts.RawToken, f.key.Chain)
		})
	}
}

// verifyToken checks the token's CMS signature with the TSA leaf and the
// leaf's chain to the root, whether or not the token embeds them.
func verifyToken(t *testing.T, token []byte, chain []*x509.Certificate) {
	t.Helper()
	p7, err := pkcs7.Parse(token)
	if err != nil {
		t.Fatalf("pkcs7.Parse: %v", err)
	}
	if len(p7.Certificates) == 0 {
		p7.Certificates = []*x509.Certificate{chain[0]}
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	if err := p7.VerifyWithOpts(opts); err != nil {
		t.Fatalf("token signature does not verify: %v", err)
	}
}

func TestTimestampErrors(t *testing.T) {
	f := newFixture(t)
	sha256Digest := digestOf(crypto.SHA256, []byte("x"))
	b64 := base64.StdEncoding.EncodeToString(sha256Digest)
	tests := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code        string
		message     string
	}{
		{"DER SHA-1", ContentTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: make([]byte, 20)}), 400, "bad_request", "SHA-1"},
		{"DER wrong digest length", ContentTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: make([]byte, 31)}), 400, "bad_request", "31 bytes"},
		{"DER version 2", ContentTypeQuery, withVersion(t, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest}), 2), 400, "bad_request", "version 2: only version 1"},
		{"DER version 0", ContentTypeQuery, withVersion(t, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest}), 0), 400, "bad_request", "version 0"},
		{"DER garbage", ContentTypeQuery, []byte("this is not DER"), 400, "bad_request", "malformed RFC 3161 request: malformed DER"},
		{"DER trailing data", ContentTypeQuery, append(derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest}), 0), 400, "bad_request", "trailing data"},
		{"DER empty", ContentTypeQuery, nil, 400, "bad_request", "empty"},
		{"DER oversized", ContentTypeQuery, make([]byte, MaxQueryBytes+1), 413, "too_large", "over"},
		{"DER wrong policy", ContentTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest, TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3}}), 400, "bad_request", "policy"},
		{"DER extension", ContentTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}}), 400, "bad_request", "extension"},
		{"JSON SHA-1", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: base64.StdEncoding.EncodeToString(make([]byte, 20)), HashAlgorithm: "sha1"}), 400, "bad_request", "sha1"},
		{"JSON wrong digest length", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: b64, HashAlgorithm: "sha512"}), 400, "bad_request", "32 bytes"},
		{"JSON garbage", ContentTypeJSON, []byte("{not json"), 400, "bad_request", "invalid JSON at byte 2"},
		{"JSON nonce not an integer", ContentTypeJSON, []byte(`{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256","nonce":1e999}`), 400, "bad_request", "nonce 1e999 is not a JSON integer"},
		{"JSON nonce a string", ContentTypeJSON, []byte(`{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256","nonce":"7"}`), 400, "bad_request", `nonce "7" is not a JSON integer`},
		{"JSON of the wrong type", ContentTypeJSON, []byte(`{"certificates":"yes"}`), 400, "bad_request", `field "certificates": expected a JSON boolean, got string`},
		{"JSON bad base64", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: "!!!", HashAlgorithm: "sha256"}), 400, "bad_request", "base64"},
		{"JSON unknown hash", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: b64, HashAlgorithm: "md5"}), 400, "bad_request", "md5"},
		{"JSON bad OID", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: b64, HashAlgorithm: "sha256", TSAPolicyOID: "1.x.3"}), 400, "bad_request", "tsaPolicyOID"},
		{"JSON wrong policy", ContentTypeJSON, jsonRequest(t, JSONRequest{ArtifactHash: b64, HashAlgorithm: "sha256", TSAPolicyOID: "1.2.3"}), 400, "bad_request", "policy"},
		{"JSON oversized", ContentTypeJSON, []byte(`{"artifactHash":"` + strings.Repeat("A", MaxJSONBytes) + `"}`), 413, "too_large", "over"},
		{"no Content-Type", "", []byte("x"), 415, "unsupported_media_type", "Content-Type"},
		{"text/plain", "text/plain", []byte("x"), 415, "unsupported_media_type", "text/plain"},
		{"malformed Content-Type", "application/json; =", []byte("{}"), 415, "unsupported_media_type", "Content-Type"},
		{"long malformed Content-Type", "application/json; " + strings.Repeat("x", 8000), []byte("{}"), 415, "unsupported_media_type", "send application/timestamp-query"},
		{"long Content-Type", "application/" + strings.Repeat("x", 8000), []byte("{}"), 415, "unsupported_media_type", "send application/timestamp-query"},
		{"DER policy of many arcs", ContentTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest, TSAPolicyOID: manyArcs(2000)}), 400, "bad_request", "unaccepted policy 1.2.3.3.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := f.post(t, tt.contentType, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %s)", status, tt.status, body)
			}
			if ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var pb problem.Body
			if err := json.Unmarshal(body, &pb); err != nil {
				t.Fatalf("problem body %q: %v", body, err)
			}
			if pb.Code != tt.code || !strings.Contains(pb.Message, tt.message) {
				t.Errorf("problem %+v, want code %q and message containing %q", pb, tt.code, tt.message)
			}
			if len(pb.Message) > 512 {
				t.Errorf("message of %d bytes: client input is quoted whole: %.200s...", len(pb.Message), pb.Message)
			}
			for _, internal := range []string{"Go value", "Go struct", "tsa.", "{optional", "asn1:", "big.Int", "mime:"} {
				if strings.Contains(pb.Message, internal) {
					t.Errorf("message %q shows the server's internals (%q)", pb.Message, internal)
				}
			}
		})
	}
}

// manyArcs is the OID 1.2.3.3.3... of n arcs.
func manyArcs(n int) asn1.ObjectIdentifier {
	oid := asn1.ObjectIdentifier{1, 2}
	for len(oid) < n {
		oid = append(oid, 3)
	}
	return oid
}

// withVersion rewrites the version of a DER TimeStampReq made by
// timestamp.Request.Marshal, which always writes version 1.
func withVersion(t *testing.T, der []byte, v byte) []byte {
	t.Helper()
	// The version is the first element: SEQUENCE, length, INTEGER 1.
	hdr := 2
	if der[1]&0x80 != 0 {
		hdr += int(der[1] & 0x7f)
	}
	if der[hdr] != 0x02 || der[hdr+1] != 0x01 || der[hdr+2] != 0x01 {
		t.Fatalf("unexpected DER request prefix % x", der[:hdr+3])
	}
	out := append([]byte(nil), der...)
	out[hdr+2] = v
	if got, ok := requestVersion(out); !ok || got != int64(v) {
		t.Fatalf("rewritten version reads %d (%v), want %d", got, ok, v)
	}
	return out
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	if status, _, _ := f.get(t, "/api/v1/timestamp"); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/timestamp: status %d, want 405", status)
	}
}

func TestCertChain(t *testing.T) {
	f := newFixture(t)
	status, ct, body := f.get(t, "/api/v1/timestamp/certchain")
	if status != http.StatusOK || ct != ContentTypeChain {
		t.Fatalf("status %d, Content-Type %q; want 200 %s", status, ct, ContentTypeChain)
	}
	var got []*x509.Certificate
	for rest := body; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		got = append(got, c)
	}
	if len(got) != 2 || !got[0].Equal(f.key.Chain[0]) || !got[1].Equal(f.key.Chain[1]) {
		t.Fatalf("chain %d certificates, want leaf then root", len(got))
	}
}

func TestTimestampSignature(t *testing.T) {
	f := newFixture(t)
	sig := []byte("signature bytes")
	resp, at, err := f.auth.TimestampSignature(t.Context(), sig)
	if err != nil {
		t.Fatalf("TimestampSignature: %v", err)
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if !ts.Time.Equal(at) {
		t.Errorf("the token states %s, TimestampSignature reported %s", ts.Time, at)
	}
	want := sha256.Sum256(sig)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) || ts.Nonce != nil || len(ts.Certificates) != 0 {
		t.Fatalf("token %+v: want SHA-256 of the signature, no nonce, no certificates", ts)
	}
	verifyToken(t, ts.RawToken, f.auth.Chain())
	if _, _, err := f.auth.TimestampSignature(t.Context(), nil); problem.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("empty signature: %v (status %d), want 400", err, problem.StatusOf(err))
	}
}
