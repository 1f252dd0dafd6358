// Package keyless is signet's signing flow: it turns an identity token and
// a public key into a short-lived certificate, and a token, key and
// signature into a complete Sigstore bundle countersigned by the timestamp
// authority. It speaks no HTTP: keyless/httpapi serves it, and
// keyless/client calls it from CI.
package keyless

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
)

// Authenticator verifies an identity token into a Principal.
type Authenticator interface {
	Authenticate(ctx context.Context, rawToken string) (*identity.Principal, error)
}

// CertificateIssuer certifies a public key for an identity.
type CertificateIssuer interface {
	Issue(ctx context.Context, pub crypto.PublicKey, who ca.Embedder) (*x509.Certificate, error)
	// Chain is the CA chain, issuing certificate first, root last.
	Chain() []*x509.Certificate
}

// ChainedIssuer is a CertificateIssuer whose chain can change while it
// runs (a key rotation): it returns each certificate with the chain that
// issued it, which the service then hands out with the certificate.
type ChainedIssuer interface {
	IssueWithChain(ctx context.Context, pub crypto.PublicKey, who ca.Embedder) (*x509.Certificate, []*x509.Certificate, error)
}

// Timestamper countersigns signature bytes with an RFC 3161 timestamp and
// returns the whole DER TimeStampResp and the time it states.
type Timestamper interface {
	TimestampSignature(ctx context.Context, sig []byte) (resp []byte, genTime time.Time, err error)
}

// Authorizer decides whether an authenticated identity may get a
// certificate; a refusal is problem.Forbidden naming the rule.
type Authorizer interface {
	Authorize(ctx context.Context, p *identity.Principal) error
}

// IdentityLimiter rate-limits verified identities; a refusal is
// problem.TooManyRequests with a RetryAfter. IdentityBuckets implements it.
type IdentityLimiter interface {
	Allow(p *identity.Principal) error
}

// IssuanceLog records every certificate before it leaves the server; the
// index it returns is the entry's place in the log. A failure is
// problem.Unavailable, and the certificate is then never returned.
type IssuanceLog interface {
	Append(ctx context.Context, der []byte) (index uint64, err error)
}

// Issued is an issued certificate: the certificate, the identity it
// certifies and its index in the issuance log (-1 without a log).
type Issued struct {
	// Certificate is the issued leaf.
	Certificate *x509.Certificate
	// Chain is the CA chain that issued it, issuing certificate first.
	Chain []*x509.Certificate
	// Principal is the authenticated identity it certifies.
	Principal *identity.Principal
	// LogIndex is the certificate's entry in the issuance log, -1 when
	// the server runs without one.
	LogIndex int64
}

// Service is the signing flow. Its zero value is not usable; set every field.
type Service struct {
	// Auth verifies identity tokens.
	Auth Authenticator
	// CA issues certificates.
	CA CertificateIssuer
	// TSA countersigns signatures.
	TSA Timestamper
	// Policy decides who may sign; nil allows every authenticated identity.
	Policy Authorizer
	// Limit rate-limits each identity that passed the policy, before
	// anything is signed (per replica); nil means no limit.
	Limit IdentityLimiter
	// IssuanceLog records every certificate before it is returned; nil
	// runs without a log.
	IssuanceLog IssuanceLog
	// Log receives one line per issued certificate.
	Log *slog.Logger
	// OnIssue, when set, is called after each issued certificate (metrics).
	OnIssue func(kind string)
}

// KeyRequest asks for a certificate over a public key.
type KeyRequest struct {
	// Token is the raw OIDC identity token.
	Token string
	// PublicKey is the key to certify.
	PublicKey crypto.PublicKey
	// Proof is the key's signature over the token's challenge (sub or email).
	Proof []byte
}

// Certify authenticates the token, checks the proof of possession and
// issues a certificate. Nothing is issued when any check fails.
func (s *Service) Certify(ctx context.Context, req KeyRequest) (*Issued, error) {
	p, err := s.authenticate(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	if err := CheckProofOfPossession(req.PublicKey, req.Proof, p.Challenge); err != nil {
		return nil, err
	}
	return s.issue(ctx, req.PublicKey, p, "certificate")
}

// CertifyCSR authenticates the token and certifies the key of a PKCS #10
// request, whose own signature is the proof of possession.
func (s *Service) CertifyCSR(ctx context.Context, token string, csr *x509.CertificateRequest) (*Issued, error) {
	p, err := s.authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, problem.BadRequest("certificate signing request signature does not verify with the key it carries").WithCause(err)
	}
	if err := CheckKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return s.issue(ctx, csr.PublicKey, p, "certificate")
}

