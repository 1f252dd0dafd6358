package httpapi_test

import (
	"crypto/elliptic"
	"net/http"
	"strconv"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/harness"
)

func TestRateLimit(t *testing.T) {
	env := harness.Start(t, harness.Options{Configure: func(c *config.Config) {
		c.RateLimit.PerSecond, c.RateLimit.Burst = 0.1, 2
	}})
	token, _ := githubToken(t, env, nil)
	req := signRequest(t, newKey(t, elliptic.P256()), sub, []byte("a"))
	for i := range 2 {
		if resp := env.PostJSON(t, "/api/v1/sign", token, req); resp.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, resp.Status, resp.Body)
		}
	}
	before := issuedCount(t, env)
	resp := env.PostJSON(t, "/api/v1/sign", token, req)
	if resp.Status != http.StatusTooManyRequests {
		t.Fatalf("over the burst: status %d, want 429: %s", resp.Status, resp.Body)
	}
	var pb problem.Body
	resp.JSON(t, &pb)
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || pb.Code != "rate_limited" {
		t.Errorf("Retry-After %q, body %s", resp.Header.Get("Retry-After"), resp.Body)
	}
	if after := issuedCount(t, env); after != before {
		t.Errorf("a rate-limited request was issued a certificate: %s -> %s", before, after)
	}
	if r := env.Do(t, http.MethodGet, "/api/v1/trustedroot", nil, nil); r.Status != http.StatusOK {
		t.Errorf("GET limited too: %d", r.Status)
	}
}
