package boundedbody

import (
	"io"
	"strings"
	"testing"
)

// TestBody: a body up to the limit reads whole; one byte more fails,
// naming the resource and the limit.
func TestBody(t *testing.T) {
	for _, tt := range []struct {
		size    int
		wantErr bool
	}{{0, false}, {9, false}, {10, false}, {11, true}, {1000, true}} {
		b := New(io.NopCloser(strings.NewReader(strings.Repeat("x", tt.size))), 10, "the checkpoint")
		got, err := io.ReadAll(b)
		switch {
		case tt.wantErr && (err == nil || err.Error() != "the checkpoint is over its 10-byte limit"):
			t.Errorf("%d bytes: err %v, want the limit named", tt.size, err)
		case !tt.wantErr && (err != nil || len(got) != tt.size):
			t.Errorf("%d bytes: read %d, %v", tt.size, len(got), err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
