package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// TestLogStorageFull runs signet with its issuance log on a small tmpfs
// and fills it: signing answers 503 naming the cause (without the
// directory), /readyz is not ready because of the log, and no certificate
// is issued. Once space returns, signing and /readyz recover, and every
// certificate returned before and after is in the log.
func TestLogStorageFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("TestLogStorageFull mounts a tmpfs and needs root (CI runs it as root)")
	}
	testStart := testclock.WallNow()
	// Every step below is bounded; this is the backstop of the whole test.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	f := newLogFixture(t, "")
	mnt := mountTmpfs(t, "2m")
	// The fixture's config but with the log directory on the tmpfs.
	logDir := filepath.Join(mnt, "log")
	config := f.writeConfig(t, "signet-full.yaml", logDir, f.logKey, "")
	srv := startLogServer(t, "--config", config, "--identity-config", f.identity)

	claims := oidcmock.GitHubClaims(otherRepo)
	var issued []issuedCert
	for range 3 {
		issued = append(issued, certifyV2(t, srv.URL, f.token(t, claims)))
	}
	issuedBefore := issuedTotal(t, srv.URL)

	// Fill the tmpfs until it has no space left.
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	t.Cleanup(func() { _ = os.Remove(filler) })

	// Signing fails with a 503 that names the cause in plain words and
	// does not leak the log's directory.
	for i := range 2 {
		if ctx.Err() != nil {
			t.Fatal("TestLogStorageFull ran out of time")
		}
		start := testclock.WallNow()
		code, h, body := postV2(t, srv.URL, f.token(t, claims))
		took := testclock.WallNow().Sub(start)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("request %d on a full disk: POST /api/v2/signingCert answered %d %s, want 503", i, code, body)
		}
		if h.Get("Retry-After") == "" {
			t.Errorf("request %d on a full disk: the 503 has no Retry-After header", i)
		}
		if h.Get("Signet-Log-Index") != "" {
			t.Errorf("request %d on a full disk: the 503 carries Signet-Log-Index %q", i, h.Get("Signet-Log-Index"))
		}
		var pb struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &pb); err != nil {
			t.Fatalf("request %d on a full disk: the 503 body %q is not a JSON problem: %v", i, body, err)
		}
		msg := strings.ToLower(pb.Message)
		if !strings.Contains(msg, "full") && !strings.Contains(msg, "space") {
			t.Errorf("request %d on a full disk: the 503 message %q does not say that the log's storage is full", i, pb.Message)
		}
		if strings.Contains(string(body), mnt) {
			t.Errorf("request %d on a full disk: the 503 body leaks the log directory %s: %s", i, mnt, body)
		}
		t.Logf("request %d on a full disk: 503 after %v: %s", i, took.Round(time.Millisecond), bytes.TrimSpace(body))
		if dead, why := srv.exited(0); dead {
			t.Fatalf("signet serve died on a full disk: %s\n%s", why, srv.output())
		}
	}

	// /readyz turns not ready because of the log (its answer is cached 2s).
	var readyBody string
	ok := waitFor(ctx, 5*time.Second, func() bool {
		code, body := getReadyz(t, srv.URL)
		readyBody = body
		if code != http.StatusServiceUnavailable {
			return false
		}
		var rz struct {
			Ready  bool              `json:"ready"`
			Checks map[string]string `json:"checks"`
		}
		return json.Unmarshal([]byte(body), &rz) == nil && !rz.Ready && rz.Checks["log"] != "" && rz.Checks["log"] != "ok"
	})
	if !ok {
		t.Fatalf("/readyz on a full disk: still %s after 5s, want 503 with a failing \"log\" check", readyBody)
	}
	t.Logf("/readyz on a full disk: %s", strings.TrimSpace(readyBody))
	if !strings.Contains(readyBody, "storage is full") || strings.Contains(readyBody, "/tmp") {
		t.Errorf("/readyz must name the full storage and no path: %s", readyBody)
	}

	if after := issuedTotal(t, srv.URL); after != issuedBefore {
		t.Errorf("signet_certificates_issued_total went from %v to %v while every request failed on a full disk", issuedBefore, after)
	}
	if dead, why := srv.exited(0); dead {
		t.Fatalf("signet serve died on a full disk: %s\n%s", why, srv.output())
	}

	// Space returns: signing and /readyz recover within 10s.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := testclock.WallNow()
	var last string
	recovered := waitFor(ctx, 10*time.Second, func() bool {
		code, h, body := postV2(t, srv.URL, f.token(t, claims))
		if code != http.StatusOK {
			last = strconv.Itoa(code) + " " + string(bytes.TrimSpace(body))
			return false
		}
		issued = append(issued, issuedFromV2(t, h, body))
		return true
	})
	if !recovered {
		if dead, why := srv.exited(0); dead {
			t.Fatalf("signet serve died after the disk was freed: %s", why)
		}
		t.Fatalf("signing did not recover within 10s of freeing the disk; last answer: %s", last)
	}
	t.Logf("signing recovered %v after the disk was freed", testclock.WallNow().Sub(freed).Round(time.Millisecond))
	issued = append(issued, certifyV2(t, srv.URL, f.token(t, claims)))
	if !waitFor(ctx, 10*time.Second, func() bool {
		code, body := getReadyz(t, srv.URL)
		readyBody = body
		return code == http.StatusOK
	}) {
		t.Fatalf("/readyz did not recover within 10s of freeing the disk: %s", readyBody)
	}
	if got, want := issuedTotal(t, srv.URL), issuedBefore+2; got != want {
		t.Errorf("signet_certificates_issued_total is %v after two more certificates, want %v", got, want)
	}

	t.Logf("the first certificate after the disk was freed has log index %d (%d were issued before)", issued[3].index, 3)
	checkUniqueIndices(t, issued)
	proveAll(t, srv.URL, f.vkey, issued)
	if dead, why := srv.exited(0); dead {
		t.Fatalf("signet serve exited: %s", why)
	}

	// A log directory that went through a full disk still opens: signet
	// restarts on it, appends, and every certificate is still proven.
	srv.stop(t)
	srv = startLogServer(t, "--config", config, "--identity-config", f.identity)
	issued = append(issued, certifyV2(t, srv.URL, f.token(t, claims)))
	checkUniqueIndices(t, issued)
	proveAll(t, srv.URL, f.vkey, issued)
	t.Logf("TestLogStorageFull took %v", testclock.WallNow().Sub(testStart).Round(time.Millisecond))
}

