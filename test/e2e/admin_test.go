package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminListener moves /readyz and /metrics to admin-listen: the public
// listener no longer serves them, the admin one does, and signing works.
func TestAdminListener(t *testing.T) {
	admin := freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte("admin-listen: "+admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startSignet(t, nil, "--config", cfg)
	status := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{srv.URL + "/metrics", http.StatusNotFound},
		{srv.URL + "/readyz", http.StatusNotFound},
		{srv.URL + "/healthz", http.StatusOK},
		{srv.URL + "/api/v1/trustedroot", http.StatusOK},
		{"http://" + admin + "/metrics", http.StatusOK},
		{"http://" + admin + "/readyz", http.StatusOK},
		{"http://" + admin + "/api/v1/trustedroot", http.StatusNotFound},
	} {
		if got := status(tc.url); got != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, got, tc.want)
		}
	}
	metrics := fetch(t, "http://"+admin+"/metrics")
	if !strings.Contains(string(metrics), "signet_http_requests_total") {
		t.Error("admin /metrics lacks signet's request counter")
	}
	// The memory chains of a server started now live for years: the
	// gauges count down from there.
	for _, authority := range []string{"ca", "tsa"} {
		v := metricValue(t, metrics, `signet_certificate_expiry_seconds{authority="`+authority+`"}`)
		if v < 24*3600 || v > 11*365*24*3600 {
			t.Errorf("%s chain expires in %v s, want the memory chain's years", authority, v)
		}
	}
}
