package tsa

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-dev/signet/internal/pki"

	"github.com/signet-dev/signet/internal/problem"
)

// Timestamp answers a parsed RFC 3161 request with a DER TimeStampResp
// whose status is granted and which carries a signed token.
//
// The request is refused with a problem.BadRequest (400) when its hash is
// not SHA-256, SHA-384 or SHA-512, when the digest length does not match
// the hash, when it names a policy other than the authority's, or when it
// carries extensions. The token holds a 20-byte random serial number, the
// authority's clock time and accuracy, the request's nonce, and, only when
// the request sets certReq, the whole TSA chain (leaf first). Signing goes
// through the KeySigner under ctx; a signer failure is a
// problem.Unavailable (503).
func (a *Authority) Timestamp(ctx context.Context, req *timestamp.Request) ([]byte, error) {
	resp, _, err := a.timestamp(ctx, req)
	return resp, err
}

// timestamp is Timestamp, also returning the time the token states.
func (a *Authority) timestamp(ctx context.Context, req *timestamp.Request) ([]byte, time.Time, error) {
	if req == nil {
		return nil, time.Time{}, problem.BadRequest("tsa: empty timestamp request")
	}
	if err := a.checkRequest(req); err != nil {
		return nil, time.Time{}, err
	}
	now := a.clock().UTC()
	leaf := a.chain[0]
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, time.Time{}, problem.Unavailable("tsa: the TSA certificate is not valid at %s (valid %s to %s): the operator must renew it",
			now.Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	tok := timestamp.Timestamp{
		HashAlgorithm: req.HashAlgorithm,
		HashedMessage: req.HashedMessage,
		Time:          now,
		Accuracy:      a.accuracy,
		Nonce:         req.Nonce,
		Policy:        a.policy,
		// certReq: embed the leaf (AddTSACertificate) and the rest of the
		// chain (Certificates), as sigstore's TSA does with
		// --include-chain-in-response.
		AddTSACertificate: req.Certificates,
	}
	if req.Certificates {
		tok.Certificates = a.chain[1:]
	}
	rec := pki.NewRecordingSigner(a.signer)
	resp, err := tok.CreateResponseWithOpts(leaf, pki.Bind(ctx, rec), a.signHash)
	var pe *problem.Error
	switch {
	case err == nil:
		return resp, now.Truncate(time.Second), nil // genTime is DER GeneralizedTime: whole seconds
	case rec.Err() != nil && errors.As(rec.Err(), &pe):
		return nil, time.Time{}, pe // the key store classified its own failure
	case rec.Err() != nil:
		return nil, time.Time{}, problem.Unavailable("tsa: the TSA signing key is unavailable, retry later").WithCause(rec.Err())
	}
	return nil, time.Time{}, fmt.Errorf("tsa: build timestamp response: %w", err)
}

// TimestampSignature countersigns raw signature bytes: it time-stamps the
// SHA-256 digest of sig with no nonce and without certificates, as
// sigstore-go does, and returns the DER TimeStampResp and the time it
// states. A Sigstore bundle's rfc3161Timestamps[].signedTimestamp is this
// whole response.
func (a *Authority) TimestampSignature(ctx context.Context, sig []byte) ([]byte, time.Time, error) {
	if len(sig) == 0 {
		return nil, time.Time{}, problem.BadRequest("tsa: no signature to time-stamp")
	}
	digest := sha256.Sum256(sig)
	return a.timestamp(ctx, &timestamp.Request{
		HashAlgorithm: crypto.SHA256,
		HashedMessage: digest[:],
	})
}

// checkRequest applies sigstore's TSA request rules.
func (a *Authority) checkRequest(req *timestamp.Request) error {
	switch req.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	case crypto.SHA1:
		return problem.BadRequest("tsa: weak hash algorithm SHA-1: use SHA-256, SHA-384 or SHA-512")
	default:
		return problem.BadRequest("tsa: unsupported hash algorithm %v: use SHA-256, SHA-384 or SHA-512", req.HashAlgorithm)
	}
	if got, want := len(req.HashedMessage), req.HashAlgorithm.Size(); got != want {
		return problem.BadRequest("tsa: digest of %d bytes does not match %v, which needs %d bytes", got, req.HashAlgorithm, want)
	}
	if len(req.TSAPolicyOID) > 0 && !req.TSAPolicyOID.Equal(a.policy) {
		return problem.BadRequest("tsa: unaccepted policy %s: this TSA issues tokens under policy %v only", problem.Truncate(req.TSAPolicyOID.String()), a.policy)
	}
	if len(req.Extensions) > 0 {
		return problem.BadRequest("tsa: unaccepted extension %s: this TSA accepts no request extensions", problem.Truncate(req.Extensions[0].Id.String()))
	}
	return nil
}
