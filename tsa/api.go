package tsa

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/digitorus/timestamp"
	"github.com/gorilla/mux"

	"github.com/signet-dev/signet/internal/problem"
)

// Responder answers timestamp requests: an *Authority, or one whose key
// is loaded (and rotated) in the background.
type Responder interface {
	// Timestamp answers a request with a DER TimeStampResp.
	Timestamp(ctx context.Context, req *timestamp.Request) ([]byte, error)
	// ChainPEM is the TSA chain, leaf first, in PEM.
	ChainPEM() ([]byte, error)
}

// API serves the endpoints of sigstore's timestamp-authority over a
// Responder.
type API struct {
	// Authority answers the requests.
	Authority Responder
	// Log receives one line per request; nil discards.
	Log *slog.Logger
}

// Register mounts the API on r:
//
//   - POST /api/v1/timestamp takes a DER TimeStampReq
//     (Content-Type application/timestamp-query, at most MaxQueryBytes) or
//     sigstore's JSON request (application/json, at most MaxJSONBytes) and
//     answers 200 OK with a DER TimeStampResp
//     (application/timestamp-reply), as sigstore's TSA v2 does by default.
//     Malformed or refused requests get 400, over-size bodies 413, other
//     media types 415, all as problem documents.
//   - GET /api/v1/timestamp/certchain answers the PEM TSA chain, leaf
//     first (application/pem-certificate-chain).
func (a *API) Register(r *mux.Router) {
	r.HandleFunc("/api/v1/timestamp", a.timestamp).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/timestamp/certchain", a.certChain).Methods(http.MethodGet)
}

func (a *API) timestamp(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err != nil {
		problem.Write(w, a.Log, r, err)
		return
	}
	resp, err := a.Authority.Timestamp(r.Context(), req)
	if err != nil {
		problem.Write(w, a.Log, r, err)
		return
	}
	if a.Log != nil {
		a.Log.LogAttrs(r.Context(), slog.LevelDebug, "timestamp issued",
			slog.String("hash", req.HashAlgorithm.String()),
			slog.Bool("certReq", req.Certificates))
	}
	w.Header().Set("Content-Type", ContentTypeReply)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

func (a *API) certChain(w http.ResponseWriter, r *http.Request) {
	chain, err := a.Authority.ChainPEM()
	if err != nil {
		problem.Write(w, a.Log, r, err)
		return
	}
	w.Header().Set("Content-Type", ContentTypeChain)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(chain)
}
