package httpserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDrainMakesReadyzFailAtOnce(t *testing.T) {
	s := &Server{Ready: map[string]ReadinessCheck{"ca": func(context.Context) error { return nil }}}
	get := func(path string) int {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if code := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d before draining", code)
	}
	s.Drain()
	// The 200 above is cached for two seconds; draining must not wait for it.
	if code := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while draining, want 503", code)
	}
	if code := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d while draining: the process is alive", code)
	}
}
