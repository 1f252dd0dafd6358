package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runAction runs the shell step of action.yml (action/run.sh) in dir with
// the environment a GitHub runner sets: the action's checkout, the step's
// output file, a temp directory and the job's OIDC request variables
// (pointing at the mock issuer's runner endpoint), plus the given inputs.
// It returns the step's `bundles` output, its stderr and whether it passed.
func runAction(t *testing.T, c *clients, dir, runnerTemp string, inputs map[string]string) ([]string, string, bool) {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	output := filepath.Join(t.TempDir(), "github_output")
	cmd := exec.Command("bash", filepath.Join(repo, "action", "run.sh"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), c.runner...)
	cmd.Env = append(cmd.Env, "GITHUB_ACTION_PATH="+repo, "GITHUB_OUTPUT="+output, "RUNNER_TEMP="+runnerTemp)
	for k, v := range inputs {
		cmd.Env = append(cmd.Env, "INPUT_"+k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	out, _ := os.ReadFile(output)
	var bundles []string
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) >= 2 && strings.HasPrefix(lines[0], "bundles<<") && lines[len(lines)-1] == strings.TrimPrefix(lines[0], "bundles<<") {
		bundles = lines[1 : len(lines)-1]
	} else if err == nil {
		t.Fatalf("the step passed but wrote no bundles output: %q", out)
	}
	return bundles, stderr.String(), err == nil
}

// TestGitHubAction runs the action's shell step for real against a running
// signet and checks its bundles with cosign, signet and gh.
func TestGitHubAction(t *testing.T) {
	cosign, gh := cosignPath(t), ghPath(t)
	c := newClients(t)
	work := t.TempDir()
	runnerTemp := t.TempDir()
	for _, name := range []string{"dist/a.tar.gz", "dist/b.tar.gz", "dist/notes.txt"} {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("artifact "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	bundles, log, ok := runAction(t, c, work, runnerTemp, map[string]string{
		"SERVER": c.srv.URL, "FILES": "dist/*.tar.gz", "MODE": "sign",
	})
	if !ok || len(bundles) != 2 {
		t.Fatalf("sign step: ok %v, bundles %q\n%s", ok, bundles, log)
	}
	for _, b := range bundles {
		art := strings.TrimSuffix(filepath.Join(work, b), ".sigstore.json")
		mustRun(t, nil, cosign, "verify-blob", art, "--bundle", filepath.Join(work, b), "--trusted-root", c.trustedRoot,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(),
			"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")
		c.signetVerify(t, art, filepath.Join(work, b))
	}

	// A name with a space or glob characters is signed as it is, and a
	// file that two globs match is signed once.
	for _, name := range []string{"odd/my app.tar.gz", "odd/v[1].tar.gz", "odd/v1.tar.gz"} {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("artifact "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bundles, log, ok = runAction(t, c, work, runnerTemp, map[string]string{
		"SERVER": c.srv.URL, "FILES": "odd/*.tar.gz\nodd/v1.tar.gz", "MODE": "sign",
	})
	slices.Sort(bundles)
	if want := []string{"odd/my app.tar.gz.sigstore.json", "odd/v1.tar.gz.sigstore.json", "odd/v[1].tar.gz.sigstore.json"}; !ok || !slices.Equal(bundles, want) {
		t.Fatalf("sign step over odd names: ok %v, bundles %q, want %q\n%s", ok, bundles, want, log)
	}
	c.signetVerify(t, filepath.Join(work, "odd/my app.tar.gz"), filepath.Join(work, "odd/my app.tar.gz.sigstore.json"))

	bundles, log, ok = runAction(t, c, work, runnerTemp, map[string]string{
		"SERVER": c.srv.URL, "FILES": "dist/a.tar.gz", "MODE": "attest", "PREDICATE": c.predicate,
	})
	if !ok || len(bundles) != 1 || bundles[0] != "dist/a.tar.gz.intoto.sigstore.json" {
		t.Fatalf("attest step: ok %v, bundles %q\n%s", ok, bundles, log)
	}
	mustRun(t, ghEnv(t), gh, "attestation", "verify", filepath.Join(work, "dist/a.tar.gz"), "--bundle", filepath.Join(work, bundles[0]),
		"--custom-trusted-root", c.trustedRootJSONL(t), "--cert-oidc-issuer", c.iss.URL(), "--owner", "acme", "--format", "json")

	for _, tc := range []struct {
		name   string
		inputs map[string]string
		reason string
	}{
		{"no server", map[string]string{"FILES": "dist/*.tar.gz"}, "input 'server' is empty"},
		{"no file matched", map[string]string{"SERVER": c.srv.URL, "FILES": "dist/*.zip"}, "input 'files': 'dist/*.zip' matched no file"},
		{"one of two globs matched nothing", map[string]string{"SERVER": c.srv.URL, "FILES": "dist/*.tar.gz dist/*.zip"}, "input 'files': 'dist/*.zip' matched no file"},
		{"bad mode", map[string]string{"SERVER": c.srv.URL, "FILES": "dist/a.tar.gz", "MODE": "notarize"}, "input 'mode' is 'notarize'"},
		{"attest without predicate", map[string]string{"SERVER": c.srv.URL, "FILES": "dist/a.tar.gz", "MODE": "attest"}, "input 'predicate' is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log, ok := runAction(t, c, work, runnerTemp, tc.inputs)
			if ok || !strings.Contains(log, tc.reason) {
				t.Errorf("step passed %v; want a failure saying %q:\n%s", ok, tc.reason, log)
			}
		})
	}
}
