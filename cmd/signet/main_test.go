package main

import (
	"os"
	"runtime/debug"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestTuneGC checks that serve and load collect garbage lazily unless
// GOGC says otherwise.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tt := range []struct {
		gogc string // "" leaves GOGC unset
		want int
	}{{"", serverGCPercent}, {"100", 100}, {"off", 100}} {
		t.Setenv("GOGC", tt.gogc)
		if tt.gogc == "" {
			os.Unsetenv("GOGC")
		}
		debug.SetGCPercent(100)
		tuneGC()
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tt.gogc, got, tt.want)
		}
	}
}
