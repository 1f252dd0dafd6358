package issuancelog_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/issuancelog/internal/logtest"
)

// TestReadyReportsFailingAppends: when appends fail although the
// directory takes writes (here the partial entry bundle tessera extends
// is gone), Ready reports not ready, and an append that succeeds again
// makes it ready.
func TestReadyReportsFailingAppends(t *testing.T) {
	ca := logtest.NewCA(t)
	dir := t.TempDir()
	l := logtest.Open(t, logtest.Config(dir), logtest.Signer(t, logtest.Origin))
	leaf := func() []byte { return ca.Leaf(t, "alice@example.com", "https://accounts.example.com") }
	if _, err := l.Append(t.Context(), leaf()); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(t.Context()); err != nil {
		t.Fatalf("Ready after an append: %v", err)
	}
	bundle := filepath.Join(dir, "tile", "entries", "000.p", "1")
	saved, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(bundle); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), leaf()); problem.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("Append with its partial bundle gone = %v, want 503", err)
	}
	err = l.Ready(t.Context())
	if err == nil || !strings.Contains(err.Error(), "its storage failed an append") || strings.Contains(err.Error(), dir) {
		t.Fatalf("Ready after a failed append = %v, want not ready naming the failed append and no path", err)
	}
	if err := os.WriteFile(bundle, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), leaf()); err != nil {
		t.Fatalf("Append with the bundle restored: %v", err)
	}
	if err := l.Ready(t.Context()); err != nil {
		t.Errorf("Ready after an append succeeded again: %v", err)
	}
}
