package tsa

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strings"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
)

// Request body media types and size limits.
const (
	// ContentTypeQuery is the media type of a DER TimeStampReq (RFC 3161).
	ContentTypeQuery = "application/timestamp-query"
	// ContentTypeReply is the media type of a DER TimeStampResp (RFC 3161).
	ContentTypeReply = "application/timestamp-reply"
	// ContentTypeJSON is the media type of sigstore's JSON timestamp request.
	ContentTypeJSON = "application/json"
	// ContentTypeChain is the media type of the PEM certificate chain.
	ContentTypeChain = "application/pem-certificate-chain"

	// MaxQueryBytes bounds a DER request body; a SHA-512 request with a
	// 64-bit nonce is about 100 bytes.
	MaxQueryBytes = 10 << 10
	// MaxJSONBytes bounds a JSON request body.
	MaxJSONBytes = 4 << 10
)

// JSONRequest is the JSON form of a timestamp request accepted by
// sigstore's timestamp-authority.
type JSONRequest struct {
	// ArtifactHash is the standard base64 encoding of the digest.
	ArtifactHash string `json:"artifactHash"`
	// HashAlgorithm is "sha256", "sha384" or "sha512" (any case).
	HashAlgorithm string `json:"hashAlgorithm"`
	// Certificates asks for the TSA chain in the token (certReq).
	Certificates bool `json:"certificates"`
	// Nonce is echoed in the token when set.
	Nonce *big.Int `json:"nonce,omitempty"`
	// TSAPolicyOID is the requested policy in dotted form, "1.2.3".
	TSAPolicyOID string `json:"tsaPolicyOID,omitempty"`
}

// readRequest reads and parses the timestamp request in r's body, DER or
// JSON by Content-Type. Every error it returns is a *problem.Error.
func readRequest(w http.ResponseWriter, r *http.Request) (*timestamp.Request, error) {
	header := r.Header.Get("Content-Type")
	if header == "" {
		return nil, problem.UnsupportedMediaType("tsa: missing Content-Type: send %s (DER) or %s", ContentTypeQuery, ContentTypeJSON)
	}
	media, _, err := mime.ParseMediaType(header)
	if err != nil {
		return nil, problem.UnsupportedMediaType("tsa: malformed Content-Type %q: send %s (DER) or %s", problem.Truncate(header), ContentTypeQuery, ContentTypeJSON).WithCause(err)
	}
	var limit int64
	switch media {
	case ContentTypeQuery:
		limit = MaxQueryBytes
	case ContentTypeJSON:
		limit = MaxJSONBytes
	default:
		return nil, problem.UnsupportedMediaType("tsa: unsupported Content-Type %q: send %s (DER) or %s", problem.Truncate(media), ContentTypeQuery, ContentTypeJSON)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, problem.TooLarge("tsa: %s request body over %d bytes", media, tooLarge.Limit)
		}
		return nil, problem.BadRequest("tsa: read request body: %w", err)
	}
	if media == ContentTypeJSON {
		return parseJSONRequest(body)
	}
	return parseDERRequest(body)
}

// parseDERRequest parses a DER TimeStampReq. A malformed request is a
// problem.BadRequest.
func parseDERRequest(body []byte) (*timestamp.Request, error) {
	if len(body) == 0 {
		return nil, problem.BadRequest("tsa: empty request body: send a DER TimeStampReq")
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		return nil, problem.BadRequest("tsa: malformed RFC 3161 request: %s", problem.ParseDetail(err)).WithCause(err)
	}
	// digitorus/timestamp drops the version; RFC 3161 defines only v1.
	if v, ok := requestVersion(body); !ok || v != 1 {
		return nil, problem.BadRequest("tsa: RFC 3161 request has version %d: only version 1 is defined", v)
	}
	return req, nil
}

// requestVersion reads the version, the first field of a DER TimeStampReq.
func requestVersion(der []byte) (int64, bool) {
	in := cryptobyte.String(der)
	var req cryptobyte.String
	var v int64
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1Integer(&v) {
		return 0, false
	}
	return v, true
}

// parseJSONRequest parses sigstore's JSON timestamp request. A malformed
// request is a problem.BadRequest.
func parseJSONRequest(body []byte) (*timestamp.Request, error) {
	// The wire form of JSONRequest, its nonce kept as sent: math/big's own
	// decoding error names Go's types.
	var j struct {
		ArtifactHash  string          `json:"artifactHash"`
		HashAlgorithm string          `json:"hashAlgorithm"`
		Certificates  bool            `json:"certificates"`
		Nonce         json.RawMessage `json:"nonce"`
		TSAPolicyOID  string          `json:"tsaPolicyOID"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, problem.BadRequest("tsa: malformed JSON timestamp request: %s", problem.ParseDetail(err)).WithCause(err)
	}
	req := &timestamp.Request{Certificates: j.Certificates}
	if nonce := string(j.Nonce); nonce != "" && nonce != "null" {
		n, ok := new(big.Int).SetString(nonce, 10)
		if !ok {
			return nil, problem.BadRequest("tsa: nonce %s is not a JSON integer", problem.Truncate(nonce))
		}
		req.Nonce = n
	}
	switch strings.ToLower(j.HashAlgorithm) {
	case "sha256":
		req.HashAlgorithm = crypto.SHA256
	case "sha384":
		req.HashAlgorithm = crypto.SHA384
	case "sha512":
		req.HashAlgorithm = crypto.SHA512
	case "sha1":
		return nil, problem.BadRequest("tsa: weak hash algorithm sha1: use sha256, sha384 or sha512")
	default:
		return nil, problem.BadRequest("tsa: unsupported hashAlgorithm %q: use sha256, sha384 or sha512", problem.Truncate(j.HashAlgorithm))
	}
	digest, err := base64.StdEncoding.DecodeString(j.ArtifactHash)
	if err != nil {
		return nil, problem.BadRequest("tsa: artifactHash is not standard base64: %w", err)
	}
	if len(digest) == 0 {
		return nil, problem.BadRequest("tsa: artifactHash is empty: send the base64 digest of the artifact")
	}
	req.HashedMessage = digest
	if j.TSAPolicyOID != "" {
		oid, err := pki.ParseOID(j.TSAPolicyOID)
		if err != nil {
			return nil, problem.BadRequest("tsa: tsaPolicyOID: %v", err)
		}
		req.TSAPolicyOID = oid
	}
	return req, nil
}
