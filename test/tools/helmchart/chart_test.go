package helmchart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestVaultExample renders examples/values-vault.yaml (several replicas,
// Vault's Kubernetes auth) and checks what matters for it to run.
func TestVaultExample(t *testing.T) {
	manifest, err := render(exampleValues(t, "values-vault.yaml", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, manifest)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget",
		"HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor"} {
		if !strings.Contains(strings.Join(r.kinds, " "), kind) {
			t.Errorf("no %s rendered (got %v)", kind, r.kinds)
		}
	}
	c := r.signetConfig(t)
	if str(c, "ca", "type") != "vault" || str(c, "vault", "auth", "method") != "kubernetes" || str(c, "vault", "auth", "role") != "signet" {
		t.Errorf("signet.yaml does not use Vault with Kubernetes auth: %v", c)
	}
	pod := r.deployment.Spec.Template.Spec
	if pod.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("the pod runs as %q, the chart's ServiceAccount is %q", pod.ServiceAccountName, r.serviceAccount.Name)
	}
	if r.deployment.Spec.Replicas != nil {
		t.Error("the Deployment pins replicas although the HPA scales it")
	}
	if r.hpa.Spec.ScaleTargetRef.Name != r.deployment.Name {
		t.Errorf("the HPA scales %q, not the Deployment %q", r.hpa.Spec.ScaleTargetRef.Name, r.deployment.Name)
	}
	mountedAt(t, pod, "vault-ca", filepath.Dir(str(c, "vault", "ca-cert")))
	checkCommon(t, r)

	// The log's DSN comes from its Secret, never from the ConfigMap.
	if str(c, "log", "type") != "mysql" || str(c, "log", "dsn") != "" || strings.Contains(r.configMap.Data["signet.yaml"], "@tcp(") {
		t.Errorf("the mysql log's DSN is in signet.yaml: %v", lookup(c, "log"))
	}
	mountedAt(t, pod, "log-dsn", filepath.Dir(str(c, "log", "dsn-file")))
	if v := volume(pod, "log-dsn"); v == nil || v.Secret == nil || v.Secret.SecretName != "signet-log-db" || filepath.Base(str(c, "log", "dsn-file")) != "dsn" {
		t.Errorf("log.dsn-file %q is not key dsn of Secret signet-log-db: %+v", str(c, "log", "dsn-file"), v)
	}
	// Several replicas: a PodDisruptionBudget, and spread over nodes.
	if r.pdb == nil {
		t.Error("no PodDisruptionBudget for three to eight replicas")
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Fatalf("the replicas are not spread over nodes: %+v", pod.TopologySpreadConstraints)
	}
	for k, v := range pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels {
		if r.deployment.Spec.Template.Labels[k] != v {
			t.Errorf("the spread counts pods with %s=%s, the pods have %q", k, v, r.deployment.Spec.Template.Labels[k])
		}
	}

	// The ServiceMonitor scrapes the admin port of the metrics Service.
	ep, _ := lookup(r.serviceMonitor, "spec", "endpoints").([]any)
	if len(ep) != 1 || str(ep[0].(map[string]any), "port") != "admin" || str(ep[0].(map[string]any), "path") != "/metrics" {
		t.Errorf("ServiceMonitor endpoints: %v", ep)
	}
	metrics := r.services[r.deployment.Name+"-metrics"]
	if metrics == nil || metrics.Spec.Ports[0].TargetPort.String() != "admin" {
		t.Fatalf("no metrics Service on the admin port: %v", r.services)
	}
	sel, _ := lookup(r.serviceMonitor, "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range sel {
		if metrics.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, the metrics Service has %q", k, v, metrics.Labels[k])
		}
	}
	if public := r.services[r.deployment.Name]; public == nil || len(public.Spec.Ports) != 1 || public.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the public Service must expose the http port only: %v", public)
	}
}

