package helmchart

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValuesThatCannotWork: the render fails naming the value at fault.
func TestValuesThatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name, example string
		overrides     map[string]any
		want          string
	}{
		{"no public URL", "values-vault.yaml", map[string]any{"publicURL": ""}, "publicURL is required"},
		{"no issuer", "values-vault.yaml", map[string]any{"identityConfig": map[string]any{"oidc-issuers": nil}}, "identityConfig has no issuer"},
		{"vault without role", "values-vault.yaml", map[string]any{"keys": map[string]any{"backend": "vault",
			"vault": map[string]any{"address": "https://vault:8200", "role": ""}}}, "keys.vault.role is required"},
		{"vault without address", "values-vault.yaml", map[string]any{"keys": map[string]any{"backend": "vault",
			"vault": map[string]any{"address": "", "role": "signet"}}}, "keys.vault.address is required"},
		{"file keys, two replicas", "values-file-keys.yaml", map[string]any{"replicaCount": 2}, "keys.backend file serves one replica"},
		{"file keys, autoscaling", "values-file-keys.yaml", map[string]any{"autoscaling": map[string]any{"enabled": true}}, "keys.backend file serves one replica"},
		{"file keys without a Secret", "values-file-keys.yaml", map[string]any{"keys": map[string]any{"backend": "file",
			"file": map[string]any{"secretName": ""}}}, "keys.file.secretName is required"},
		{"unknown backend", "values-vault.yaml", map[string]any{"keys": map[string]any{"backend": "hsm"}}, "backend"},
		{"no log type", "values-vault.yaml", map[string]any{"log": map[string]any{}}, "log.type is required"},
		{"mysql DSN in values", "values-vault.yaml", map[string]any{"log": map[string]any{"type": "mysql", "key": "transit:signet-log",
			"dsn": "signet:pw@tcp(db:3306)/tessera"}}, "log.dsn would put the database password in a ConfigMap"},
		{"mysql without DSN Secret", "values-vault.yaml", map[string]any{"logDSNSecret": map[string]any{"name": ""}}, "logDSNSecret.name"},
		{"mysql without key", "values-vault.yaml", map[string]any{"log": map[string]any{"type": "mysql"}}, "a mysql log needs log.key"},
		{"posix without a volume", "values-file-keys.yaml", map[string]any{"logVolume": map[string]any{"existingClaim": ""}}, "a posix log needs a volume at log.dir"},
		{"posix under /tmp", "values-file-keys.yaml", map[string]any{"log": map[string]any{"type": "posix", "dir": "/tmp/log",
			"key": "/etc/signet/keys/log.key"}}, "log.dir is under /tmp"},
		{"posix, several replicas, no ReadWriteMany", "values-vault.yaml", map[string]any{"log": map[string]any{"type": "posix",
			"dir": "/var/lib/signet/log", "key": "transit:signet-log"}, "logVolume": map[string]any{"existingClaim": "signet-log"}}, "ReadWriteMany"},
		{"unknown log type", "values-vault.yaml", map[string]any{"log": map[string]any{"type": "s3"}}, "log"},
		{"one port for both", "values-vault.yaml", map[string]any{"ports": map[string]any{"http": 8080, "admin": 8080}}, "ports.http and ports.admin must differ"},
		{"grace period shorter than the drain", "values-vault.yaml", map[string]any{"shutdown": map[string]any{"delaySeconds": 60, "timeoutSeconds": 120},
			"terminationGracePeriodSeconds": 30}, "terminationGracePeriodSeconds 30 is below"},
		{"a misspelt value", "values-vault.yaml", map[string]any{"replicas": 5}, "replicas"},
		{"readiness timeout within /readyz's bound", "values-vault.yaml", map[string]any{"probes": map[string]any{
			"readiness": map[string]any{"timeoutSeconds": 1}}}, "timeoutSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(exampleValues(t, tc.example, tc.overrides))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestOptionalValues: the values a platform team sets besides the
// examples' render as they say.
func TestOptionalValues(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	manifest, notes, err := renderWithNotes(exampleValues(t, "values-vault.yaml", map[string]any{
		"image":                         map[string]any{"repository": "registry.example.com/signet", "digest": digest},
		"extraEnv":                      []any{map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}},
		"envFrom":                       []any{map[string]any{"configMapRef": map[string]any{"name": "proxy-env"}}},
		"shutdown":                      map[string]any{"delaySeconds": 10, "timeoutSeconds": 30},
		"terminationGracePeriodSeconds": nil,
		"log":                           map[string]any{"type": "off"},
		"networkPolicy": map[string]any{"enabled": true, "adminFrom": []any{map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, manifest)
	pod := r.deployment.Spec.Template.Spec
	ctr := pod.Containers[0]
	if ctr.Image != "registry.example.com/signet@"+digest {
		t.Errorf("image %q, want it pulled by digest", ctr.Image)
	}
	var env []string
	for _, e := range ctr.Env {
		env = append(env, e.Name)
	}
	if strings.Join(env, " ") != "GOMEMLIMIT HTTPS_PROXY" || len(ctr.EnvFrom) != 1 || ctr.EnvFrom[0].ConfigMapRef == nil {
		t.Errorf("env %v, envFrom %+v: want GOMEMLIMIT and HTTPS_PROXY, and the proxy-env ConfigMap", env, ctr.EnvFrom)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 10+30+15 {
		t.Errorf("terminationGracePeriodSeconds %v, want delay + timeout + 15 = 55", g)
	}
	if c := r.signetConfig(t); str(c, "shutdown-delay") != "10s" || str(c, "shutdown-timeout") != "30s" {
		t.Errorf("shutdown-delay %q, shutdown-timeout %q; want 10s and 30s", str(c, "shutdown-delay"), str(c, "shutdown-timeout"))
	}
	if !strings.Contains(notes, "WARNING: log.type is off") {
		t.Errorf("NOTES do not warn of a server without an issuance log:\n%s", notes)
	}
	var adminFrom int
	for _, rule := range r.networkPolicy.Spec.Ingress {
		if len(rule.Ports) == 1 && rule.Ports[0].Port.String() == "admin" {
			adminFrom = len(rule.From)
		}
	}
	if adminFrom != 1 {
		t.Errorf("the admin port is open to %d peers, want the monitoring namespace only", adminFrom)
	}
	signetValidates(t, r)
}

// TestVaultProjectedToken: with keys.vault.tokenAudience, signet logs in
// to Vault with a projected ServiceAccount token of that audience, and
// the pod gets no Kubernetes API token.
func TestVaultProjectedToken(t *testing.T) {
	values := exampleValues(t, "values-vault.yaml", nil)
	values["keys"].(map[string]any)["vault"].(map[string]any)["tokenAudience"] = "vault"
	manifest, err := render(values)
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, manifest)
	pod := r.deployment.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod still mounts the Kubernetes API token")
	}
	c := r.signetConfig(t)
	file := str(c, "vault", "auth", "service-account-token-file")
	mountedAt(t, pod, "vault-token", filepath.Dir(file))
	v := volume(pod, "vault-token")
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 1 || v.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("no projected token volume: %+v", v)
	}
	sat := v.Projected.Sources[0].ServiceAccountToken
	if sat.Audience != "vault" || sat.Path != filepath.Base(file) || sat.ExpirationSeconds == nil || *sat.ExpirationSeconds != 600 {
		t.Errorf("projected token %+v, signet reads %s", sat, file)
	}
	signetValidates(t, r)
}
