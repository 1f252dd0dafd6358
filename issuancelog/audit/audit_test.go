package audit_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/issuancelog/audit"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// newLog opens a log of n certificates in a new directory.
func newLog(t *testing.T, s issuancelog.Signer, n int) (*issuancelog.Log, string) {
	t.Helper()
	dir := t.TempDir()
	l := logtest.Open(t, logtest.Config(dir), s)
	ca := logtest.NewCA(t)
	for range n {
		logtest.Append(t, l, ca.Leaf(t, "alice@example.com", "https://issuer.example"))
	}
	return l, dir
}

// waitSize waits for the log to publish a checkpoint of size n.
func waitSize(t *testing.T, c *audit.Client, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cp, err := c.Checkpoint(t.Context()); err == nil && cp.Size == n {
			return
		}
	}
	t.Fatalf("no checkpoint of size %d within 5s", n)
}

// TestVerify follows a growing log, then fails on a checkpoint altered on
// disk and on one signed by another key, each time saying so.
func TestVerify(t *testing.T) {
	s := logtest.Signer(t, logtest.Origin)
	l, dir := newLog(t, s, 3)
	base, hc := logtest.Serve(t, l)
	c, err := audit.New(base, s.VerifierKey()+"\n", hc)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	waitSize(t, c, 3)
	res, err := c.Verify(t.Context(), state)
	if err != nil || res.Previous != nil || res.Current.Size != 3 {
		t.Fatalf("first Verify = %+v, %v", res, err)
	}
	logtest.Append(t, l, logtest.NewCA(t).Leaf(t, "bob@example.com", "https://issuer.example"))
	waitSize(t, c, 4)
	res, err = c.Verify(t.Context(), state)
	if err != nil || res.Previous == nil || res.Previous.Size != 3 || res.Current.Size != 4 {
		t.Fatalf("second Verify = %+v, %v", res, err)
	}
	// Offline, from the directory itself.
	if _, err := audit.Verify(t.Context(), "file://"+dir, s.VerifierKey(), state); err != nil {
		t.Fatalf("offline Verify: %v", err)
	}

	good, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitN(good, []byte("\n"), 4)
	lines[2] = []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	writeFile(t, filepath.Join(dir, "checkpoint"), bytes.Join(lines, []byte("\n")))
	if _, err := c.Verify(t.Context(), state); err == nil || !strings.Contains(err.Error(), "checkpoint signature is invalid") {
		t.Errorf("Verify of an altered checkpoint = %v", err)
	}

	other, _ := newLog(t, logtest.Signer(t, logtest.Origin), 1)
	otherBase, _ := logtest.Serve(t, other)
	if _, err := audit.Verify(t.Context(), otherBase, s.VerifierKey(), state); err == nil || !strings.Contains(err.Error(), "not signed by the pinned log key") {
		t.Errorf("Verify of another key's checkpoint = %v", err)
	}
	writeFile(t, filepath.Join(dir, "checkpoint"), good)
	if _, err := c.Verify(t.Context(), state); err != nil {
		t.Errorf("Verify after restoring the checkpoint = %v", err)
	}
}

// TestVerifyFork serves, under one URL and key, a log and then another
// history: a longer one and a shorter one. Both are caught.
func TestVerifyFork(t *testing.T) {
	s := logtest.Signer(t, logtest.Origin)
	short, _ := newLog(t, s, 3)
	long, _ := newLog(t, s, 5)
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.StripPrefix("/log", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.Load()).ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	c, err := audit.New(srv.URL+"/log", s.VerifierKey(), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		first, second *issuancelog.Log
		want          string
	}{
		{"rewritten", short, long, "is not a prefix"},
		{"rolled back", long, short, "shrank from 5 entries to 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			first, second := tc.first.Handler(), tc.second.Handler()
			h.Store(&first)
			waitSize(t, c, map[bool]uint64{true: 3, false: 5}[tc.first == short])
			if _, err := c.Verify(t.Context(), state); err != nil {
				t.Fatal(err)
			}
			h.Store(&second)
			waitSize(t, c, map[bool]uint64{true: 3, false: 5}[tc.second == short])
			_, err := c.Verify(t.Context(), state)
			if !errors.Is(err, audit.ErrInconsistent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want ErrInconsistent saying %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(state, "signet.test%2Flog+"+s.VerifierKey()[len(logtest.Origin)+1:len(logtest.Origin)+9]+".checkpoint.conflict")); err != nil {
				t.Errorf("the conflicting checkpoint was not kept: %v", err)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
