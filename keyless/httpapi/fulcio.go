package httpapi

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/signet-dev/signet/internal/httpserver"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
)

type credentials struct {
	OIDCIdentityToken string `json:"oidcIdentityToken"`
}

func (c *credentials) token() string {
	if c == nil {
		return ""
	}
	return c.OIDCIdentityToken
}

type publicKey struct {
	Algorithm string `json:"algorithm"`
	Content   string `json:"content"`
}

// signingCertV2Request is Fulcio's CreateSigningCertificateRequest in JSON.
type signingCertV2Request struct {
	Credentials      *credentials `json:"credentials"`
	PublicKeyRequest *struct {
		PublicKey         publicKey `json:"publicKey"`
		ProofOfPossession []byte    `json:"proofOfPossession"`
	} `json:"publicKeyRequest"`
	CertificateSigningRequest []byte `json:"certificateSigningRequest"`
}

type signingCertV2Response struct {
	SignedCertificateEmbeddedSct struct {
		Chain certChain `json:"chain"`
	} `json:"signedCertificateEmbeddedSct"`
}

// signingCertV2 is Fulcio's POST /api/v2/signingCert: 200 with the chain,
// leaf first, as PEM strings.
func (a *API) signingCertV2(w http.ResponseWriter, r *http.Request) {
	var in signingCertV2Request
	if err := decodeJSON(w, r, maxCertRequestBytes, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	token, err := bearerToken(r, in.Credentials.token())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var issued *keyless.Issued
	switch {
	case in.PublicKeyRequest != nil && len(in.CertificateSigningRequest) > 0:
		err = problem.BadRequest("give either publicKeyRequest or certificateSigningRequest, not both")
	case in.PublicKeyRequest != nil:
		var pub any
		pub, err = keyless.ParsePublicKey(in.PublicKeyRequest.PublicKey.Content)
		if err == nil {
			issued, err = a.Service.Certify(r.Context(), keyless.KeyRequest{Token: token, PublicKey: pub, Proof: in.PublicKeyRequest.ProofOfPossession})
		}
	case len(in.CertificateSigningRequest) > 0:
		var csr *x509.CertificateRequest
		csr, err = parseCSR(in.CertificateSigningRequest)
		if err == nil {
			issued, err = a.Service.CertifyCSR(r.Context(), token, csr)
		}
	default:
		err = problem.BadRequest("request needs publicKeyRequest or certificateSigningRequest")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var out signingCertV2Response
	out.SignedCertificateEmbeddedSct.Chain.Certificates = pemChain(append([]*x509.Certificate{issued.Certificate}, issued.Chain...))
	setLogIndex(w, issued)
	httpserver.WriteJSON(w, http.StatusOK, "application/json", out)
}

// parseCSR accepts a PEM CSR (as Fulcio does) or bare DER.
func parseCSR(data []byte) (*x509.CertificateRequest, error) {
	if block, _ := pem.Decode(data); block != nil {
		data = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(data)
	if err != nil {
		return nil, problem.BadRequest("certificate signing request is malformed: %s", problem.ParseDetail(err)).WithCause(err)
	}
	return csr, nil
}

// signingCertV1Request is the legacy Fulcio v1 request of cosign v1/v2.
type signingCertV1Request struct {
	PublicKey          publicKey `json:"publicKey"`
	SignedEmailAddress string    `json:"signedEmailAddress"`
}

// signingCertV1 is Fulcio's legacy POST /api/v1/signingCert: 201 with the
// leaf PEM followed by the chain PEM.
func (a *API) signingCertV1(w http.ResponseWriter, r *http.Request) {
	var in signingCertV1Request
	if err := decodeJSON(w, r, maxCertRequestBytes, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	token, err := bearerToken(r, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pub, err := keyless.ParsePublicKey(in.PublicKey.Content)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	proof, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in.SignedEmailAddress))
	if err != nil {
		a.fail(w, r, problem.BadRequest("signedEmailAddress is not base64"))
		return
	}
	issued, err := a.Service.Certify(r.Context(), keyless.KeyRequest{Token: token, PublicKey: pub, Proof: proof})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body := strings.Join(pemChain(append([]*x509.Certificate{issued.Certificate}, issued.Chain...)), "")
	setLogIndex(w, issued)
	httpserver.WriteBytes(w, http.StatusCreated, "application/pem-certificate-chain", []byte(body))
}
