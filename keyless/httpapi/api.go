// Package httpapi is the HTTP API of the signing flow: Fulcio's v2 and
// legacy v1 certificate endpoints, the one-shot /api/v1/sign that answers
// a Sigstore bundle, and the trust documents (trusted root, signing
// config, CA chain, issuer configuration). It decodes and bounds request
// bodies, finds the token, calls keyless.Service and writes every error
// through internal/problem.
package httpapi

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/internal/httpserver"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/internal/version"
	"github.com/signet-dev/signet/keyless"
)

// IssuerInfo describes one trusted issuer in GET /api/v2/configuration,
// with the fields of Fulcio's OIDCIssuer message, all present as Fulcio
// v1.8.8 writes them.
type IssuerInfo struct {
	// IssuerURL is an exact trusted issuer.
	IssuerURL string `json:"issuerUrl,omitempty"`
	// WildcardURL is a meta-issuer pattern.
	WildcardURL string `json:"wildcardIssuerUrl,omitempty"`
	// Audience is the aud tokens must carry.
	Audience string `json:"audience"`
	// ChallengeClaim is the claim the proof of possession signs.
	ChallengeClaim string `json:"challengeClaim"`
	// IssuerType is the issuer's type, e.g. "github-workflow".
	IssuerType string `json:"issuerType"`
	// SPIFFETrustDomain is a spiffe issuer's trust domain.
	SPIFFETrustDomain string `json:"spiffeTrustDomain"`
	// SubjectDomain is the domain a uri or username issuer's subjects
	// belong to.
	SubjectDomain string `json:"subjectDomain"`
	// SkipEmailVerification says an email issuer's tokens need no
	// email_verified.
	SkipEmailVerification bool `json:"skipEmailVerification"`
}

// API serves the Fulcio-compatible certificate endpoints, the one-shot
// signing endpoint and the trust documents.
type API struct {
	// Service runs the flow.
	Service *keyless.Service
	// Documents are the trusted_root.json served at /api/v1/trustedroot
	// and the signing config served at /api/v1/signingconfig.
	Documents TrustDocuments
	// Issuers are listed by /api/v2/configuration.
	Issuers []IssuerInfo
	// Log receives request errors.
	Log *slog.Logger
}

// Register mounts the API's routes on r.
func (a *API) Register(r *mux.Router) {
	r.HandleFunc("/api/v2/signingCert", a.signingCertV2).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/signingCert", a.signingCertV1).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/sign", a.sign).Methods(http.MethodPost)
	r.HandleFunc("/api/v2/trustBundle", a.trustBundle).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/rootCert", a.rootCert).Methods(http.MethodGet)
	r.HandleFunc("/api/v2/configuration", a.configuration).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/trustedroot", a.document(a.Documents.TrustedRoot, "application/json")).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/signingconfig", a.document(a.Documents.SigningConfig, "application/json")).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		httpserver.WriteJSON(w, http.StatusOK, "application/json", version.Get())
	}).Methods(http.MethodGet)
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	problem.Write(w, a.Log, r, err)
}

// TrustDocuments are the documents verifiers and signers fetch; they
// change when the keys rotate, and are unavailable (a problem.Error)
// until the keys are loaded.
type TrustDocuments interface {
	TrustedRoot() ([]byte, error)
	SigningConfig() ([]byte, error)
}

// StaticDocuments are trust documents that never change.
type StaticDocuments struct {
	// Root is the trusted root JSON; Config the signing config JSON.
	Root, Config []byte
}

// TrustedRoot returns the trusted root.
func (s StaticDocuments) TrustedRoot() ([]byte, error) { return s.Root, nil }

// SigningConfig returns the signing config.
func (s StaticDocuments) SigningConfig() ([]byte, error) { return s.Config, nil }

// document serves what get returns, or its error.
func (a *API) document(get func() ([]byte, error), contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := get()
		if err != nil {
			problem.Write(w, a.Log, r, err)
			return
		}
		httpserver.WriteBytes(w, http.StatusOK, contentType, body)
	}
}

