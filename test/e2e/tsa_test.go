package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/pki"
)

// TestOpenSSLVerifiesTimestamps asks the real binary for timestamps with
// requests made by openssl, in the DER and the JSON form, and has
// `openssl ts -verify` check them against the chain from /certchain.
func TestOpenSSLVerifiesTimestamps(t *testing.T) {
	openssl := opensslPath(t)
	srv := startSignet(t, nil, "--dev")
	dir := t.TempDir()
	data := filepath.Join(dir, "artifact.bin")
	if err := os.WriteFile(data, []byte("timestamp me"), 0o644); err != nil {
		t.Fatal(err)
	}
	chain, err := pki.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/timestamp/certchain"))
	if err != nil || len(chain) < 2 || chain[0].IsCA {
		t.Fatalf("certchain: want TSA leaf first then CA certificates: %v", err)
	}
	leafPath, rootPath := filepath.Join(dir, "tsa.pem"), filepath.Join(dir, "root.pem")
	if err := os.WriteFile(leafPath, pki.EncodeCertificatesPEM(chain[:len(chain)-1]), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootPath, pki.EncodeCertificatesPEM(chain[len(chain)-1:]), 0o644); err != nil {
		t.Fatal(err)
	}

	query := filepath.Join(dir, "req.tsq")
	mustRun(t, nil, openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
	der, err := os.ReadFile(query)
	if err != nil {
		t.Fatal(err)
	}
	digest := strings.Fields(mustRun(t, nil, openssl, "dgst", "-sha256", "-r", data).stdout)[0]
	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{
		{"DER request", "application/timestamp-query", der},
		{"JSON request", "application/json", []byte(`{"artifactHash":"` + b64Hex(t, digest) + `","hashAlgorithm":"sha256","certificates":false,"nonce":1234567}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/v1/timestamp", tc.contentType, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var reply bytes.Buffer
			if _, err := reply.ReadFrom(resp.Body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
				t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), reply.String())
			}
			replyPath := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".tsr")
			if err := os.WriteFile(replyPath, reply.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out := mustRun(t, nil, openssl, "ts", "-verify", "-data", data, "-in", replyPath, "-CAfile", rootPath, "-untrusted", leafPath)
			if !strings.Contains(out.stdout, "Verification: OK") {
				t.Errorf("openssl: %s%s", out.stdout, out.stderr)
			}
			other := filepath.Join(dir, "other.bin")
			if err := os.WriteFile(other, []byte("something else"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustFail(t, nil, openssl, "ts", "-verify", "-data", other, "-in", replyPath, "-CAfile", rootPath, "-untrusted", leafPath)
		})
	}
}

// b64Hex turns a hex digest into base64, as the JSON form wants it.
func b64Hex(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