// authenticate verifies the token, applies the policy and then the
// per-identity rate limit, which every flow (Certify, CertifyCSR, Sign)
// passes before it signs anything. A request counts against its identity's
// limit from here on, even if a later check (proof of possession) fails.
func (s *Service) authenticate(ctx context.Context, token string) (*identity.Principal, error) {
	p, err := s.Auth.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if s.Policy != nil {
		if err := s.Policy.Authorize(ctx, p); err != nil {
			return nil, err
		}
	}
	if s.Limit != nil {
		if err := s.Limit.Allow(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// issue certifies pub for p and records the certificate in the issuance
// log; a certificate whose append fails is never returned.
func (s *Service) issue(ctx context.Context, pub crypto.PublicKey, p *identity.Principal, kind string) (*Issued, error) {
	cert, chain, err := s.certify(ctx, pub, p)
	if err != nil {
		return nil, err
	}
	return s.record(ctx, cert, chain, p, kind)
}

// certify has the CA make the certificate; nothing is issued yet.
func (s *Service) certify(ctx context.Context, pub crypto.PublicKey, p *identity.Principal) (*x509.Certificate, []*x509.Certificate, error) {
	if ci, ok := s.CA.(ChainedIssuer); ok {
		return ci.IssueWithChain(ctx, pub, p)
	}
	cert, err := s.CA.Issue(ctx, pub, p)
	if err != nil {
		return nil, nil, err
	}
	return cert, s.CA.Chain(), nil
}

// record issues a certificate the CA made: it appends it to the issuance
// log, durably, before anything else, then logs and counts it.
func (s *Service) record(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate, p *identity.Principal, kind string) (*Issued, error) {
	index := int64(-1)
	if s.IssuanceLog != nil {
		i, err := s.IssuanceLog.Append(ctx, cert.Raw)
		if err != nil {
			return nil, err
		}
		index = int64(i)
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "certificate issued", "kind", kind, "identity", p.Name(),
			"issuer", p.Issuer, "serial", cert.SerialNumber.Text(16), "not_after", cert.NotAfter, "log_index", index)
	}
	if s.OnIssue != nil {
		s.OnIssue(kind)
	}
	return &Issued{Certificate: cert, Chain: chain, Principal: p, LogIndex: index}, nil
}

// timestamped is the outcome of a timestamp made beside the certificate.
type timestamped struct {
	resp []byte
	at   time.Time
	err  error
}

// certifyAndStamp has the CA make the certificate for pub and the TSA
// timestamp sig at once: the timestamp countersigns the content's
// signature, not the certificate, so with both keys in Vault that is two
// transit round trips at once. It returns both or an error; nothing is
// issued yet. A timestamp must lie within the certificate's validity for
// verifiers, and notBefore has whole seconds: one made just before the
// certificate, across a second boundary, is made again.
func (s *Service) certifyAndStamp(ctx context.Context, pub crypto.PublicKey, p *identity.Principal, sig []byte) (*x509.Certificate, []*x509.Certificate, []byte, error) {
	stamped := make(chan timestamped, 1)
	tsCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer func() {
			// The HTTP server recovers a handler's panic, not this goroutine's.
			if r := recover(); r != nil {
				stamped <- timestamped{err: fmt.Errorf("keyless: timestamp: panic: %v", r)}
			}
		}()
		resp, at, err := s.TSA.TimestampSignature(tsCtx, sig)
		stamped <- timestamped{resp, at, err}
	}()
	cert, chain, err := s.certify(ctx, pub, p)
	if err != nil {
		cancel()
		<-stamped
		return nil, nil, nil, err
	}
	ts := <-stamped
	if ts.err == nil && ts.at.Before(cert.NotBefore) {
		ts.resp, ts.at, ts.err = s.TSA.TimestampSignature(ctx, sig)
		if ts.err == nil && ts.at.Before(cert.NotBefore) {
			return nil, nil, nil, problem.Unavailable("the TSA's clock reads %s, before the certificate's notBefore %s: the clock went back; retry",
				ts.at.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	if ts.err != nil {
		return nil, nil, nil, ts.err
	}
	return cert, chain, ts.resp, nil
}

// SignRequest is a one-shot request: a key request plus exactly one signed
// content, a message digest signature or a DSSE envelope.
type SignRequest struct {
	KeyRequest
	// Message is a signature over an artifact digest.
	Message *MessageContent
	// DSSE is a signed DSSE envelope.
	DSSE *DSSEContent
}

// MessageContent is a signature over an artifact's digest.
type MessageContent struct {
	// Algorithm is the Sigstore hash name, e.g. "SHA2_256".
	Algorithm string
	// Digest is the artifact's digest.
	Digest []byte
	// Signature is the key's raw signature over Digest.
	Signature []byte
}

// DSSEContent is a DSSE envelope with one signature.
type DSSEContent struct {
	// PayloadType is the envelope's payload type, e.g. application/vnd.in-toto+json.
	PayloadType string
	// Payload is the signed payload (the statement).
	Payload []byte
	// Signature is the key's signature over the envelope's PAE.
	Signature []byte
	// KeyID is the signature's optional key hint.
	KeyID string
}

// Sign runs the whole flow: authenticate, check the proof of possession,
// check the content signature against the key, issue the certificate,
// timestamp the signature bytes and assemble a v0.3 bundle. Nothing is
// issued when a step before issuance fails.
func (s *Service) Sign(ctx context.Context, req SignRequest) (*protobundle.Bundle, *Issued, error) {
	sig, check, err := contentCheck(req)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.authenticate(ctx, req.Token)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckProofOfPossession(req.PublicKey, req.Proof, p.Challenge); err != nil {
		return nil, nil, err
	}
	if err := check(); err != nil {
		return nil, nil, err
	}
	cert, chain, ts, err := s.certifyAndStamp(ctx, req.PublicKey, p, sig)
	if err != nil {
		return nil, nil, err
	}
	issued, err := s.record(ctx, cert, chain, p, "bundle")
	if err != nil {
		return nil, nil, err
	}
	t := bundle.Timestamped{Leaf: issued.Certificate, Timestamps: [][]byte{ts}}
	if req.DSSE != nil {
		return bundle.NewDSSE(t, req.DSSE.PayloadType, req.DSSE.Payload, sig, req.DSSE.KeyID), issued, nil
	}
	alg, _ := bundle.HashAlgorithm(req.Message.Algorithm)
	return bundle.NewMessageSignature(t, alg, req.Message.Digest, sig), issued, nil
}

// contentCheck validates the shape of the signed content and returns its
// signature bytes and the deferred check of that signature against the key.
func contentCheck(req SignRequest) ([]byte, func() error, error) {
	switch {
	case req.Message != nil && req.DSSE != nil, req.Message == nil && req.DSSE == nil:
		return nil, nil, problem.BadRequest("%v", errNoContent)
	case req.Message != nil:
		m := req.Message
		hash, err := digestHash(m.Algorithm)
		if err != nil {
			return nil, nil, err
		}
		if len(m.Digest) != hash.Size() {
			return nil, nil, problem.BadRequest("message digest is %d bytes; %s digests are %d", len(m.Digest), m.Algorithm, hash.Size())
		}
		return m.Signature, func() error { return checkDigestSignature(req.PublicKey, hash, m.Digest, m.Signature) }, nil
	default:
		d := req.DSSE
		if d.PayloadType == "" || len(d.Payload) == 0 {
			return nil, nil, problem.BadRequest("DSSE envelope needs a payloadType and a payload")
		}
		pae := dsse.PAE(d.PayloadType, d.Payload)
		return d.Signature, func() error { return checkDSSESignature(req.PublicKey, pae, d.Signature) }, nil
	}
}

// digestHash maps a Sigstore hash name to a hash signet accepts.
func digestHash(name string) (crypto.Hash, error) {
	switch name {
	case "SHA2_256":
		return crypto.SHA256, nil
	case "SHA2_384":
		return crypto.SHA384, nil
	case "SHA2_512":
		return crypto.SHA512, nil
	}
	return 0, problem.BadRequest("message digest algorithm %q is not supported: use SHA2_256, SHA2_384 or SHA2_512", problem.Truncate(name))
}
