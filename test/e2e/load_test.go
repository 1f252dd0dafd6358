package e2e

import (
	"strings"
	"testing"
)

// TestLoadCommand runs `signet load` against the real binary in dev mode,
// with tokens from the dev runner endpoint: a bounded run that must finish
// with every request signed and report throughput and latency.
func TestLoadCommand(t *testing.T) {
	srv := startSignet(t, nil, "--dev")
	runner := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + srv.URL + "/dev/oidc/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=signet-dev-insecure"}
	out := mustRun(t, runner, signetBin, "load", "--server", srv.URL, "--clients", "4", "--requests", "40")
	for _, want := range []string{"mode: one-shot, requests: 40, clients: 4", "bundles/s: ", "latency p50: ", "errors: 0"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("load output lacks %q:\n%s", want, out.stdout)
		}
	}
	// cosign's two-request flow: signingCert, then a timestamp.
	out = mustRun(t, runner, signetBin, "load", "--server", srv.URL, "--mode", "fulcio-tsa", "--clients", "2", "--requests", "20")
	for _, want := range []string{"mode: fulcio-tsa, requests: 20, clients: 2", "bundles/s: ", "errors: 0"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("load --mode fulcio-tsa output lacks %q:\n%s", want, out.stdout)
		}
	}
	wrongTSA := mustFail(t, runner, signetBin, "load", "--server", srv.URL, "--mode", "fulcio-tsa", "--requests", "2", "--tsa-url", srv.URL+"/api/v1/nothing")
	if !strings.Contains(wrongTSA.stdout, "errors: 2") {
		t.Errorf("a TSA URL that answers 404: want every request counted as an error:\n%s%s", wrongTSA.stdout, wrongTSA.stderr)
	}
	r := mustFail(t, nil, signetBin, "load", "--server", srv.URL, "--requests", "3", "--identity-token", "not.a.jwt")
	if !strings.Contains(r.stdout, "errors: 3") {
		t.Errorf("bad token: want every request counted as an error:\n%s%s", r.stdout, r.stderr)
	}
}
