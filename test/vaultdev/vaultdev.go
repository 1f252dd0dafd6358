// Package vaultdev runs a real HashiCorp Vault dev server for tests.
//
// The server is the vault binary that test/tools/install.sh builds (see
// Binary); it listens on a free loopback port with in-memory storage, so
// every Start gets a fresh, unsealed Vault with a random root token. The
// helper speaks to Vault over plain HTTP with net/http only, so it adds no
// dependency to signet's go.mod.
//
// A test that needs Vault fails, never skips, when the binary is missing:
// run `eval "$(test/tools/install.sh vault)"` first.
package vaultdev

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Vault version that test/tools/install.sh installs.
const Version = "v1.21.0"

// startTimeout bounds how long Start waits for the server to be ready.
const startTimeout = 20 * time.Second

// Server is a running `vault server -dev` on 127.0.0.1.
type Server struct {
	// Addr is the server's base URL, http://127.0.0.1:PORT.
	Addr string
	// RootToken is the dev server's root token (random per server).
	RootToken string
	// UnsealKey is the single unseal key the dev server printed.
	UnsealKey string
	// LogFile is the path of the server's combined stdout/stderr.
	LogFile string
	// CACert is the PEM CA of a TLS server (StartTLS); empty for plain HTTP.
	CACert string

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	stopOnce sync.Once
	client   *http.Client
}

// Binary finds the vault binary: $SIGNET_VAULT if set, else
// $SIGNET_TOOLS_DIR (or ~/.cache/signet-tools)/vault-v1.21.0/vault. The
// error names `test/tools/install.sh vault` when the binary is absent.
func Binary() (string, error) {
	const hint = "run `eval \"$(test/tools/install.sh vault)\"` from the repository root"
	if p := os.Getenv("SIGNET_VAULT"); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("vaultdev: SIGNET_VAULT=%s: %v; %s", p, err, hint)
		}
		return p, nil
	}
	dir := os.Getenv("SIGNET_TOOLS_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("vaultdev: no SIGNET_VAULT, no SIGNET_TOOLS_DIR and no home directory: %v; %s", err, hint)
		}
		dir = filepath.Join(home, ".cache", "signet-tools")
	}
	p := filepath.Join(dir, "vault-"+Version, "vault")
	if err := checkExecutable(p); err != nil {
		return "", fmt.Errorf("vaultdev: vault %s not installed at %s (%v); %s", Version, p, err, hint)
	}
	return p, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// noStoreToken caches, per binary, whether `vault server` knows
// -dev-no-store-token.
var noStoreToken sync.Map // string -> bool

func supportsNoStoreToken(bin string) bool {
	if v, ok := noStoreToken.Load(bin); ok {
		return v.(bool)
	}
	out, _ := exec.Command(bin, "server", "-h").CombinedOutput()
	ok := bytes.Contains(out, []byte("-dev-no-store-token"))
	noStoreToken.Store(bin, ok)
	return ok
}

// Start launches `vault server -dev` on a free 127.0.0.1 port with a random
// root token, its output captured to a log file in t.TempDir(), and waits
// (up to 20 s) until GET /v1/sys/health answers 200. t.Cleanup stops it.
// Start calls t.Fatal, never t.Skip, if the binary is missing or the server
// does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

// StartTLS is Start with `-dev-tls`: Vault serves HTTPS with a certificate
// from a CA it generates, written to Server.CACert.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return startServer(t, true)
}

