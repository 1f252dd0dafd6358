package httpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCORS: a browser page may call the public APIs from any origin (a
// preflight for a JSON POST with a bearer token is answered, and answers
// carry Access-Control-Allow-Origin; browsers list the requested headers
// sorted and in lower case), never with credentials; the admin
// handler stays without CORS.
func TestCORS(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		name, method  string
		header        map[string]string
		wantStatus    int
		wantAllowOrig string
	}{
		{"preflight of a JSON POST with a token", http.MethodOptions, map[string]string{
			"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type"}, http.StatusNoContent, "*"},
		{"a GET from a page", http.MethodGet, map[string]string{"Origin": "https://app.example"}, http.StatusOK, "*"},
		{"a preflight for DELETE", http.MethodOptions, map[string]string{
			"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}, http.StatusNoContent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/healthz", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || rec.Header().Get("Access-Control-Allow-Origin") != tc.wantAllowOrig {
				t.Errorf("%d, Access-Control-Allow-Origin %q; want %d, %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), tc.wantStatus, tc.wantAllowOrig)
			}
			if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials are allowed")
			}
		})
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("Origin", "https://app.example")
	s.AdminHandler().ServeHTTP(rec, req)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("the admin handler answers with Access-Control-Allow-Origin %q", got)
	}
}
