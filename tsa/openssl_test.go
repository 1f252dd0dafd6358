package tsa

import (
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOpenSSLVerify checks that `openssl ts -verify` accepts the replies
// to DER and JSON requests, with and without embedded certificates. The
// chain comes from the certchain endpoint: its leaf is passed as
// -untrusted (needed when certReq is false), its root as -CAfile.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required for this test: %v", err)
	}
	f := newFixture(t)
	dir := t.TempDir()

	status, _, chainPEM := f.get(t, "/api/v1/timestamp/certchain")
	if status != http.StatusOK {
		t.Fatalf("certchain: status %d", status)
	}
	var blocks [][]byte
	for rest := chainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(b))
	}
	if len(blocks) != 2 {
		t.Fatalf("certchain has %d certificates, want 2", len(blocks))
	}
	leafFile, rootFile := filepath.Join(dir, "tsa.pem"), filepath.Join(dir, "root.pem")
	writeFile(t, leafFile, blocks[0])
	writeFile(t, rootFile, blocks[1])

	for i, c := range successCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ct, body := c.body(t)
			status, _, resp := f.post(t, ct, body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, resp)
			}
			respFile := filepath.Join(dir, c.name+".tsr")
			writeFile(t, respFile, resp)
			// openssl reads the wall clock: verify at the tests' time.
			args := []string{"ts", "-verify", "-attime", strconv.FormatInt(f.now.Unix(), 10), "-in", respFile, "-CAfile", rootFile, "-untrusted", leafFile}
			if i%2 == 0 {
				args = append(args, "-digest", hex.EncodeToString(digestOf(c.hash, c.artifact)))
			} else {
				artifact := filepath.Join(dir, c.name+".bin")
				writeFile(t, artifact, c.artifact)
				args = append(args, "-data", artifact)
			}
			out, err := exec.CommandContext(t.Context(), openssl, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification: OK") {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			// Negative control: another digest must not verify.
			wrong := append(args[:len(args)-2:len(args)-2], "-digest", hex.EncodeToString(digestOf(c.hash, []byte("other"))))
			out, err = exec.CommandContext(t.Context(), openssl, wrong...).CombinedOutput()
			if err == nil || strings.Contains(string(out), "Verification: OK") {
				t.Fatalf("openssl accepted a wrong digest: %s", out)
			}
		})
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}