func startServer(t testing.TB, tls bool) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var lastErr error
	// A dev server also listens on PORT+1 (its cluster port); both are probed
	// free, but another process can take them before Vault binds, so retry.
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := start(bin, dir, attempt, tls)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("vaultdev: starting %s: %v", bin, lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

func start(bin, dir string, attempt int, tlsOn bool) (*Server, error) {
	port, err := FreePortPair(nil)
	if err != nil {
		return nil, err
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"server", "-dev",
		"-dev-root-token-id=" + rand.Text(),
		"-dev-listen-address=" + listen,
	}
	if supportsNoStoreToken(bin) {
		args = append(args, "-dev-no-store-token")
	}
	certDir := filepath.Join(dir, fmt.Sprintf("tls-%d", attempt))
	if tlsOn {
		if err := os.MkdirAll(certDir, 0o700); err != nil {
			return nil, err
		}
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+certDir)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("vault-%d.log", attempt))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = serverEnv(dir)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	scheme := "http://"
	if tlsOn {
		scheme = "https://"
	}
	s := &Server{
		Addr:      scheme + listen,
		RootToken: strings.TrimPrefix(args[2], "-dev-root-token-id="),
		LogFile:   logPath,
		cmd:       cmd,
		exited:    make(chan struct{}),
		client:    &http.Client{Timeout: 10 * time.Second},
	}
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			log := readLog(logPath)
			if strings.Contains(log, "address already in use") {
				return nil, fmt.Errorf("%w: %s", errAddrInUse, tail(log))
			}
			return nil, fmt.Errorf("vault exited during startup (%v); log %s:\n%s", waitErr, logPath, tail(log))
		default:
		}
		if s.UnsealKey == "" {
			s.UnsealKey = parseUnsealKey(readLog(logPath))
		}
		if tlsOn && s.CACert == "" {
			s.trustCA(filepath.Join(certDir, "vault-ca.pem"))
		}
		if s.UnsealKey != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			code, _ := s.Health(ctx)
			cancel()
			if code == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("vault not ready within %v; log %s:\n%s", startTimeout, logPath, tail(readLog(logPath)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trustCA makes the helper's client trust the dev TLS CA once Vault has
// written it.
func (s *Server) trustCA(path string) {
	pemData, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return
	}
	s.CACert = path
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// serverEnv is the test's environment without VAULT_* variables (which would
// change the dev server's addresses or behaviour), with HOME in dir so that
// no token helper writes to the developer's ~/.vault-token.
func serverEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir)
}

// FreePortPair returns a port P on 127.0.0.1 such that P and P+1 (a
// Vault's API and cluster ports) were both free a moment ago and neither
// is in avoid.
func FreePortPair(avoid map[int]bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if avoid[p] || avoid[p+1] {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two adjacent free ports on 127.0.0.1")
}

var unsealKeyRE = regexp.MustCompile(`(?m)^Unseal Key: (\S+)`)

func parseUnsealKey(log string) string {
	if m := unsealKeyRE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// tail returns the last 40 lines of log.
func tail(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// Health returns the HTTP status of GET /v1/sys/health: 200 when unsealed
// and active, 503 when sealed (Vault's defaults).
func (s *Server) Health(ctx context.Context) (int, error) {
	resp, err := s.do(ctx, http.MethodGet, "/v1/sys/health", nil, false)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Seal seals the server (PUT /v1/sys/seal with the root token).
func (s *Server) Seal(ctx context.Context) error {
	resp, err := s.do(ctx, http.MethodPut, "/v1/sys/seal", nil, true)
	if err != nil {
		return err
	}
	return checkStatus("seal", resp)
}

// Unseal unseals the server with its unseal key (PUT /v1/sys/unseal) and
// checks that Vault reports itself unsealed.
func (s *Server) Unseal(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"key": s.UnsealKey})
	resp, err := s.do(ctx, http.MethodPut, "/v1/sys/unseal", body, false)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return checkStatus("unseal", resp)
	}
	defer resp.Body.Close()
	var st struct {
		Sealed bool `json:"sealed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("vaultdev: unseal: decoding response: %v", err)
	}
	if st.Sealed {
		return errors.New("vaultdev: unseal: vault still sealed")
	}
	return nil
}

func (s *Server) do(ctx context.Context, method, path string, body []byte, auth bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.Addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if auth {
		req.Header.Set("X-Vault-Token", s.RootToken)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.client.Do(req)
}

func checkStatus(op string, resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("vaultdev: %s: HTTP %d: %s", op, resp.StatusCode, strings.TrimSpace(string(b)))
}

// Stop kills the server (also when frozen) and waits for it to exit. It is
// safe to call more than once; Start registers it with t.Cleanup.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.client.CloseIdleConnections()
	})
}
