package issuancelog

import (
	"strings"
	"testing"
)

// FuzzTilePath checks that every request path the handler accepts is a
// tile or entry bundle path under tile/, in canonical form, that cannot
// leave the log directory or reach a temporary file.
func FuzzTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/entries/x001/x234/067.p/8", "tile/1/000.p/1",
		"tile/../checkpoint", "tile/0/000.p/255", "tile/0/000.p/2123", "tile/0/00", "tile/63/x999/999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		partial, ok := tilePath(name)
		if !ok {
			return
		}
		if !strings.HasPrefix(name, "tile/") || strings.Contains(name, "..") || strings.Contains(name, "//") ||
			strings.HasSuffix(name, "/") || partial != strings.Contains(name, ".p/") {
			t.Fatalf("tilePath accepted %q (partial %v)", name, partial)
		}
		for _, r := range name {
			if !strings.ContainsRune("tile/entrsx0123456789.p", r) {
				t.Fatalf("tilePath accepted %q with %q", name, r)
			}
		}
	})
}
