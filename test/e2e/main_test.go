// Package e2e tests the real signet binary with real clients: the binary
// built from this tree, mock OIDC issuers over HTTP, cosign, sigstore-go
// and openssl. Tools come from test/tools/install.sh; a missing tool fails
// the test, it never skips it.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet-dev/signet/test/testclock"
)

// signetBin is the binary built once by TestMain.
var signetBin string

func TestMain(m *testing.M) {
	if testclock.Shift() != 0 {
		// The binary, Vault and the clients read the wall clock; a shifted
		// test clock would only make them disagree with the tests.
		fmt.Fprintf(os.Stderr, "e2e: %s is set; these tests run real processes on the wall clock, skipping\n", testclock.ShiftVar)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "signet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signetBin = filepath.Join(dir, "signet")
	args := []string{"build", "-o", signetBin}
	if os.Getenv("SIGNET_E2E_RACE") != "" { // SIGNET_E2E_RACE=1: the binary under the race detector
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/signet")...)
	build.Dir = "../.."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build signet:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// toolPath finds a test tool installed by test/tools/install.sh: the
// environment variable env, else the cache directory's versioned path.
func toolPath(t *testing.T, env, versioned string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	dir := os.Getenv("SIGNET_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "signet-tools")
	}
	p := filepath.Join(dir, versioned)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (%v): run test/tools/install.sh, or set %s", versioned, err, env)
	}
	return p
}

func cosignPath(t *testing.T) string {
	return toolPath(t, "SIGNET_COSIGN", "cosign-v3.1.3/cosign")
}

func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is not installed: apt-get install openssl")
	}
	return p
}
