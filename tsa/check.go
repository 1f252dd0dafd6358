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
	for _, c := range k.Chain[1 : len(k.Chain)-1] {
		if !c.BasicConstraintsValid || !c.IsCA {
			return fmt.Errorf("tsa: intermediate %q is not a CA certificate", c.Subject)
		}
		if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
			return fmt.Errorf("tsa: intermediate %q lacks the timeStamping extended key usage: verifiers chain EKUs and refuse the TSA leaf", c.Subject)
		}
	}
	root := k.Chain[len(k.Chain)-1]
	if !root.BasicConstraintsValid || !root.IsCA {
		return fmt.Errorf("tsa: root %q is not a CA certificate", root.Subject)
	}
	if len(root.ExtKeyUsage) > 0 && !slices.Contains(root.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) &&
		!slices.Contains(root.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return fmt.Errorf("tsa: root %q restricts extended key usages without timeStamping: drop its EKU or add timeStamping", root.Subject)
	}
	return nil
}

// checkLeaf checks the TSA signing certificate: not a CA, exactly one
// critical EKU extension naming only timeStamping, a key usage (if any)
// allowing signatures, valid at now.
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
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("tsa: TSA leaf %q key usage does not allow digitalSignature", leaf.Subject)
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("tsa: TSA leaf %q is not valid before %s (now %s)", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("tsa: TSA leaf %q expired at %s (now %s): issue a new TSA certificate", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
