package tsa

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// oidExtKeyUsage returns the OID of the X.509 extended key usage
// extension, 2.5.29.37.
func oidExtKeyUsage() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 37} }

// oidTimeStamping returns the id-kp-timeStamping key purpose,
// 1.3.6.1.5.5.7.3.8.
func oidTimeStamping() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
}

// checkChain applies the TSA chain rules of sigstore's TSA and verifiers
// (and of `openssl ts -verify`) to k at time now.
func checkChain(k pki.KeyChain, now time.Time) error {
	if k.Signer == nil {
		return errors.New("tsa: no signer: the TSA key chain needs a signing key")
	}
	if len(k.Chain) < 2 {
		return fmt.Errorf("tsa: the TSA chain has %d certificate(s): it needs the TSA leaf and its root, leaf first", len(k.Chain))
	}
	leaf := k.Chain[0]
	if !pki.SamePublicKey(k.Signer.Public(), leaf.PublicKey) {
		return fmt.Errorf("tsa: the signer's public key does not match the TSA leaf %q: the key store holds a different key than the chain names", leaf.Subject)
	}
	if err := k.Check(); err != nil {
		return fmt.Errorf("tsa: invalid TSA chain: %w", err)
	}
	if err := checkLeaf(leaf, now); err != nil {
		return err
	}
	for _, c := range k.Chain[1:] {
		if !c.BasicConstraintsValid || !c.IsCA {
			return fmt.Errorf("tsa: %q is not a CA certificate", c.Subject)
		}
		// As sigstore's verifier (and Go's EKU chaining): no extended key
		// usage is unrestricted, else it must allow timeStamping.
		if (len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) &&
			!slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return fmt.Errorf("tsa: %q restricts extended key usages without timeStamping: verifiers chain them and would refuse the TSA leaf; drop its EKU or add timeStamping", c.Subject)
		}
	}
	return nil
}

// checkLeaf checks the TSA signing certificate: not a CA, exactly one
// critical EKU extension naming only timeStamping, a key usage (if any)
// of signatures only, valid at now.
func checkLeaf(leaf *x509.Certificate, now time.Time) error {
	if leaf.IsCA {
		return fmt.Errorf("tsa: TSA leaf %q is a CA certificate: a TSA signing certificate must not be a CA", leaf.Subject)
	}
	var ekus []bool // criticality of each EKU extension
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(oidExtKeyUsage()) {
			ekus = append(ekus, ext.Critical)
		}
	}
	switch {
	case len(ekus) == 0:
		return fmt.Errorf("tsa: TSA leaf %q has no extended key usage: it needs exactly one, timeStamping, marked critical", leaf.Subject)
	case len(ekus) > 1:
		return fmt.Errorf("tsa: TSA leaf %q has %d extended key usage extensions: it needs exactly one", leaf.Subject, len(ekus))
	case !ekus[0]:
		return fmt.Errorf("tsa: TSA leaf %q has a non-critical extended key usage extension: RFC 3161 requires it critical", leaf.Subject)
	}
	if len(leaf.UnknownExtKeyUsage) != 0 || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		return fmt.Errorf("tsa: TSA leaf %q has %d extended key usages: it needs exactly one, timeStamping",
			leaf.Subject, len(leaf.ExtKeyUsage)+len(leaf.UnknownExtKeyUsage))
	}
	// OpenSSL's timestamping purpose: a key usage, if present, is
	// digitalSignature and/or nonRepudiation and nothing else.
	const signing = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if leaf.KeyUsage != 0 && (leaf.KeyUsage&signing == 0 || leaf.KeyUsage&^signing != 0) {
		return fmt.Errorf("tsa: TSA leaf %q key usage must be digitalSignature and/or nonRepudiation only", leaf.Subject)
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("tsa: TSA leaf %q is not valid before %s (now %s)", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("tsa: TSA leaf %q expired at %s (now %s): issue a new TSA certificate", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
