package keyless_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
)

// stampFunc is a Timestamper made of a function.
type stampFunc func(ctx context.Context, sig []byte) ([]byte, time.Time, error)

func (f stampFunc) TimestampSignature(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
	return f(ctx, sig)
}

// failingCA refuses to make any certificate.
type failingCA struct{ keyless.CertificateIssuer }

func (failingCA) Issue(context.Context, crypto.PublicKey, ca.Embedder) (*x509.Certificate, error) {
	return nil, problem.Unavailable("the CA key is unavailable")
}

// signRequest is a one-shot request over an artifact digest.
func signRequest(t *testing.T) keyless.SignRequest {
	t.Helper()
	k, req := keyAndRequest(t)
	digest := sha256.Sum256([]byte("artifact"))
	sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return keyless.SignRequest{
		KeyRequest: req,
		Message:    &keyless.MessageContent{Algorithm: "SHA2_256", Digest: digest[:], Signature: sig},
	}
}

// TestSignTimestampsBesideTheCertificate: the one-shot flow makes the
// timestamp while the CA signs, yet never returns a timestamp older than
// the certificate's notBefore (it makes it again), and issues nothing
// when either the CA or the TSA fails.
func TestSignTimestampsBesideTheCertificate(t *testing.T) {
	tests := []struct {
		name       string
		stamps     func(real keyless.Timestamper, calls *int) keyless.Timestamper
		failCA     bool
		wantStatus int // 0: a bundle
		wantCalls  int
	}{
		{"timestamp in the certificate's second", func(real keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
				*calls++
				return real.TimestampSignature(ctx, sig)
			})
		}, false, 0, 1},
		{"timestamp a second before the certificate is made again", func(real keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
				*calls++
				resp, at, err := real.TimestampSignature(ctx, sig)
				if *calls == 1 {
					return []byte("stale"), at.Add(-time.Second), err
				}
				return resp, at, err
			})
		}, false, 0, 2},
		{"timestamp before the certificate twice (clock went back) issues nothing", func(real keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
				*calls++
				resp, at, err := real.TimestampSignature(ctx, sig)
				return resp, at.Add(-time.Second), err
			})
		}, false, http.StatusServiceUnavailable, 2},
		{"TSA panic issues nothing and does not crash", func(_ keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(context.Context, []byte) ([]byte, time.Time, error) {
				*calls++
				panic("tsa bug")
			})
		}, false, http.StatusInternalServerError, 1},
		{"TSA failure issues nothing", func(_ keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(context.Context, []byte) ([]byte, time.Time, error) {
				*calls++
				return nil, time.Time{}, problem.Unavailable("tsa: the TSA signing key is unavailable, retry later").WithCause(errors.New("sealed"))
			})
		}, false, http.StatusServiceUnavailable, 1},
		{"CA failure waits for the timestamp and issues nothing", func(real keyless.Timestamper, calls *int) keyless.Timestamper {
			return stampFunc(func(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
				*calls++
				<-ctx.Done() // ended by the failed certificate
				return nil, time.Time{}, ctx.Err()
			})
		}, true, http.StatusServiceUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &recordingLog{}
			var issued, calls int
			svc := newService(t, l, &issued)
			svc.TSA = tt.stamps(svc.TSA, &calls)
			if tt.failCA {
				svc.CA = failingCA{svc.CA}
			}
			b, got, err := svc.Sign(t.Context(), signRequest(t))
			if calls != tt.wantCalls {
				t.Errorf("%d timestamps made, want %d", calls, tt.wantCalls)
			}
			if tt.wantStatus != 0 {
				if b != nil || got != nil || problem.StatusOf(err) != tt.wantStatus {
					t.Fatalf("Sign = %v, %v, %v (status %d), want no bundle and %d", b, got, err, problem.StatusOf(err), tt.wantStatus)
				}
				if issued != 0 || len(l.entries) != 0 {
					t.Errorf("%d issued, %d logged after a failed step", issued, len(l.entries))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ts := b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()
			if len(ts) != 1 || bytes.Equal(ts[0].GetSignedTimestamp(), []byte("stale")) {
				t.Fatalf("bundle timestamps %v: want the one made at or after notBefore", ts)
			}
			if issued != 1 || len(l.entries) != 1 || !bytes.Equal(l.entries[0], got.Certificate.Raw) {
				t.Errorf("%d issued, %d logged: want the one certificate", issued, len(l.entries))
			}
		})
	}
}
