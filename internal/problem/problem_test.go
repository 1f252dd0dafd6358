package problem_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		status      int
		shown       string
		notShown    string
		loggedCause string
	}{
		{"classified", problem.BadRequest("bad key %d", 7), 400, `"message":"bad key 7"`, "", ""},
		{"wrapped", fmt.Errorf("ctx: %w", problem.Forbidden("rule x")), 403, `"code":"denied"`, "", ""},
		{"cause is logged, not shown", problem.Unavailable("vault is sealed").WithCause(errors.New("dial 10.0.0.7:8200")), 503, "vault is sealed", "10.0.0.7", "10.0.0.7"},
		{"unclassified is a generic 500", errors.New("secret internal detail"), 500, `"internal error"`, "secret internal detail", ""},
		{"415", problem.UnsupportedMediaType("send DER"), 415, "unsupported_media_type", "", ""},
		{"401", problem.Unauthorized("token expired"), 401, "invalid_token", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			problem.Write(rec, slog.New(slog.NewJSONHandler(&logs, nil)), httptest.NewRequest(http.MethodGet, "/x", nil), tc.err)
			body := rec.Body.String()
			if rec.Code != tc.status || !strings.Contains(body, tc.shown) || (tc.notShown != "" && strings.Contains(body, tc.notShown)) {
				t.Errorf("status %d body %s", rec.Code, body)
			}
			if tc.loggedCause != "" && !strings.Contains(logs.String(), tc.loggedCause) {
				t.Errorf("cause not logged: %s", logs.String())
			}
			if auth := rec.Header().Get("WWW-Authenticate"); (tc.status == 401) != (auth == `Bearer realm="signet"`) {
				t.Errorf("status %d with WWW-Authenticate %q; a 401 (only) must name the Bearer scheme", rec.Code, auth)
			}
			if problem.StatusOf(tc.err) != tc.status {
				t.Errorf("StatusOf = %d", problem.StatusOf(tc.err))
			}
		})
	}
}

func TestWriteRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"rounded up", problem.TooManyRequests("slow down").WithRetryAfter(2100 * time.Millisecond), "3"},
		{"at least one second", problem.TooManyRequests("slow down").WithRetryAfter(time.Millisecond), "1"},
		{"wrapped", fmt.Errorf("ctx: %w", problem.TooManyRequests("slow down").WithRetryAfter(5*time.Second)), "5"},
		{"none when unset", problem.TooManyRequests("slow down"), ""},
		{"none on a generic 500", errors.New("boom"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, nil, httptest.NewRequest(http.MethodPost, "/x", nil), tc.err)
			if got := rec.Header().Get("Retry-After"); got != tc.want {
				t.Errorf("Retry-After %q, want %q", got, tc.want)
			}
		})
	}
}