// TestFileKeysExample renders examples/values-file-keys.yaml (one replica,
// keys from a Secret).
func TestFileKeysExample(t *testing.T) {
	manifest, err := render(exampleValues(t, "values-file-keys.yaml", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, manifest)
	c := r.signetConfig(t)
	pod := r.deployment.Spec.Template.Spec
	if *r.deployment.Spec.Replicas != 1 || str(c, "ca", "type") != "file" {
		t.Errorf("want one replica with file keys: replicas %d, ca %v", *r.deployment.Spec.Replicas, lookup(c, "ca"))
	}
	for _, f := range []string{str(c, "ca", "key-file"), str(c, "ca", "chain-file"), str(c, "tsa", "key-file"), str(c, "tsa", "chain-file")} {
		mountedAt(t, pod, "keys", filepath.Dir(f))
	}
	var secret string
	for _, v := range pod.Volumes {
		if v.Name == "keys" && v.Secret != nil {
			secret = v.Secret.SecretName
		}
	}
	if secret != "signet-keys" {
		t.Errorf("the keys volume is Secret %q, want signet-keys", secret)
	}
	if r.pdb != nil {
		t.Error("a PodDisruptionBudget for one replica blocks node drains")
	}
	if len(pod.TopologySpreadConstraints) != 0 {
		t.Errorf("a spread constraint for one replica: %+v", pod.TopologySpreadConstraints)
	}
	// The posix log is on its claim, writable, where log.dir names it.
	var logMount bool
	for _, m := range pod.Containers[0].VolumeMounts {
		logMount = logMount || m.Name == "log" && m.MountPath == str(c, "log", "dir") && !m.ReadOnly
	}
	if v := volume(pod, "log"); !logMount || v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "signet-log" {
		t.Errorf("log.dir %s is not on claim signet-log, writable: %+v", str(c, "log", "dir"), pod.Containers[0].VolumeMounts)
	}
	mountedAt(t, pod, "keys", filepath.Dir(str(c, "log", "key")))
	checkCommon(t, r)
}

// checkCommon checks both examples: probes on what signet serves, the
// identity config where the config names it, a locked-down pod, a
// graceful-shutdown budget, and a config signet itself accepts.
func checkCommon(t *testing.T, r *rendered) {
	t.Helper()
	c := r.signetConfig(t)
	pod := r.deployment.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	configPath := ctr.Args[len(ctr.Args)-1]
	if strings.Join(ctr.Args[:len(ctr.Args)-1], " ") != "serve --config" {
		t.Errorf("args %v", ctr.Args)
	}
	mountedAt(t, pod, "config", filepath.Dir(configPath))
	mountedAt(t, pod, "config", filepath.Dir(str(c, "identity-config")))
	if limit := ctr.Resources.Limits.Memory(); !limit.IsZero() {
		var soft *corev1.EnvVar
		for i, e := range ctr.Env {
			if e.Name == "GOMEMLIMIT" {
				soft = &ctr.Env[i]
			}
		}
		if soft == nil || soft.ValueFrom == nil || soft.ValueFrom.ResourceFieldRef == nil || soft.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
			t.Errorf("a memory limit of %s but GOMEMLIMIT does not follow it: %+v", limit, soft)
		}
	}
	if _, ok := r.configMap.Data[filepath.Base(configPath)]; !ok {
		t.Errorf("the ConfigMap has no %s", filepath.Base(configPath))
	}
	if id := r.configMap.Data[filepath.Base(str(c, "identity-config"))]; !strings.Contains(id, "oidc-issuers") {
		t.Errorf("the identity config is not where signet.yaml names it: %q", id)
	}

	adminPort, httpPort := portOf(str(c, "admin-listen")), portOf(str(c, "listen"))
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", ctr.ReadinessProbe, "/readyz"}, {"liveness", ctr.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Fatalf("no %s probe", p.name)
		}
		if p.probe.HTTPGet.Path != p.path || containerPort(t, ctr, p.probe.HTTPGet.Port.String()) != adminPort {
			t.Errorf("%s probe GET %s on port %s; signet serves %s on admin-listen port %s", p.name,
				p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, adminPort)
		}
	}
	public := r.services[r.deployment.Name]
	if containerPort(t, ctr, public.Spec.Ports[0].TargetPort.String()) != httpPort {
		t.Errorf("the Service targets port %s, signet listens on %s", public.Spec.Ports[0].TargetPort.String(), httpPort)
	}

	psc, sc := pod.SecurityContext, ctr.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("the pod may run as root: %+v", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("the container is not locked down: %+v", sc)
	}
	if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: %+v", ctr.Resources)
	}
	delay, _ := time.ParseDuration(str(c, "shutdown-delay"))
	timeout, _ := time.ParseDuration(str(c, "shutdown-timeout"))
	// After the drain signet closes its log: up to 10 s more.
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second < delay+timeout+10*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v does not cover shutdown-delay %s + shutdown-timeout %s + 10s to close the log",
			pod.TerminationGracePeriodSeconds, delay, timeout)
	}
	// /readyz bounds its checks at 3 s: a shorter probe timeout fails
	// every replica together when Vault is slow.
	if ctr.ReadinessProbe.TimeoutSeconds <= 3 {
		t.Errorf("readiness probe timeout %ds, want more than /readyz's 3 s bound", ctr.ReadinessProbe.TimeoutSeconds)
	}
	if r.pdb != nil {
		for k, v := range r.pdb.Spec.Selector.MatchLabels {
			if r.deployment.Spec.Template.Labels[k] != v {
				t.Errorf("the PodDisruptionBudget selects %s=%s, the pods have %q", k, v, r.deployment.Spec.Template.Labels[k])
			}
		}
	}
	signetValidates(t, r)
}

