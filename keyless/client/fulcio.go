package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-dev/signet/internal/pki"
)

// Certified is what the Fulcio-and-TSA flow got: the certificate and an
// RFC 3161 timestamp over the artifact's signature.
type Certified struct {
	// Leaf is the certificate the Fulcio API issued.
	Leaf *x509.Certificate
	// Signature is the artifact's signature with the certified key.
	Signature []byte
	// Timestamp is the DER TimeStampResp the TSA answered.
	Timestamp []byte
}

// SignViaFulcio signs digest the way cosign does with a Fulcio and a
// timestamp authority, in two requests: POST /api/v2/signingCert on the
// server for a certificate over a fresh key, then an RFC 3161 request for
// the signature's timestamp to tsaURL. It serves load tests that compare
// signet's one-shot endpoint with that flow, against signet or against
// Fulcio and a timestamp-authority.
func (c *Client) SignViaFulcio(ctx context.Context, token string, digest [sha256.Size]byte, tsaURL string) (*Certified, error) {
	key, leaf, err := c.CertifyV2(ctx, token)
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("keyless: sign: %w", err)
	}
	tsr, _, err := c.timestamp(ctx, tsaURL, sig)
	if err != nil {
		return nil, err
	}
	return &Certified{Leaf: leaf, Signature: sig, Timestamp: tsr}, nil
}

// timestamp asks the RFC 3161 authority at tsaURL to countersign sig and
// returns its whole DER TimeStampResp, once it is checked to be a granted
// timestamp over sig's SHA-256, and the time it states.
func (c *Client) timestamp(ctx context.Context, tsaURL string, sig []byte) ([]byte, time.Time, error) {
	tsq, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keyless: timestamp request: %w", err)
	}
	treq, err := http.NewRequestWithContext(ctx, http.MethodPost, tsaURL, bytes.NewReader(tsq))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keyless: request: %w", err)
	}
	treq.Header.Set("Content-Type", "application/timestamp-query")
	tsr, _, err := c.do(treq)
	if err != nil {
		return nil, time.Time{}, err
	}
	ts, err := timestamp.ParseResponse(tsr)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("keyless: the TSA's answer: %w", err)
	}
	want := sha256.Sum256(sig)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) {
		return nil, time.Time{}, errors.New("keyless: the TSA's timestamp is not over this signature")
	}
	return tsr, ts.Time, nil
}

// CertifyV2 gets a certificate over a fresh P-256 key from POST
// /api/v2/signingCert, as cosign does: the key, and the certificate the
// server issued for it.
func (c *Client) CertifyV2(ctx context.Context, token string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, leaf, _, err := c.certifyV2(ctx, token)
	return key, leaf, err
}

// certifyV2 is CertifyV2, also returning the certificate's issuance log
// index (-1 when the server has no log). It checks that the certificate
// certifies the new key.
func (c *Client) certifyV2(ctx context.Context, token string) (*ecdsa.PrivateKey, *x509.Certificate, int64, error) {
	key, keyReq, err := newKeyRequest(token)
	if err != nil {
		return nil, nil, 0, err
	}
	body, err := json.Marshal(map[string]any{
		"credentials":      map[string]string{"oidcIdentityToken": token},
		"publicKeyRequest": keyReq,
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("keyless: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/api/v2/signingCert", bytes.NewReader(body))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("keyless: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	out, header, err := c.do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	index, err := logIndex(header)
	if err != nil {
		return nil, nil, 0, err
	}
	leaf, err := firstCertificate(out)
	if err != nil {
		return nil, nil, 0, err
	}
	if !pki.SamePublicKey(leaf.PublicKey, key.Public()) {
		return nil, nil, 0, errors.New("keyless: the server certified another key than the one sent")
	}
	return key, leaf, index, nil
}

// firstCertificate reads the leaf of a Fulcio v2 signingCert answer.
func firstCertificate(body []byte) (*x509.Certificate, error) {
	chain, err := SigningCertChain(body)
	if err != nil {
		return nil, err
	}
	return chain[0], nil
}

// SigningCertChain parses the chain of a Fulcio v2 signingCert answer,
// leaf first, from either of its forms (embedded or detached SCT).
func SigningCertChain(body []byte) ([]*x509.Certificate, error) {
	var out struct {
		SignedCertificateEmbeddedSct struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
		SignedCertificateDetachedSct struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("keyless: signingCert answer: %w", err)
	}
	certs := out.SignedCertificateEmbeddedSct.Chain.Certificates
	if len(certs) == 0 {
		certs = out.SignedCertificateDetachedSct.Chain.Certificates
	}
	if len(certs) == 0 {
		return nil, errors.New("keyless: signingCert answer has no chain")
	}
	chain := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		parsed, err := pki.ParseCertificatesPEM([]byte(c))
		if err != nil || len(parsed) != 1 {
			return nil, fmt.Errorf("keyless: signingCert answer: a chain entry is not one PEM certificate (%v)", err)
		}
		chain = append(chain, parsed[0])
	}
	return chain, nil
}