// mountTmpfs mounts a tmpfs of size on a new temporary directory, which
// is unmounted when the test ends, whatever happens.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -t tmpfs -o size=%s tmpfs %s: %v: %s (the test needs root and mount; CI runs it as root)", size, dir, err, out)
	}
	// Registered after t.TempDir, so it runs before its removal; and
	// before the server starts, so it runs after the server is killed.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount -l %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes path until its file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	chunk := make([]byte, 64<<10)
	for written := 0; ; {
		n, err := fh.Write(chunk)
		written += n
		if errors.Is(err, syscall.ENOSPC) {
			// Fill the last pages byte-sized chunks would still take.
			for _, sz := range []int{4096, 512, 1} {
				for {
					if _, err := fh.Write(chunk[:sz]); err != nil {
						break
					}
				}
			}
			t.Logf("filled the tmpfs with %d KiB", written>>10)
			return
		}
		if err != nil {
			t.Fatalf("filling %s: %v, want ENOSPC", path, err)
		}
		if written > 64<<20 {
			t.Fatalf("filling %s: wrote %d bytes without running out of space", path, written)
		}
	}
}

// postV2 asks POST /api/v2/signingCert for a certificate and returns the
// answer whatever it is.
func postV2(t *testing.T, server, token string) (int, http.Header, []byte) {
	t.Helper()
	pub, proof := keyAndProof(t, token)
	return postCert(t, server+"/api/v2/signingCert", token, map[string]any{
		"credentials": map[string]string{"oidcIdentityToken": token},
		"publicKeyRequest": map[string]any{
			"publicKey":         map[string]string{"algorithm": "ECDSA", "content": pub},
			"proofOfPossession": proof,
		},
	})
}

// issuedFromV2 reads the certificate of a 200 from /api/v2/signingCert.
func issuedFromV2(t *testing.T, h http.Header, body []byte) issuedCert {
	t.Helper()
	const via = "/api/v2/signingCert"
	chain, err := client.SigningCertChain(body)
	if err != nil {
		t.Fatalf("%s: %v in %s", via, err, body)
	}
	return issuedCert{via: via, der: chain[0].Raw, index: logIndexOf(t, via, h)}
}

// getReadyz returns the status and body of GET /readyz.
func getReadyz(t *testing.T, server string) (int, string) {
	t.Helper()
	resp, err := logHTTP.Get(server + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// issuedTotal sums every series of signet_certificates_issued_total.
func issuedTotal(t *testing.T, server string) float64 {
	t.Helper()
	return metricSum(t, server, "signet_certificates_issued_total")
}

// metricSum sums every series of the metric name on server's /metrics.
func metricSum(t *testing.T, server, name string) float64 {
	t.Helper()
	resp, err := logHTTP.Get(server + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return sum
}

// waitFor polls cond every 200ms until it holds, within d and ctx.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := testclock.WallNow().Add(d)
	for {
		if cond() {
			return true
		}
		if !testclock.WallNow().Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}
