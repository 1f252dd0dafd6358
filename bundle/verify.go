package bundle

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Identity is the certificate identity a verification requires. Give each
// of the SAN and the issuer either exactly or as a regular expression.
type Identity struct {
	// SAN is the exact subject alternative name.
	SAN string
	// SANRegexp matches the subject alternative name.
	SANRegexp string
	// Issuer is the exact OIDC issuer.
	Issuer string
	// IssuerRegexp matches the OIDC issuer.
	IssuerRegexp string
}

// Verify checks a bundle offline against a trusted root with sigstore-go:
// the certificate chain at the signed timestamp's time, the timestamp
// itself (at least one, from a listed TSA), the identity, and the
// signature over artifact. For a DSSE bundle, artifact is the subject the
// statement must name; nil skips that check only for DSSE bundles.
func Verify(bundleJSON, trustedRootJSON []byte, artifact io.Reader, want Identity) (*verify.VerificationResult, error) {
	tr, err := root.NewTrustedRootFromJSON(trustedRootJSON)
	if err != nil {
		return nil, fmt.Errorf("bundle: trusted root: %w", err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("bundle: parse bundle: %w", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithSignedTimestamps(1))
	if err != nil {
		return nil, fmt.Errorf("bundle: verifier: %w", err)
	}
	if (want.SAN == "" && want.SANRegexp == "") || (want.Issuer == "" && want.IssuerRegexp == "") {
		return nil, errors.New("bundle: an expected identity and issuer are required (exact or regexp)")
	}
	id, err := verify.NewShortCertificateIdentity(want.Issuer, want.IssuerRegexp, want.SAN, want.SANRegexp)
	if err != nil {
		return nil, fmt.Errorf("bundle: identity: %w", err)
	}
	artifactOpt := verify.WithoutArtifactUnsafe()
	if artifact != nil {
		artifactOpt = verify.WithArtifact(artifact)
	} else if b.GetDsseEnvelope() == nil {
		return nil, errors.New("bundle: a message-signature bundle needs the artifact")
	}
	res, err := v.Verify(&b, verify.NewPolicy(artifactOpt, verify.WithCertificateIdentity(id)))
	if err != nil {
		return nil, fmt.Errorf("bundle: verify: %w", err)
	}
	return res, nil
}

// LeafCertificate returns the signing certificate of a bundle.
func LeafCertificate(bundleJSON []byte) (*x509.Certificate, error) {
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("bundle: parse bundle: %w", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("bundle: verification content: %w", err)
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return nil, errors.New("bundle: no signing certificate")
	}
	return leaf, nil
}