func pemChain(certs []*x509.Certificate) []string {
	out := make([]string, 0, len(certs))
	for _, c := range certs {
		out = append(out, string(pki.EncodeCertificatesPEM([]*x509.Certificate{c})))
	}
	return out
}

type certChain struct {
	Certificates []string `json:"certificates"`
}

// LoadingCA is a CA whose keys load in the background: until they are
// loaded, CurrentChain says why (a problem.Error).
type LoadingCA interface {
	CurrentChain() ([]*x509.Certificate, error)
}

// chain is the CA chain; a CA whose keys are not loaded yet has none.
func (a *API) chain(w http.ResponseWriter, r *http.Request) ([]*x509.Certificate, bool) {
	if lc, ok := a.Service.CA.(LoadingCA); ok {
		chain, err := lc.CurrentChain()
		if err != nil {
			problem.Write(w, a.Log, r, err)
			return nil, false
		}
		return chain, true
	}
	chain := a.Service.CA.Chain()
	if len(chain) == 0 {
		problem.Write(w, a.Log, r, problem.Unavailable("signet has not loaded its CA yet: try again shortly").WithRetryAfter(time.Second))
		return nil, false
	}
	return chain, true
}

func (a *API) trustBundle(w http.ResponseWriter, r *http.Request) {
	chain, ok := a.chain(w, r)
	if !ok {
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, "application/json", map[string][]certChain{
		"chains": {{Certificates: pemChain(chain)}},
	})
}

func (a *API) rootCert(w http.ResponseWriter, r *http.Request) {
	chain, ok := a.chain(w, r)
	if !ok {
		return
	}
	httpserver.WriteBytes(w, http.StatusOK, "application/pem-certificate-chain", pki.EncodeCertificatesPEM(chain))
}

func (a *API) configuration(w http.ResponseWriter, _ *http.Request) {
	httpserver.WriteJSON(w, http.StatusOK, "application/json", map[string][]IssuerInfo{"issuers": a.Issuers})
}

// signRequest is the JSON of POST /api/v1/sign, named as the Sigstore
// protobuf messages are.
type signRequest struct {
	Credentials       *credentials `json:"credentials"`
	PublicKey         publicKey    `json:"publicKey"`
	ProofOfPossession []byte       `json:"proofOfPossession"`
	MessageSignature  *struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
	DSSEEnvelope *struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig   []byte `json:"sig"`
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
}

func (a *API) sign(w http.ResponseWriter, r *http.Request) {
	var in signRequest
	if err := decodeJSON(w, r, maxSignRequestBytes, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	token, err := bearerToken(r, in.Credentials.token())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pub, err := keyless.ParsePublicKey(in.PublicKey.Content)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	req := keyless.SignRequest{KeyRequest: keyless.KeyRequest{Token: token, PublicKey: pub, Proof: in.ProofOfPossession}}
	if m := in.MessageSignature; m != nil {
		req.Message = &keyless.MessageContent{Algorithm: m.MessageDigest.Algorithm, Digest: m.MessageDigest.Digest, Signature: m.Signature}
	}
	if d := in.DSSEEnvelope; d != nil {
		if len(d.Signatures) != 1 {
			a.fail(w, r, problem.BadRequest("DSSE envelope must carry exactly one signature, not %d", len(d.Signatures)))
			return
		}
		req.DSSE = &keyless.DSSEContent{PayloadType: d.PayloadType, Payload: d.Payload, Signature: d.Signatures[0].Sig, KeyID: d.Signatures[0].KeyID}
	}
	b, issued, err := a.Service.Sign(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := bundle.Marshal(b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	setLogIndex(w, issued)
	httpserver.WriteBytes(w, http.StatusOK, bundle.MediaType, out)
}

// LogIndexHeader carries an issued certificate's index in the issuance
// log, on every certificate and bundle response of a server with a log.
const LogIndexHeader = "Signet-Log-Index"

// setLogIndex sets LogIndexHeader when the certificate was logged.
func setLogIndex(w http.ResponseWriter, issued *keyless.Issued) {
	if issued.LogIndex >= 0 {
		w.Header().Set(LogIndexHeader, strconv.FormatInt(issued.LogIndex, 10))
	}
}
