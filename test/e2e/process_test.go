package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
)

// signetServer is a running `signet serve`.
type signetServer struct {
	URL string
	log string
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startSignet runs `signet serve args... --addr <free port>` with extra
// environment until the test ends and waits for /readyz.
func startSignet(t *testing.T, env []string, args ...string) *signetServer {
	t.Helper()
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "signet.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(signetBin, append(append([]string{"serve"}, args...), "--addr", addr)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &signetServer{URL: "http://" + addr, log: logPath}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("signet log:\n%s", logDigest(string(b)))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil && resp.StatusCode == http.StatusNotFound {
			// /readyz lives on the admin listener: the public one answers /healthz.
			resp.Body.Close()
			resp, err = http.Get(s.URL + "/healthz")
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("signet exited before it was ready:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("signet did not become ready at %s:\n%s", s.URL, b)
	return nil
}

// result is a finished command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a command with extra environment and returns its result.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t, env, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// mustFail runs a command that must fail.
func mustFail(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t, env, name, args...)
	if r.code == 0 {
		t.Fatalf("%s %s succeeded, want failure\nstdout: %s", filepath.Base(name), strings.Join(args, " "), r.stdout)
	}
	return r
}

// fetch GETs a URL and returns the body of a 200.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b.String())
	}
	return b.Bytes()
}

// logProc is a running `signet serve` that a test can stop or kill.
type logProc struct {
	URL     string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startLogServer runs `signet serve args... --addr <free port>` and waits
// until it answers; it is killed when the test ends if still running.
func startLogServer(t *testing.T, args ...string) *logProc {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv is startLogServer with extra environment (Vault's).
func startServerEnv(t *testing.T, env []string, args ...string) *logProc {
	t.Helper()
	return startServerUntil(t, env, "/readyz", args...)
}

// startServerUntil is startServerEnv that waits for waitPath to answer 200
// (/healthz for a server that starts not ready).
func startServerUntil(t *testing.T, env []string, waitPath string, args ...string) *logProc {
	t.Helper()
	return startServerOver(t, env, http.DefaultClient, "http://", waitPath, args...)
}

// startServerOver is startServerUntil for a server reached with hc at
// scheme ("https://" for one serving TLS itself).
func startServerOver(t *testing.T, env []string, hc *http.Client, scheme, waitPath string, args ...string) *logProc {
	t.Helper()
	addr := freeAddr(t)
	p := &logProc{URL: scheme + addr, logPath: filepath.Join(t.TempDir(), "signet.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(signetBin, append(append([]string{"serve"}, args...), "--addr", addr)...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if strings.Contains(p.output(), "WARNING: DATA RACE") { // SIGNET_E2E_RACE=1
			t.Errorf("signet serve %s hit a data race", p.URL)
		}
		if t.Failed() {
			t.Logf("signet serve %s log:\n%s", p.URL, logDigest(p.output()))
		}
	})
	deadline := testclock.WallNow().Add(20 * time.Second)
	for testclock.WallNow().Before(deadline) {
		resp, err := hc.Get(p.URL + waitPath)
		if err == nil && resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			resp, err = hc.Get(p.URL + "/healthz")
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("signet serve exited before it was ready:\n%s", p.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("signet serve did not become ready at %s:\n%s", p.URL, p.output())
	return nil
}

// logDigestLines bounds what logDigest keeps of a log.
const logDigestLines = 40

// logDigest is a server log shortened for a failed test's output, where
// CI shows only the tail: the routine "certificate issued" lines are
// counted, not printed, and only the last logDigestLines other lines are
// kept, so a failure's message is not buried under thousands of them.
func logDigest(log string) string {
	var kept []string
	issued := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"msg":"certificate issued"`) {
			issued++
			continue
		}
		kept = append(kept, line)
	}
	head := fmt.Sprintf("(%d \"certificate issued\" lines left out", issued)
	if len(kept) > logDigestLines {
		head += fmt.Sprintf(", and the first %d other lines", len(kept)-logDigestLines)
		kept = kept[len(kept)-logDigestLines:]
	}
	return head + ")\n" + strings.Join(kept, "")
}

func (p *logProc) output() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// exited reports whether the server has exited, waiting up to grace for
// it to, and if so a summary of why: its exit status and the first lines
// of a panic in its log.
func (p *logProc) exited(grace time.Duration) (bool, string) {
	select {
	case <-p.done:
	case <-time.After(grace):
		return false, ""
	}
	why := p.cmd.ProcessState.String()
	out := p.output()
	if i := strings.Index(out, "panic: "); i >= 0 {
		lines := strings.SplitN(out[i:], "\n", 6)
		why += ":\n" + strings.Join(lines[:min(len(lines), 5)], "\n")
	}
	return true, why
}

// stop interrupts the server and waits for it to exit cleanly.
func (p *logProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("signet serve did not stop within 15s of SIGINT:\n%s", p.output())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("signet serve exited with %d after SIGINT:\n%s", code, p.output())
	}
}

// kill SIGKILLs the server and waits for it to be gone.
func (p *logProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("signet serve did not die within 10s of SIGKILL")
	}
}
