// Package client is the client side of the signing flow, as `signet sign`
// and `signet attest` use it in CI: it reads the job's OIDC token from the
// runner, makes an ephemeral key and its proof of possession, signs the
// artifact or DSSE statement, and asks the server's one-shot endpoint for
// the bundle (or, for a statement too large to send, its Fulcio and
// timestamp APIs for the parts, and builds the bundle itself).
package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
)

// Client signs through a signet server's one-shot endpoint with an
// ephemeral P-256 key that lives only in memory for one signature. It
// retries what a busy or restarting server answers (see do).
type Client struct {
	// BaseURL is the server's public URL.
	BaseURL string
	// HTTP is the client to use; nil means one whose requests time out
	// after DefaultRequestTimeout.
	HTTP *http.Client
	// Attempts bounds the tries of one request: 0 means DefaultAttempts,
	// 1 never retries (a load generator counts each failure).
	Attempts int
	// RetryWait is the first wait between tries, doubled each time up to
	// maxRetryWait; 0 means one second.
	RetryWait time.Duration
}

// Signed is the result of a signing call.
type Signed struct {
	// Bundle is the Sigstore bundle, JSON on one line.
	Bundle []byte
	// Leaf is the certificate signet issued.
	Leaf *x509.Certificate
	// LogIndex is the certificate's entry in the server's issuance log
	// (its Signet-Log-Index header), -1 when the server has no log.
	LogIndex int64
}

// logIndexHeader is the response header carrying the issuance log index.
const logIndexHeader = "Signet-Log-Index"

// SignArtifact signs an artifact's SHA-256 digest.
func (c *Client) SignArtifact(ctx context.Context, token string, digest [sha256.Size]byte) (*Signed, error) {
	key, req, err := newKeyRequest(token)
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("keyless: sign digest: %w", err)
	}
	req["messageSignature"] = map[string]any{
		"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": digest[:]},
		"signature":     sig,
	}
	return c.post(ctx, token, req, key, func(got *protobundle.Bundle) error {
		if m := got.GetMessageSignature(); m == nil || !bytes.Equal(m.GetMessageDigest().GetDigest(), digest[:]) || !bytes.Equal(m.GetSignature(), sig) {
			return errors.New("it does not hold this artifact's digest and signature")
		}
		return nil
	})
}

// SignDSSE signs payload as a DSSE envelope of payloadType: through the
// one-shot endpoint, or, for a payload over MaxOneShotPayload, through the
// server's Fulcio and timestamp APIs so that the payload is never sent.
func (c *Client) SignDSSE(ctx context.Context, token, payloadType string, payload []byte) (*Signed, error) {
	if len(payload) > MaxOneShotPayload {
		return c.signDSSEInParts(ctx, token, payloadType, payload)
	}
	key, req, err := newKeyRequest(token)
	if err != nil {
		return nil, err
	}
	sig, err := signEnvelope(key, payloadType, payload)
	if err != nil {
		return nil, err
	}
	req["dsseEnvelope"] = map[string]any{
		"payload": payload, "payloadType": payloadType,
		"signatures": []map[string]any{{"sig": sig}},
	}
	return c.post(ctx, token, req, key, func(got *protobundle.Bundle) error {
		if e := got.GetDsseEnvelope(); e == nil || !bytes.Equal(e.GetPayload(), payload) || e.GetPayloadType() != payloadType ||
			len(e.GetSignatures()) != 1 || !bytes.Equal(e.GetSignatures()[0].GetSig(), sig) {
			return errors.New("it does not hold this statement's DSSE envelope and signature")
		}
		return nil
	})
}

