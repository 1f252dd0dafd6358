package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/signet-dev/signet/bundle"
)

// MaxOneShotPayload is the largest DSSE payload SignDSSE sends to the
// one-shot endpoint. The server takes request bodies of up to 512 KiB, and
// the payload travels base64-encoded (4/3 of its size) beside the key, the
// proof and the signature; a larger payload, such as a big SBOM, is signed
// the way cosign signs with a Fulcio and a timestamp authority, so that it
// never leaves the job (see signDSSEInParts).
const MaxOneShotPayload = 256 << 10

// signDSSEInParts signs payload as a DSSE envelope without sending it: a
// certificate from POST /api/v2/signingCert, the envelope's signature made
// here, an RFC 3161 timestamp over that signature from the server's own
// timestamp authority, and the bundle built from them. It is what the
// one-shot endpoint does on the server, in two requests, and yields the
// same bundle.
func (c *Client) signDSSEInParts(ctx context.Context, token, payloadType string, payload []byte) (*Signed, error) {
	key, leaf, index, err := c.certifyV2(ctx, token)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(dsse.PAE(payloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("keyless: sign envelope: %w", err)
	}
	tsr, err := c.timestamp(ctx, strings.TrimSuffix(c.BaseURL, "/")+"/api/v1/timestamp", sig)
	if err != nil {
		return nil, err
	}
	out, err := bundle.Marshal(bundle.NewDSSE(bundle.Timestamped{Leaf: leaf, Timestamps: [][]byte{tsr}}, payloadType, payload, sig, ""))
	if err != nil {
		return nil, fmt.Errorf("keyless: %w", err)
	}
	return &Signed{Bundle: out, Leaf: leaf, LogIndex: index}, nil
}
