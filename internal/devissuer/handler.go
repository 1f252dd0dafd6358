package devissuer

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// discovery is the OpenID Provider metadata document, shaped like GitHub's.
type discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
}

// runnerResponse is the token endpoint's answer, as GitHub's runner sends it.
type runnerResponse struct {
	Value string `json:"value"`
}

// errorBody is the JSON document of an error response; it has the shape of
// signet's own problem documents.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// claimsSupported lists the claims GitHub Actions tokens carry.
var claimsSupported = []string{
	"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
	"repository", "repository_id", "repository_owner", "repository_owner_id",
	"repository_visibility", "run_id", "run_number", "run_attempt",
	"runner_environment", "actor", "actor_id", "workflow", "workflow_ref",
	"workflow_sha", "head_ref", "base_ref", "event_name", "ref_type",
	"environment", "job_workflow_ref", "job_workflow_sha",
}

// Handler serves, relative to wherever it is mounted:
//
//	GET /.well-known/openid-configuration  discovery; jwks_uri is URL()+"/jwks"
//	GET /jwks                              every published key, with its kid
//	GET /token                             the runner token endpoint
//
// The token endpoint emulates GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL:
// it requires the header "Authorization: bearer <RequestToken()>" (401
// otherwise) and answers {"value": "<jwt>"}, minted from the runner claims
// with aud set to the audience query parameter, or to the issuer URL when
// there is none. Other query parameters (api-version) are ignored. Other
// methods are answered 405.
//
// To mount it under a prefix, create the issuer with a URL ending in that
// prefix and strip it: http.StripPrefix("/dev/oidc", iss.Handler()).
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("GET /token", i.serveRunnerToken)
	return mux
}

// serveDiscovery answers the OpenID Provider metadata.
func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.writeJSON(w, r, http.StatusOK, discovery{
		Issuer:                           i.url,
		JWKSURI:                          i.url + "/jwks",
		SubjectTypesSupported:            []string{"public", "pairwise"},
		ResponseTypesSupported:           []string{"id_token"},
		ClaimsSupported:                  claimsSupported,
		IDTokenSigningAlgValuesSupported: []string{string(Algorithm)},
		ScopesSupported:                  []string{"openid"},
	})
}

// serveJWKS answers the public halves of all published keys.
func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	keys := i.publishedKeys()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       &k.Private.PublicKey,
			KeyID:     k.ID,
			Algorithm: string(Algorithm),
			Use:       "sig",
		})
	}
	// Keys rotate; let no cache hold on to an old set.
	w.Header().Set("Cache-Control", "no-store")
	i.writeJSON(w, r, http.StatusOK, set)
}

// serveRunnerToken mints a token for whoever proves the request token.
func (i *Issuer) serveRunnerToken(w http.ResponseWriter, r *http.Request) {
	if !i.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="signet-dev-issuer"`)
		i.writeJSON(w, r, http.StatusUnauthorized, errorBody{
			Code:    "invalid_token",
			Message: "missing or wrong bearer request token",
		})
		return
	}
	audience := r.URL.Query().Get("audience")
	if audience == "" {
		audience = i.url
	}
	claims := i.runnerClaimSet()
	claims["aud"] = audience
	token, err := i.Mint(claims)
	if err != nil {
		i.log.ErrorContext(r.Context(), "token endpoint: mint failed", slog.String("error", err.Error()))
		i.writeJSON(w, r, http.StatusInternalServerError, errorBody{Code: "internal", Message: "internal error"})
		return
	}
	i.log.DebugContext(r.Context(), "minted runner token", slog.String("audience", audience))
	i.writeJSON(w, r, http.StatusOK, runnerResponse{Value: token})
}

// authorized reports whether header is "bearer <request token>"; the scheme
// is case-insensitive, the secret is compared in constant time.
func (i *Issuer) authorized(header string) bool {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return false
	}
	secret = strings.TrimSpace(secret)
	want := i.RequestToken()
	return want != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

// writeJSON writes v as a JSON response with status.
func (i *Issuer) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		i.log.ErrorContext(r.Context(), "encode response", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		i.log.DebugContext(r.Context(), "write response", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
}
