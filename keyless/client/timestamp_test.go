package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-dev/signet/test/testclock"
)

// TestTimestampIsChecked: the client takes a timestamp only when it is
// over the SHA-256 of the signature it sent, so that a misbehaving server
// cannot make `signet attest` write a bundle whose timestamp countersigns
// something else.
func TestTimestampIsChecked(t *testing.T) {
	cert, key := tsaCert(t)
	sig := []byte("the envelope's signature")
	for _, tc := range []struct {
		name    string
		answer  func(req *timestamp.Request) []byte
		wantErr string
	}{
		{"over the signature", func(req *timestamp.Request) []byte {
			return respond(t, req.HashedMessage, testclock.Now(), cert, key)
		}, ""},
		{"over something else", func(*timestamp.Request) []byte {
			other := sha256.Sum256([]byte("another signature"))
			return respond(t, other[:], testclock.Now(), cert, key)
		}, "not over this signature"},
		{"not a timestamp", func(*timestamp.Request) []byte { return []byte("<html>") }, "the TSA's answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				req, err := timestamp.ParseRequest(body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				_, _ = w.Write(tc.answer(req))
			}))
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, Attempts: 1}
			_, _, err := c.timestamp(t.Context(), srv.URL, sig)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// respond is a granted RFC 3161 response over hashed at time at, signed
// by key.
func respond(t *testing.T, hashed []byte, at time.Time, cert *x509.Certificate, key crypto.Signer) []byte {
	t.Helper()
	ts := &timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: hashed, Time: at,
		SerialNumber: big.NewInt(7), Policy: asn1.ObjectIdentifier{1, 2, 3}}
	out, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tsaCert is a self-signed timestamping certificate and its key.
func tsaCert(t *testing.T) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tsa"},
		NotBefore: testclock.Now().Add(-time.Hour), NotAfter: testclock.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTimestampWithinValidity: a timestamp made before the certificate's
// notBefore (a TSA on a replica whose clock is behind) is asked for again
// once notBefore has passed; a TSA far behind, or past notAfter, is an
// error rather than a bundle verifiers refuse.
func TestTimestampWithinValidity(t *testing.T) {
	cert, key := tsaCert(t)
	notBefore := testclock.Now().Truncate(time.Second)
	leaf := &x509.Certificate{NotBefore: notBefore, NotAfter: notBefore.Add(10 * time.Minute)}
	for _, tc := range []struct {
		name    string
		times   []time.Time // the TSA's time at each request
		wantErr string
	}{
		{"within", []time.Time{notBefore.Add(time.Second)}, ""},
		{"a little behind, then within", []time.Time{notBefore.Add(-500 * time.Millisecond), notBefore.Add(time.Millisecond)}, ""},
		{"behind twice", []time.Time{notBefore.Add(-500 * time.Millisecond), notBefore.Add(-time.Millisecond)}, "outside the certificate's validity"},
		{"far behind", []time.Time{notBefore.Add(-time.Minute)}, "before the certificate's notBefore"},
		{"past notAfter", []time.Time{notBefore.Add(11 * time.Minute)}, "outside the certificate's validity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				req, err := timestamp.ParseRequest(body)
				if err != nil || calls >= len(tc.times) {
					http.Error(w, "unexpected request", http.StatusBadRequest)
					return
				}
				calls++
				_, _ = w.Write(respond(t, req.HashedMessage, tc.times[calls-1], cert, key))
			}))
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, Attempts: 1}
			_, err := c.timestampWithin(t.Context(), srv.URL, []byte("sig"), leaf)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if calls != len(tc.times) {
				t.Errorf("%d requests to the TSA, want %d", calls, len(tc.times))
			}
		})
	}
}
