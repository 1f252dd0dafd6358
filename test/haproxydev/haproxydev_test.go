package haproxydev

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// backend is a tiny real HTTP server: /readyz answers 200 while ready,
// 503 otherwise, and /who answers its name.
type backend struct {
	name  string
	addr  string
	ready atomic.Bool
	srv   *http.Server
	done  chan struct{}
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String(), done: make(chan struct{})}
	b.ready.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/who", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(b.done)
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("backend %s: %v", name, err)
		}
	}()
	return b
}

func (b *backend) close() {
	_ = b.srv.Close()
	<-b.done
}

// who GETs /who through the load balancer.
func who(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/who")
	if err != nil {
		t.Fatalf("GET /who: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /who: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /who: %s: %s", resp.Status, body)
	}
	return string(body)
}

func TestRoundRobinAndHealthCheck(t *testing.T) {
	defer goleak.VerifyNone(t)
	a, b := startBackend(t, "alpha"), startBackend(t, "beta")
	defer a.close()
	defer b.close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lb, err := Start(ctx, Options{Backends: []string{a.addr, b.addr}, HealthPath: "/readyz"})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	defer lb.Close() // Close is idempotent.
	if err := lb.WaitBackends(ctx, 2); err != nil {
		t.Fatal(err)
	}

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	seen := map[string]int{}
	for range 10 {
		seen[who(t, c, lb.URL())]++
	}
	if seen["alpha"] == 0 || seen["beta"] == 0 || len(seen) != 2 {
		t.Fatalf("round robin: got %v, want both alpha and beta", seen)
	}

	b.ready.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[string]int{}
		for range 6 {
			got[who(t, c, lb.URL())]++
		}
		if got["alpha"] == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("beta failing /readyz still gets traffic after 5s: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := lb.WaitBackends(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestBadBackend(t *testing.T) {
	if _, err := Start(context.Background(), Options{Backends: []string{"nope"}}); err == nil {
		t.Fatal("Start accepted a backend without a port")
	}
	if _, err := Start(context.Background(), Options{}); err == nil {
		t.Fatal("Start accepted no backends")
	}
}
