package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/signet-dev/signet/internal/problem"
)

// CheckInterval is how often a CheckedSigner checks a signature while its
// signatures verify.
const CheckInterval = time.Second

// CheckedSigner is a KeySigner over a key in a store (Vault transit) that
// could answer with another key under the same name and version, where
// nothing else checks the signatures (an RFC 3161 token; the CA needs no
// wrapper, x509.CreateCertificate checks every signature). It checks the
// first signature, then one every CheckInterval (a check costs about a
// signature's CPU, which every signature would pay otherwise), and once a
// check fails, every signature until one verifies again: a key changed in
// the store yields at most CheckInterval of signatures nothing verifies,
// then problem.Unavailable. Make one with NewCheckedSigner.
type CheckedSigner struct {
	KeySigner
	start     time.Time    // elapsed time is measured from here (monotonic)
	lastCheck atomic.Int64 // elapsed nanoseconds at the last passed check; -1: none
	broken    atomic.Bool  // the last check failed
}

// Checked returns s with its signatures checked (NewCheckedSigner) when
// its key lives outside this process, and s itself for a LocalSigner,
// whose signatures cannot come from another key.
func Checked(s KeySigner) KeySigner {
	if _, local := s.(LocalSigner); local || s == nil {
		return s
	}
	return NewCheckedSigner(s)
}

// NewCheckedSigner wraps s.
func NewCheckedSigner(s KeySigner) *CheckedSigner {
	c := &CheckedSigner{KeySigner: s, start: time.Now()}
	c.lastCheck.Store(-1)
	return c
}

// SignDigest signs through the wrapped KeySigner and, when a check is due,
// refuses a signature its public key does not verify, as
// problem.Unavailable.
func (c *CheckedSigner) SignDigest(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := c.KeySigner.SignDigest(ctx, digest, opts)
	if err != nil {
		return nil, err
	}
	elapsed := int64(time.Since(c.start))
	if last := c.lastCheck.Load(); !c.broken.Load() && last >= 0 && elapsed-last < int64(CheckInterval) {
		return sig, nil
	}
	if err := verifyDigest(c.Public(), digest, sig, opts); err != nil {
		c.broken.Store(true)
		return nil, keyChanged(err)
	}
	c.broken.Store(false)
	c.lastCheck.Store(elapsed)
	return sig, nil
}

// keyChanged is the error of a signature its signer's public key does
// not verify.
func keyChanged(cause error) error {
	return problem.Unavailable("the key store signed with another key than the one this server loaded: the key changed in the store").WithCause(cause)
}

// verifyDigest checks sig over digest with pub, as SignDigest made it.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("pki: the ECDSA signature does not verify with the signer's public key")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, opts.HashFunc(), digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	case ed25519.PublicKey:
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("pki: the Ed25519 signature does not verify with the signer's public key")
		}
		return nil
	}
	return fmt.Errorf("pki: cannot check a signature of a %T key", pub)
}
