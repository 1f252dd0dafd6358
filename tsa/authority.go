// Package tsa is signet's RFC 3161 time-stamp authority and its HTTP API.
//
// An Authority answers time-stamp requests with DER TimeStampResp
// documents signed by a TSA key (a pki.KeySigner, so the key may live in
// memory, in a file or in Vault). The API mounts the endpoints of the
// sigstore timestamp-authority (POST /api/v1/timestamp and
// GET /api/v1/timestamp/certchain) so that cosign, sigstore-go and
// `openssl ts` talk to signet as they talk to sigstore's TSA.
//
// Tokens are built with github.com/digitorus/timestamp; this package only
// validates requests, picks the policy, time, accuracy and certificates,
// and signs through the KeySigner.
package tsa

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// DefaultPolicy is the TSA policy OID written into tokens when Options
// names none: 1.3.6.1.4.1.57264.2, the policy of sigstore's TSA.
func DefaultPolicy() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}
}

// DefaultAccuracy is the accuracy written into tokens when Options names none.
const DefaultAccuracy = time.Second

// Options configures an Authority.
type Options struct {
	// Key is the TSA leaf key and its chain (leaf first, root last).
	Key pki.KeyChain
	// Policy is the TSA policy OID; nil means DefaultPolicy().
	Policy asn1.ObjectIdentifier
	// Accuracy is the accuracy claimed in tokens; zero means DefaultAccuracy.
	Accuracy time.Duration
	// Clock returns the time written into tokens; nil means time.Now.
	Clock func() time.Time
}

// Authority is an RFC 3161 time-stamp authority. It is immutable after
// New and safe for concurrent use.
type Authority struct {
	signer   pki.KeySigner
	chain    []*x509.Certificate
	chainPEM []byte
	policy   asn1.ObjectIdentifier
	accuracy time.Duration
	clock    func() time.Time
	// signHash is the digest algorithm of the token signature, matched to
	// the key: SHA-384 for P-384, SHA-512 for P-521, SHA-256 otherwise.
	signHash crypto.Hash
}

// New validates the TSA chain and returns the authority. The chain must
// satisfy what sigstore's TSA and its verifiers require: at least a leaf
// and a root, each certificate signed by the next (pki.KeyChain.Check), the
// signer's key equal to the leaf's key, a leaf that is not a CA and carries
// exactly one extended key usage, timeStamping, marked critical, and
// intermediates that carry the timeStamping EKU too. The leaf must be valid
// at the current time of opts.Clock.
func New(opts Options) (*Authority, error) {
	// digitorus/timestamp checks no signature: a key in a store gets its
	// signatures checked (sampled, see pki.CheckedSigner).
	signer := pki.Checked(opts.Key.Signer)
	a := &Authority{
		signer:   signer,
		chain:    append([]*x509.Certificate(nil), opts.Key.Chain...),
		policy:   opts.Policy,
		accuracy: opts.Accuracy,
		clock:    opts.Clock,
	}
	if a.policy == nil {
		a.policy = DefaultPolicy()
	}
	if _, err := asn1.Marshal(a.policy); err != nil {
		return nil, fmt.Errorf("tsa: policy OID %v is not a valid object identifier: %w", a.policy, err)
	}
	if a.accuracy < 0 {
		return nil, fmt.Errorf("tsa: accuracy %v is negative", a.accuracy)
	}
	if a.accuracy == 0 {
		a.accuracy = DefaultAccuracy
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	if err := checkChain(opts.Key, a.clock()); err != nil {
		return nil, err
	}
	h, err := signatureHash(a.signer.Public())
	if err != nil {
		return nil, err
	}
	a.signHash = h
	var buf bytes.Buffer
	for _, c := range a.chain {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return nil, fmt.Errorf("tsa: encode chain as PEM: %w", err)
		}
	}
	a.chainPEM = buf.Bytes()
	return a, nil
}

// ChainPEM is the chain in PEM, leaf first.
func (a *Authority) ChainPEM() ([]byte, error) { return a.chainPEM, nil }

// Chain returns the TSA chain, leaf first, root last. The slice is a copy.
func (a *Authority) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), a.chain...)
}

// Policy returns the policy OID written into every token.
func (a *Authority) Policy() asn1.ObjectIdentifier {
	return append(asn1.ObjectIdentifier(nil), a.policy...)
}

// signatureHash picks the digest of the token signature for a public key:
// the key's Sigstore default (pki.DefaultHash), which a key store such as
// Vault transit accepts for it; RSA keys must have at least 2048 bits.
func signatureHash(pub crypto.PublicKey) (crypto.Hash, error) {
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return 0, fmt.Errorf("tsa: RSA key of %d bits is too small: use at least 2048", k.N.BitLen())
	}
	h, err := pki.DefaultHash(pub)
	if err != nil {
		return 0, fmt.Errorf("tsa: TSA key: %w", err)
	}
	return h, nil
}
