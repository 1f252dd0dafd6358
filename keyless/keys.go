package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
)

// ParsePublicKey parses a client's public key, PEM ("PUBLIC KEY", PKIX)
// or base64 of that PEM (the legacy Fulcio v1 encoding), and refuses the
// kinds Sigstore verifiers refuse: RSA under 2048 bits, curves other than
// P-256/P-384/P-521.
func ParsePublicKey(content string) (crypto.PublicKey, error) {
	if content == "" {
		return nil, problem.BadRequest("public key is missing")
	}
	data := []byte(content)
	if !strings.Contains(content, "-----BEGIN") {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(content))
		if err != nil {
			return nil, problem.BadRequest("public key is neither PEM nor base64 of PEM")
		}
		data = dec
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, problem.BadRequest("public key is not PEM encoded")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, problem.BadRequest("public key is not a PKIX public key: %s", problem.ParseDetail(err)).WithCause(err)
	}
	if err := CheckKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// CheckKey refuses weak or unsupported public keys with a 400, by the rule
// Fulcio applies (cryptoutils.ValidatePubKey): ECDSA P-256, P-384 or
// P-521, RSA of 2048, 3072 or 4096 bits, or Ed25519.
func CheckKey(pub crypto.PublicKey) error {
	if err := cryptoutils.ValidatePubKey(pub); err != nil {
		return problem.BadRequest("public key is not supported: it is %s; use ECDSA P-256, P-384 or P-521, RSA of 2048, 3072 or 4096 bits, or Ed25519", describeKey(pub)).WithCause(err)
	}
	return nil
}

// describeKey names a key's kind and size in a client's terms (the
// validator's own message names Go types).
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA of %d bits", k.Size()*8)
	case *ecdsa.PublicKey:
		if k.Curve != nil && k.Curve.Params() != nil && k.Curve.Params().Name != "" {
			return "ECDSA on curve " + k.Curve.Params().Name
		}
		return "ECDSA on an unnamed curve"
	case *ecdh.PublicKey:
		return "an ECDH key, which cannot sign"
	default:
		return "a key of an unsupported kind"
	}
}

// CheckProofOfPossession verifies that proof is the key's signature over
// challenge (the token's sub, or email), as Fulcio checks it.
func CheckProofOfPossession(pub crypto.PublicKey, proof []byte, challenge string) error {
	if len(proof) == 0 {
		return problem.BadRequest("proof of possession is missing: sign the token's subject with the key")
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return problem.BadRequest("public key cannot verify: %v", err)
	}
	if err := v.VerifySignature(strings.NewReader(string(proof)), strings.NewReader(challenge)); err != nil {
		return problem.BadRequest("proof of possession does not verify: it must be the key's signature over the token's subject %q", problem.Clip(challenge, 256))
	}
	return nil
}

// checkDigestSignature verifies sig over a precomputed digest exactly as
// sigstore verifiers will: with the key's default verifier, so a bundle
// signet issues for is one they accept.
func checkDigestSignature(pub crypto.PublicKey, hash crypto.Hash, digest, sig []byte) error {
	if len(sig) == 0 {
		return problem.BadRequest("signature is missing")
	}
	if _, ok := pub.(ed25519.PublicKey); ok {
		return problem.BadRequest("an Ed25519 key cannot sign a message digest: sign a DSSE envelope instead")
	}
	if want, err := pki.DefaultHash(pub); err != nil {
		return problem.BadRequest("public key cannot sign a digest: %v", err)
	} else if hash != want {
		return problem.BadRequest("this key signs %s digests (Sigstore verifiers use that hash with it), not %s", want, hash)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return problem.BadRequest("public key cannot verify: %v", err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), nil, options.WithDigest(digest)); err != nil {
		return problem.BadRequest("signature does not verify against the public key and message digest")
	}
	return nil
}

// checkDSSESignature verifies sig over the envelope's PAE with the key's
// default hash, as sigstore-go verifies it.
func checkDSSESignature(pub crypto.PublicKey, pae, sig []byte) error {
	if len(sig) == 0 {
		return problem.BadRequest("DSSE signature is missing")
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return problem.BadRequest("public key cannot verify: %v", err)
	}
	if err := v.VerifySignature(strings.NewReader(string(sig)), strings.NewReader(string(pae))); err != nil {
		return problem.BadRequest("DSSE signature does not verify against the public key and envelope")
	}
	return nil
}

// errNoContent reports a sign request with neither content kind.
var errNoContent = errors.New("give either messageSignature or dsseEnvelope")
