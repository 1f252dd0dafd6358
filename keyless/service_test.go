package keyless_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sigstore/fulcio/pkg/certificate"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/tsa"
)

// fixedAuth authenticates every token as one principal.
type fixedAuth struct{ p *identity.Principal }

func (f fixedAuth) Authenticate(context.Context, string) (*identity.Principal, error) {
	return f.p, nil
}

// recordingLog is an issuance log in memory that can fail.
type recordingLog struct {
	entries [][]byte
	fail    error
}

func (r *recordingLog) Append(_ context.Context, der []byte) (uint64, error) {
	if r.fail != nil {
		return 0, r.fail
	}
	r.entries = append(r.entries, der)
	return uint64(len(r.entries) - 1), nil
}

func newService(t *testing.T, l keyless.IssuanceLog, issued *int) *keyless.Service {
	t.Helper()
	now := testclock.Now()
	kc, err := ca.NewMemoryCA(t.Context(), "Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(kc, 10*time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tsa.NewDevChain("Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := tsa.New(tsa.Options{Key: tk, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://github.com/acme/widgets/.github/workflows/r.yml@refs/heads/main")
	p := &identity.Principal{Issuer: "https://issuer.example", Subject: "sub", Challenge: "sub", URI: u,
		Extensions: certificate.Extensions{Issuer: "https://issuer.example"}}
	return &keyless.Service{Auth: fixedAuth{p}, CA: iss, TSA: auth, IssuanceLog: l, OnIssue: func(string) { *issued++ }}
}

func keyRequest(t *testing.T) keyless.KeyRequest {
	t.Helper()
	_, req := keyAndRequest(t)
	return req
}

// keyAndRequest makes a fresh key and its request, proof of possession
// over "sub" included.
func keyAndRequest(t *testing.T) (*ecdsa.PrivateKey, keyless.KeyRequest) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("sub"))
	proof, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return k, keyless.KeyRequest{Token: "t", PublicKey: k.Public(), Proof: proof}
}

// TestEveryCertificateIsLoggedBeforeItIsReturned: the log holds exactly the
// DER of each issued certificate, with its index; when the log fails, the
// client gets the log's 503 and no certificate, and nothing counts as issued.
func TestEveryCertificateIsLoggedBeforeItIsReturned(t *testing.T) {
	l := &recordingLog{}
	var issued int
	svc := newService(t, l, &issued)
	for i := range 3 {
		got, err := svc.Certify(t.Context(), keyRequest(t))
		if err != nil {
			t.Fatal(err)
		}
		if got.LogIndex != int64(i) || string(l.entries[i]) != string(got.Certificate.Raw) {
			t.Fatalf("certificate %d: log index %d, logged entry equal: %v", i, got.LogIndex, string(l.entries[i]) == string(got.Certificate.Raw))
		}
	}
	l.fail = problem.Unavailable("the issuance log cannot store the certificate").WithCause(errors.New("disk full"))
	got, err := svc.Certify(t.Context(), keyRequest(t))
	if got != nil || problem.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("Certify with a failing log = %v, %v (status %d), want no certificate and 503", got, err, problem.StatusOf(err))
	}
	if issued != 3 {
		t.Errorf("issued counter = %d, want 3: a certificate the log refused counted as issued", issued)
	}
	if none, err := newService(t, nil, &issued).Certify(t.Context(), keyRequest(t)); err != nil || none.LogIndex != -1 {
		t.Errorf("without a log: %v, index %d, want -1", err, none.LogIndex)
	}
}
