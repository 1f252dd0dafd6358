package ca

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// NewMemoryCA generates a development CA in process memory: an ECDSA root
// and intermediate on curve (P-384 when nil), both with organisation org,
// valid from an hour before now for ten years. Its keys die with the
// process.
func NewMemoryCA(ctx context.Context, org string, now time.Time, curve elliptic.Curve) (pki.KeyChain, error) {
	return pki.NewDevChain(ctx, org, org+" dev root", now, curve, func(notBefore, notAfter time.Time) (*x509.Certificate, error) {
		return IntermediateTemplate(org, org+" dev intermediate", notBefore, notAfter)
	})
}
