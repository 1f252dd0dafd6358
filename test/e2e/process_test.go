package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
			t.Logf("signet log:\n%s", b)
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
