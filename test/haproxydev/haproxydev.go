// Package haproxydev starts a real HAProxy for tests: an HTTP load balancer
// on a loopback port that spreads requests round robin over several signet
// replicas and health-checks them, stopped by Close. HAProxy comes from
// Debian's haproxy package, which test/tools/install.sh installs.
package haproxydev

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options says what the load balancer fronts and how it checks it.
type Options struct {
	// Backends are the host:port of each backend, on 127.0.0.1.
	Backends []string
	// HealthPath is checked with GET on every backend, e.g. "/readyz";
	// only status 200 counts as healthy. Empty means a plain TCP check.
	HealthPath string
	// Port is the frontend's loopback port; 0 picks a free one. Give one
	// when the backends must know the balancer's URL before it starts
	// (signet's public-url).
	Port int
	// CheckInterval is the time between health checks (default 200ms).
	// A backend goes down after 2 failed checks and up after 1 good one.
	CheckInterval time.Duration
}

// LB is a running HAProxy. A request whose connection to a backend fails
// (the backend is gone and not yet marked down) is retried on another
// backend, as operators configure HAProxy (retries 3, option redispatch,
// retry-on conn-failure: safe, the request never reached a backend); a
// request a backend received is never retried, so losing a backend costs
// only the requests in flight on it.
type LB struct {
	url    string
	dir    string
	sock   string
	logF   *os.File
	cmd    *exec.Cmd
	done   chan struct{}
	closer sync.Once
}

// Start runs HAProxy in front of opts.Backends and returns once its
// frontend accepts connections (within 10s). ctx bounds only the start;
// the process runs until Close.
func Start(ctx context.Context, opts Options) (*LB, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	if len(opts.Backends) == 0 {
		return nil, errors.New("haproxydev: no backends")
	}
	for _, b := range opts.Backends {
		if _, _, err := net.SplitHostPort(b); err != nil || strings.ContainsAny(b, " \t\n") {
			return nil, fmt.Errorf("haproxydev: backend %q is not host:port", b)
		}
	}
	if opts.HealthPath != "" && (!strings.HasPrefix(opts.HealthPath, "/") || strings.ContainsAny(opts.HealthPath, " \t\n")) {
		return nil, fmt.Errorf("haproxydev: health path %q must start with / and have no spaces", opts.HealthPath)
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 200 * time.Millisecond
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "signet-haproxy-")
	if err != nil {
		return nil, err
	}
	l := &LB{url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, sock: filepath.Join(dir, "admin.sock"), done: make(chan struct{})}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(config(opts, port, dir, l.sock)), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxydev: invalid config: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "haproxy.log")
	if l.logF, err = os.Create(logPath); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// -db keeps HAProxy in the foreground, so Close can kill and wait.
	l.cmd = exec.Command(bin, "-db", "-f", cfg)
	l.cmd.Stdout, l.cmd.Stderr = l.logF, l.logF
	if err := l.cmd.Start(); err != nil {
		_ = l.logF.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxydev: start: %v", err)
	}
	go func() { _ = l.cmd.Wait(); close(l.done) }()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return l, nil
		}
		select {
		case <-l.done:
			log, _ := os.ReadFile(logPath)
			l.Close()
			return nil, fmt.Errorf("haproxydev: haproxy exited:\n%s", tail(string(log)))
		case <-ctx.Done():
			log, _ := os.ReadFile(logPath)
			l.Close()
			return nil, fmt.Errorf("haproxydev: not listening on %s in time: %v\n%s", addr, err, tail(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the load balancer's base URL, http://127.0.0.1:PORT.
func (l *LB) URL() string { return l.url }

// Log is what HAProxy has printed so far: its warnings, every change of
// a backend's state with the reason ("Server be/s2 is DOWN, reason:
// Layer4 connection problem, ..."), and a line per request in HAProxy's
// HTTP log format (backend/server, timers, status, termination state).
func (l *LB) Log() string {
	b, _ := os.ReadFile(filepath.Join(l.dir, "haproxy.log"))
	return string(b)
}

// Close kills HAProxy, waits for it and removes its directory; calling it
// again does nothing.
func (l *LB) Close() {
	l.closer.Do(func() {
		_ = l.cmd.Process.Kill()
		<-l.done
		_ = l.logF.Close()
		_ = os.RemoveAll(l.dir)
	})
}

// WaitBackends waits until exactly up backends are UP in HAProxy's view
// (those in a "going down" state still count), or ctx ends.
func (l *LB) WaitBackends(ctx context.Context, up int) error {
	var last string
	for {
		n, err := l.upCount()
		if err == nil && n == up {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d up", n)
		}
		select {
		case <-l.done:
			return errors.New("haproxydev: haproxy is not running")
		case <-ctx.Done():
			return fmt.Errorf("haproxydev: waiting for %d backends up: %v (last: %s)", up, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// upCount asks the stats socket how many servers of backend "be" are UP.
func (l *LB) upCount() (int, error) {
	c, err := net.DialTimeout("unix", l.sock, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return 0, err
	}
	r := csv.NewReader(bufio.NewReader(c))
	r.FieldsPerRecord, r.Comment = -1, '#'
	rows, err := r.ReadAll()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range rows {
		// Fields: 0 pxname, 1 svname, 17 status.
		if len(row) > 17 && row[0] == "be" && row[1] != "BACKEND" && strings.HasPrefix(row[17], "UP") {
			n++
		}
	}
	return n, nil
}

// config is haproxy.cfg: no daemon, no chroot or user switch, an HTTP log
// line per request, retries of failed connections only, one
// health-checked server per backend.
func config(opts Options, port int, dir, sock string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n\tpidfile %s\n\tstats socket %s mode 600 level admin\n\tlog stderr format raw local0\n\n",
		filepath.Join(dir, "haproxy.pid"), sock)
	b.WriteString("defaults\n\tmode http\n\tlog global\n\toption httplog\n\ttimeout connect 2s\n\ttimeout client 30s\n\ttimeout server 30s\n" +
		"\tretries 3\n\toption redispatch 1\n\tretry-on conn-failure\n\n")
	fmt.Fprintf(&b, "frontend fe\n\tbind 127.0.0.1:%d\n\tdefault_backend be\n\n", port)
	b.WriteString("backend be\n\tbalance roundrobin\n")
	if opts.HealthPath != "" {
		fmt.Fprintf(&b, "\toption httpchk GET %s\n\thttp-check expect status 200\n", opts.HealthPath)
	}
	inter := max(opts.CheckInterval.Milliseconds(), 1)
	for i, addr := range opts.Backends {
		fmt.Fprintf(&b, "\tserver s%d %s check inter %dms fall 2 rise 1\n", i+1, addr, inter)
	}
	return b.String()
}

// binary finds haproxy: $SIGNET_HAPROXY, then PATH, then /usr/sbin.
func binary() (string, error) {
	if p := os.Getenv("SIGNET_HAPROXY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("haproxydev: SIGNET_HAPROXY: %v", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/haproxy"); err == nil { // not on every PATH
		return p, nil
	}
	return "", errors.New("haproxydev: haproxy is not installed: run test/tools/install.sh (it installs Debian's haproxy)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
