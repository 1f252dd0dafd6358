package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goList runs `go list args...` at the module root and returns its module
// path and its output lines.
func goList(t *testing.T, args ...string) (module string, lines []string) {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	run := func(args ...string) []string {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	return run("list", "-m")[0], run(append([]string{"list"}, args...)...)
}

// under reports whether pkg is dir or a package below it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// TestBinaryLinksNoTestPackages keeps the test mocks (the hostile OIDC
// issuer above all) out of the signet binary: --dev uses internal/devissuer.
func TestBinaryLinksNoTestPackages(t *testing.T) {
	module, deps := goList(t, "-deps", "./cmd/signet")
	if len(deps) < 2 {
		t.Fatalf("go list -deps ./cmd/signet listed %d packages", len(deps))
	}
	for _, p := range deps {
		if under(p, module+"/test") {
			t.Errorf("the signet binary links %s; nothing under %s/test may be imported by ./cmd/signet", p, module)
		}
	}
}

// TestLayerImports keeps the layers apart: no package under identity, ca
// or tsa depends on keyless (the HTTP API and the client), and ca/vault,
// the runtime Vault backend, does not depend on tsa. Only non-test
// imports count, transitively.
func TestLayerImports(t *testing.T) {
	module, lines := goList(t, "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./identity/...", "./ca/...", "./tsa/...")
	rules := []struct {
		from, to string // package trees, relative to the module
	}{
		{"identity", "keyless"},
		{"ca", "keyless"},
		{"tsa", "keyless"},
		{"ca/vault", "tsa"},
	}
	checked := 0
	for _, line := range lines {
		pkg, deps, _ := strings.Cut(line, " ")
		for _, r := range rules {
			if !under(pkg, module+"/"+r.from) {
				continue
			}
			checked++
			for _, d := range strings.Fields(deps) {
				if under(d, module+"/"+r.to) {
					t.Errorf("%s imports %s (directly or through another package); %s must not depend on %s", pkg, d, r.from, r.to)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list matched no package under identity, ca or tsa")
	}
}
