package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	v := Get()
	if v.Go != runtime.Version() || v.Version == "" || v.Revision == "" {
		t.Errorf("Get() = %+v, want the running Go %s and a version and revision", v, runtime.Version())
	}
	if !strings.HasPrefix(UserAgent(), "signet/"+v.Version) {
		t.Errorf("UserAgent() = %q", UserAgent())
	}
	if lines := strings.Split(strings.TrimSpace(v.String()), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[2], "go go1.") {
		t.Errorf("String() = %q, want version, revision and go lines", v.String())
	}
}
