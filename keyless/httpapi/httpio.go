package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/signet-dev/signet/internal/problem"
)

// Body limits. Real requests are far smaller: a certificate request is
// about 2 KiB, a one-shot request a few KiB plus the DSSE payload.
const (
	maxCertRequestBytes = 64 << 10
	maxSignRequestBytes = 512 << 10
)

// decodeJSON reads a JSON body of at most limit bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem.TooLarge("request body is over the %d-byte limit", limit)
		}
		return problem.BadRequest("reading request body: %v", err)
	}
	if len(body) == 0 {
		return problem.BadRequest("request body is empty: send a JSON document")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return problem.BadRequest("request body is not valid JSON for this endpoint: %s", problem.ParseDetail(err)).WithCause(err)
	}
	return nil
}

// requireJSON checks that a request body is declared as JSON: its
// Content-Type, parsed as a media type (case-insensitive, parameters such as
// charset allowed), is application/json. A missing, malformed or other type
// is problem.UnsupportedMediaType (415) naming the type to send; no body is
// ever guessed at.
func requireJSON(r *http.Request) error {
	const want = "application/json"
	header := r.Header.Get("Content-Type")
	if header == "" {
		return problem.UnsupportedMediaType("Content-Type is missing: send %s", want)
	}
	media, _, err := mime.ParseMediaType(header)
	if err != nil {
		return problem.UnsupportedMediaType("Content-Type %q is malformed: send %s", problem.Truncate(header), want)
	}
	if media != want {
		return problem.UnsupportedMediaType("Content-Type %q is not accepted here: send %s", problem.Truncate(media), want)
	}
	return nil
}

// bearerToken returns the identity token of a request: body, the token in
// its credentials, when it has one, else that of its `Authorization:
// Bearer` header.
func bearerToken(r *http.Request, body string) (string, error) {
	if body != "" {
		// As Fulcio does: the request's own credentials first, so that a
		// gateway that adds its Authorization header (Cloud Run IAM, an
		// API gateway) does not replace the job's token.
		return body, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", problem.Unauthorized("Authorization header must be `Bearer <identity token>`")
	}
	return strings.TrimSpace(token), nil
}