// volume is the pod's volume named name, or nil.
func volume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i, v := range pod.Volumes {
		if v.Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

// mountedAt fails unless volume is mounted read-only at dir (or a parent).
func mountedAt(t *testing.T, pod corev1.PodSpec, volume, dir string) {
	t.Helper()
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.Name == volume && (dir == m.MountPath || strings.HasPrefix(dir, m.MountPath+"/")) {
			if !m.ReadOnly {
				t.Errorf("volume %s is mounted writable", volume)
			}
			return
		}
	}
	t.Errorf("nothing mounts volume %s at %s: %+v", volume, dir, pod.Containers[0].VolumeMounts)
}

var (
	buildOnce sync.Once
	signetBin string
	buildErr  error
)

// signetValidates runs the real `signet config validate` on the rendered
// signet.yaml, with the identity config written next to it.
func signetValidates(t *testing.T, r *rendered) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-chart-")
		if err != nil {
			buildErr = err
			return
		}
		signetBin = filepath.Join(dir, "signet")
		cmd := exec.Command("go", "build", "-o", signetBin, "./cmd/signet")
		cmd.Dir = filepath.Join("..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building signet: %v", buildErr)
	}
	dir := t.TempDir()
	c := r.signetConfig(t)
	idPath := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(idPath, []byte(r.configMap.Data["identity.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	c["identity-config"] = idPath // the pod's path does not exist here
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(signetBin, "config", "validate", cfg)
	cmd.Env = append(os.Environ(), "VAULT_TOKEN=", "VAULT_ADDR=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("signet config validate refuses the rendered signet.yaml: %v\n%s\n%s", err, out, b)
	}
}

// TestConfigChangeRollsPods: the pod template's checksum follows
// signet.yaml and the identity config, and nothing else.
func TestConfigChangeRollsPods(t *testing.T) {
	checksum := func(overrides map[string]any) string {
		t.Helper()
		m, err := render(exampleValues(t, "values-vault.yaml", overrides))
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, m).deployment.Spec.Template.Annotations["checksum/config"]
	}
	base := checksum(nil)
	if base == "" || checksum(nil) != base {
		t.Fatalf("checksum %q is missing or not stable", base)
	}
	otherIssuer := map[string]any{"identityConfig": map[string]any{"oidc-issuers": map[string]any{
		"https://gitlab.example.com": map[string]any{"issuer-url": "https://gitlab.example.com", "client-id": "sigstore", "type": "gitlab-pipeline"}}}}
	if checksum(otherIssuer) == base {
		t.Error("a new identity config does not change the checksum: the pods would keep the old one")
	}
	if checksum(map[string]any{"publicURL": "https://signet2.example.com"}) == base {
		t.Error("a new public URL does not change the checksum")
	}
}

// TestLint: `helm lint` passes on both examples.
func TestLint(t *testing.T) {
	for _, example := range []string{"values-vault.yaml", "values-file-keys.yaml"} {
		res := action.NewLint().Run([]string{chartDir}, exampleValues(t, example, nil))
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: helm lint: %s", example, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("%s: helm lint: %v", example, err)
		}
	}
}

// TestMemoryLimitFollowsResources: GOMEMLIMIT follows a memory limit when
// there is one, and the chart renders without one, and with resources
// removed altogether (null).
func TestMemoryLimitFollowsResources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resources any
		wantLimit bool
	}{
		{"default limits", map[string]any{"limits": map[string]any{"memory": "256Mi"}}, true},
		{"requests only", map[string]any{"limits": nil, "requests": map[string]any{"cpu": "500m"}}, false},
		{"resources null", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest, err := render(exampleValues(t, "values-vault.yaml", map[string]any{"resources": tc.resources}))
			if err != nil {
				t.Fatal(err)
			}
			ctr := decode(t, manifest).deployment.Spec.Template.Spec.Containers[0]
			var got bool
			for _, e := range ctr.Env {
				got = got || e.Name == "GOMEMLIMIT"
			}
			if got != tc.wantLimit {
				t.Errorf("GOMEMLIMIT set: %v, want %v (limits %v)", got, tc.wantLimit, ctr.Resources.Limits)
			}
		})
	}
}