// signEnvelope signs the DSSE pre-authentication encoding of payload.
func signEnvelope(key *ecdsa.PrivateKey, payloadType string, payload []byte) ([]byte, error) {
	h := sha256.Sum256(dsse.PAE(payloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("keyless: sign envelope: %w", err)
	}
	return sig, nil
}

// newKeyRequest makes the ephemeral key and the request's key fields: the
// PEM public key and the proof of possession over the token's challenge.
func newKeyRequest(token string) (*ecdsa.PrivateKey, map[string]any, error) {
	challenge, err := TokenChallenge(token)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("keyless: generate key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("keyless: marshal key: %w", err)
	}
	h := sha256.Sum256([]byte(challenge))
	proof, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, nil, fmt.Errorf("keyless: proof of possession: %w", err)
	}
	return key, map[string]any{
		"publicKey":         map[string]string{"algorithm": "ECDSA", "content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"proofOfPossession": proof,
	}, nil
}

// TokenChallenge returns what the proof of possession signs, read from the
// unverified token as Sigstore clients do: the email when the token carries
// one, else sub. The server verifies the token; this only reads it.
func TokenChallenge(token string) (string, error) {
	tok, err := jwt.ParseSigned(token, identity.TokenAlgorithms())
	if err != nil {
		return "", fmt.Errorf("keyless: identity token is not a JWT: %w", err)
	}
	var claims struct {
		Subject string `json:"sub"`
		Email   string `json:"email"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return "", fmt.Errorf("keyless: identity token claims: %w", err)
	}
	if claims.Email != "" {
		return claims.Email, nil
	}
	if claims.Subject == "" {
		return "", errors.New("keyless: identity token has no sub claim")
	}
	return claims.Subject, nil
}

// DefaultRequestTimeout bounds one request of a Client without its own
// http.Client: a server that accepts and never answers cannot hang a CI
// job.
const DefaultRequestTimeout = time.Minute

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultRequestTimeout}
}

// post sends a one-shot request and checks the bundle it gets back before
// anyone writes it: a v0.3 bundle whose certificate certifies key and
// whose content check accepts (what was sent), so that a misbehaving
// server or proxy cannot hand the job a bundle that will not verify.
func (c *Client) post(ctx context.Context, token string, req map[string]any, key *ecdsa.PrivateKey, check func(*protobundle.Bundle) error) (*Signed, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("keyless: encode request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/api/v1/sign", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("keyless: request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+token)
	out, header, err := c.do(hreq)
	if err != nil {
		return nil, err
	}
	index, err := logIndex(header)
	if err != nil {
		return nil, err
	}
	parsed := &protobundle.Bundle{}
	if err := protojson.Unmarshal(out, parsed); err != nil {
		return nil, fmt.Errorf("keyless: server answered with no bundle: %w", err)
	}
	if parsed.GetMediaType() != bundle.MediaType {
		return nil, fmt.Errorf("keyless: server answered with a bundle of media type %q, want %s", problem.Clip(parsed.GetMediaType(), 80), bundle.MediaType)
	}
	leaf, err := x509.ParseCertificate(parsed.GetVerificationMaterial().GetCertificate().GetRawBytes())
	if err != nil {
		return nil, fmt.Errorf("keyless: bundle certificate: %w", err)
	}
	if !pki.SamePublicKey(leaf.PublicKey, key.Public()) {
		return nil, errors.New("keyless: the server's bundle certifies another key than this signature's")
	}
	if err := check(parsed); err != nil {
		return nil, fmt.Errorf("keyless: the server's bundle is not for this request: %w", err)
	}
	return &Signed{Bundle: out, Leaf: leaf, LogIndex: index}, nil
}

// logIndex reads a response's issuance log index: -1 when it has none.
func logIndex(header http.Header) (int64, error) {
	v := header.Get(logIndexHeader)
	if v == "" {
		return -1, nil
	}
	index, err := strconv.ParseInt(v, 10, 64)
	if err != nil || index < 0 {
		return 0, fmt.Errorf("keyless: server sent a malformed %s %q", logIndexHeader, problem.Clip(v, 40))
	}
	return index, nil
}

// Get fetches a document from the server, e.g. "/api/v1/trustedroot".
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, fmt.Errorf("keyless: request: %w", err)
	}
	out, _, err := c.do(req)
	return out, err
}

// GitHubActionsToken asks the GitHub Actions runner for an identity token
// with the given audience: requestURL and requestToken are the job's
// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func GitHubActionsToken(ctx context.Context, client *http.Client, requestURL, requestToken, audience string) (string, error) {
	u, err := url.Parse(requestURL)
	if err != nil {
		return "", fmt.Errorf("keyless: ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("keyless: token request: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+requestToken)
	out, _, err := (&Client{HTTP: client}).do(req)
	if err != nil {
		return "", fmt.Errorf("keyless: GitHub Actions token: %w", err)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Value == "" {
		return "", errors.New("keyless: GitHub Actions token endpoint answered without a token")
	}
	return v.Value, nil
}
