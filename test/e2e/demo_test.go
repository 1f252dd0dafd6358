package e2e

import (
	"strings"
	"testing"
)

// TestREADMEQuickstart runs the README's first command, test/demo.sh, on a
// free port: it must start signet --dev, sign and verify.
func TestREADMEQuickstart(t *testing.T) {
	out := mustRun(t, []string{"SIGNET_DEMO_ADDR=" + freeAddr(t)}, "bash", "../demo.sh")
	for _, want := range []string{"Signed ", "Verified OK", "BuildSignerURI: https://github.com/acme/widgets/"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s\n%s", want, out.stdout, out.stderr)
		}
	}
}
