package ca

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// NewMemoryCA generates a development CA in process memory: an ECDSA P-384
// root and an ECDSA P-384 intermediate, both with organisation org, valid
// from an hour before now for ten years. Its keys die with the process.
func NewMemoryCA(ctx context.Context, org string, now time.Time) (pki.KeyChain, error) {
	return pki.NewDevChain(ctx, org, org+" dev root", now, func(notBefore, notAfter time.Time) (*x509.Certificate, error) {
		return IntermediateTemplate(org, org+" dev intermediate", notBefore, notAfter)
	})
}
