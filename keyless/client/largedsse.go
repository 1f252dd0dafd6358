package client

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

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
	sig, err := signEnvelope(key, payloadType, payload)
	if err != nil {
		return nil, err
	}
	tsr, err := c.timestampWithin(ctx, strings.TrimSuffix(c.BaseURL, "/")+"/api/v1/timestamp", sig, leaf)
	if err != nil {
		return nil, err
	}
	out, err := bundle.Marshal(bundle.NewDSSE(bundle.Timestamped{Leaf: leaf, Timestamps: [][]byte{tsr}}, payloadType, payload, sig, ""))
	if err != nil {
		return nil, fmt.Errorf("keyless: %w", err)
	}
	return &Signed{Bundle: out, Leaf: leaf, LogIndex: index}, nil
}

// maxClockLead is how far ahead of the TSA's clock a certificate's
// notBefore may be for timestampWithin to wait for it: replicas behind a
// balancer answer the certificate and the timestamp, with clocks a little
// apart.
const maxClockLead = 5 * time.Second

// timestampWithin gets a timestamp over sig whose time lies within leaf's
// validity, as verifiers require: one made before notBefore (the TSA's
// clock behind the CA's, as on another replica) is asked for again once
// notBefore has passed, as the server does for its one-shot bundles.
func (c *Client) timestampWithin(ctx context.Context, tsaURL string, sig []byte, leaf *x509.Certificate) ([]byte, error) {
	tsr, at, err := c.timestamp(ctx, tsaURL, sig)
	if err != nil {
		return nil, err
	}
	if lead := leaf.NotBefore.Sub(at); lead > 0 {
		if lead > maxClockLead {
			return nil, fmt.Errorf("keyless: the TSA's clock reads %s, %s before the certificate's notBefore %s", at.UTC().Format(time.RFC3339), lead.Round(time.Millisecond), leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(lead):
		}
		if tsr, at, err = c.timestamp(ctx, tsaURL, sig); err != nil {
			return nil, err
		}
	}
	if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
		return nil, fmt.Errorf("keyless: the TSA's time %s is outside the certificate's validity (%s to %s)", at.UTC().Format(time.RFC3339),
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return tsr, nil
}
