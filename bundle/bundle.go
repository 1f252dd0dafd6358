// Package bundle builds the Sigstore documents signet hands out: bundles
// (v0.3), the trusted root that verifies them and the signing config that
// points clients at signet; and verifies bundles with sigstore-go.
package bundle

import (
	"crypto/x509"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// MediaType is the media type of the bundles signet builds.
const MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// Timestamped is what every bundle carries: the leaf certificate and the
// RFC 3161 responses (whole DER TimeStampResp) over the signature.
type Timestamped struct {
	// Leaf is the signing certificate; its chain lives in the trusted root.
	Leaf *x509.Certificate
	// Timestamps are DER TimeStampResp documents countersigning the signature.
	Timestamps [][]byte
}

func (t Timestamped) material() *protobundle.VerificationMaterial {
	ts := make([]*protocommon.RFC3161SignedTimestamp, 0, len(t.Timestamps))
	for _, raw := range t.Timestamps {
		ts = append(ts, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: raw})
	}
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: t.Leaf.Raw},
		},
		TlogEntries:               []*protorekor.TransparencyLogEntry{},
		TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: ts},
	}
}

// HashAlgorithm maps a Sigstore hash algorithm name ("SHA2_256") to its enum.
func HashAlgorithm(name string) (protocommon.HashAlgorithm, bool) {
	v, ok := protocommon.HashAlgorithm_value[name]
	if !ok || v == int32(protocommon.HashAlgorithm_HASH_ALGORITHM_UNSPECIFIED) {
		return 0, false
	}
	return protocommon.HashAlgorithm(v), true
}

// NewMessageSignature builds a bundle over a signed artifact digest.
func NewMessageSignature(t Timestamped, alg protocommon.HashAlgorithm, digest, sig []byte) *protobundle.Bundle {
	return &protobundle.Bundle{
		MediaType:            MediaType,
		VerificationMaterial: t.material(),
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: alg, Digest: digest},
			Signature:     sig,
		}},
	}
}

// NewDSSE builds a bundle over a DSSE envelope with one signature.
func NewDSSE(t Timestamped, payloadType string, payload, sig []byte, keyID string) *protobundle.Bundle {
	return &protobundle.Bundle{
		MediaType:            MediaType,
		VerificationMaterial: t.material(),
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: payloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig, Keyid: keyID}},
		}},
	}
}

// Marshal renders a bundle as JSON on one line, as `gh` wants it.
func Marshal(b *protobundle.Bundle) ([]byte, error) {
	out, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: marshal: %w", err)
	}
	return out, nil
}
