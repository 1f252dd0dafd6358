package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/identity"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// TestIssuerResponsesNeverReachTheClient: a forged token whose iss matches
// a meta-issuer pattern makes signet fetch that URL; what the URL answers
// (here an internal service's 403 with a secret body) is logged, and the
// client gets only a fixed 503, in every flow.
func TestIssuerResponsesNeverReachTheClient(t *testing.T) {
	const secret = "SECRET-internal-service-body-91c2"
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, secret, http.StatusForbidden)
	}))
	t.Cleanup(internal.Close)
	logs := &lockedBuffer{}
	env := harness.Start(t, harness.Options{Log: slog.New(slog.NewJSONHandler(logs, nil)), Configure: func(cfg *config.Config) {
		cfg.Identity.MetaIssuers = map[string]identity.Issuer{
			internal.URL + "/*": {ClientID: "sigstore", Type: identity.TypeGitHubWorkflow},
		}
	}})
	c := oidcmock.GitHubClaims("acme/widgets")
	c["iss"] = internal.URL + "/metadata"
	token, err := env.GitHub.MintWith(c, oidcmock.MintOptions{UnpublishedKey: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `identity token issuer "` + internal.URL + `/metadata" is unavailable; try again later`
	for i, resp := range policyRequests(t, env, token, c["sub"].(string)) {
		var pb problem.Body
		resp.JSON(t, &pb)
		if resp.Status != http.StatusServiceUnavailable || pb.Message != want || strings.Contains(string(resp.Body), secret) {
			t.Errorf("flow %d: status %d %s, want 503 %q without the issuer's answer", i, resp.Status, resp.Body, want)
		}
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !strings.Contains(logs.b.String(), secret) {
		t.Errorf("the issuer's answer is not logged for the operator:\n%s", logs.b.String())
	}
}
