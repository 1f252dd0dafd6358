package vaultdev_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/vaultdev"
)

func health(t *testing.T, s *vaultdev.Server) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := s.Health(ctx)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	return code
}

// lookupSelf checks that the root token authenticates against the server.
func lookupSelf(t *testing.T, s *vaultdev.Server) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.Addr+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", s.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("lookup-self: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestLifecycle(t *testing.T) {
	s := vaultdev.Start(t)
	if !strings.HasPrefix(s.Addr, "http://127.0.0.1:") {
		t.Errorf("Addr = %q, want http://127.0.0.1:PORT", s.Addr)
	}
	if s.RootToken == "" || s.RootToken == "root" || s.UnsealKey == "" {
		t.Fatalf("RootToken %q, UnsealKey %q: want a random token and a key", s.RootToken, s.UnsealKey)
	}
	if _, err := os.Stat(s.LogFile); err != nil {
		t.Errorf("log file: %v", err)
	}
	if got := health(t, s); got != http.StatusOK {
		t.Fatalf("health after Start = %d, want 200", got)
	}
	if got := lookupSelf(t, s); got != http.StatusOK {
		t.Fatalf("lookup-self with root token = %d, want 200", got)
	}

	ctx := context.Background()
	if err := s.Seal(ctx); err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if got := health(t, s); got != http.StatusServiceUnavailable {
		t.Fatalf("health when sealed = %d, want 503", got)
	}
	if err := s.Unseal(ctx); err != nil {
		t.Fatalf("Unseal: %v", err)
	}
	// After unsealing, the node needs a moment to become active again.
	deadline := time.Now().Add(10 * time.Second)
	for health(t, s) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("health after Unseal never returned to 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := lookupSelf(t, s); got != http.StatusOK {
		t.Fatalf("lookup-self after unseal = %d, want 200", got)
	}

	if err := s.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := s.Health(fctx)
	cancel()
	if err == nil {
		t.Fatalf("health answered while frozen")
	}
	if err := s.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if got := health(t, s); got != http.StatusOK {
		t.Fatalf("health after Thaw = %d, want 200", got)
	}

	s.Stop()
	s.Stop() // idempotent
	if _, err := s.Health(ctx); err == nil {
		t.Fatalf("health answered after Stop")
	}
	if err := s.Freeze(); err == nil {
		t.Fatalf("Freeze after Stop succeeded")
	}
}

func TestTwoServers(t *testing.T) {
	a, b := vaultdev.Start(t), vaultdev.Start(t)
	if a.Addr == b.Addr || a.RootToken == b.RootToken {
		t.Fatalf("servers share Addr or RootToken: %q %q", a.Addr, b.Addr)
	}
	if health(t, a) != http.StatusOK || health(t, b) != http.StatusOK {
		t.Fatalf("both servers should be healthy")
	}
}

func TestStopFrozen(t *testing.T) {
	s := vaultdev.Start(t)
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop of a frozen server hung")
	}
}

func TestBinaryMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SIGNET_VAULT", "")
	t.Setenv("SIGNET_TOOLS_DIR", dir)
	_, err := vaultdev.Binary()
	if err == nil || !strings.Contains(err.Error(), "test/tools/install.sh vault") {
		t.Fatalf("Binary() error = %v, want one naming test/tools/install.sh vault", err)
	}

	notExec := filepath.Join(dir, "vault")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_VAULT", notExec)
	if _, err := vaultdev.Binary(); err == nil {
		t.Fatalf("Binary() accepted a non-executable SIGNET_VAULT")
	}

	bin := filepath.Join(dir, "vault-"+vaultdev.Version, "vault")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_VAULT", "")
	if got, err := vaultdev.Binary(); err != nil || got != bin {
		t.Fatalf("Binary() = %q, %v; want %q", got, err, bin)
	}
}

// TestClusterReplacesANodeThatCannotJoin: a node that cannot join (here
// killed just before) is replaced by a fresh one, which joins as a voter.
func TestClusterReplacesANodeThatCannotJoin(t *testing.T) {
	c := vaultdev.StartClusterLosingANode(t, 3, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, s := range c.Nodes {
		want := http.StatusTooManyRequests // an unsealed standby
		if i == 0 {
			want = http.StatusOK
		}
		if code, err := s.Health(ctx); err != nil || code != want {
			t.Errorf("node %d: health %d, %v; want %d", i, code, err, want)
		}
	}
}

// TestCluster forms a 3-node raft cluster and fails over: after the active
// node is killed, another becomes active with the data written before.
func TestCluster(t *testing.T) {
	c := vaultdev.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	active, err := c.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active.Stop()
	next, err := c.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == active {
		t.Fatal("the killed node is still the active one")
	}
}
