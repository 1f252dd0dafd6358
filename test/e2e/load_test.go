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
	for _, want := range []string{"requests: 40, clients: 4", "bundles/s: ", "latency p50: ", "errors: 0"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("load output lacks %q:\n%s", want, out.stdout)
		}
	}
	r := mustFail(t, nil, signetBin, "load", "--server", srv.URL, "--requests", "3", "--identity-token", "not.a.jwt")
	if !strings.Contains(r.stdout, "errors: 3") {
		t.Errorf("bad token: want every request counted as an error:\n%s%s", r.stdout, r.stderr)
	}
}
