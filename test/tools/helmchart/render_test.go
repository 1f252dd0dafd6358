// Package helmchart tests signet's Helm chart with Helm's Go SDK.
package helmchart

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
var chartDir = filepath.Join("..", "..", "..", "deploy", "helm", "signet")

// rendered is a chart rendered to objects, each decoded strictly into its
// Kubernetes API type (or, for the ServiceMonitor CRD, a plain map).
type rendered struct {
	configMap      *corev1.ConfigMap
	deployment     *appsv1.Deployment
	services       map[string]*corev1.Service
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	networkPolicy  *networkingv1.NetworkPolicy
	serviceMonitor map[string]any
	kinds          []string
}

// exampleValues reads one of the chart's example values files and applies
// overrides (top-level keys replaced).
func exampleValues(t *testing.T, name string, overrides map[string]any) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	out := v.AsMap()
	maps.Copy(out, overrides)
	return out
}

// render renders the chart as `helm install --dry-run` does, without a
// cluster.
func render(values map[string]any) (string, error) {
	manifest, _, err := renderWithNotes(values)
	return manifest, err
}

// renderWithNotes is render that also returns the rendered NOTES.txt.
func renderWithNotes(values map[string]any) (manifest, notes string, err error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return "", "", err
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "signet", "signet"
	rel, err := install.Run(ch, values)
	if err != nil {
		return "", "", err
	}
	return rel.Manifest, rel.Info.Notes, nil
}

// decode splits a manifest into objects and decodes each strictly.
func decode(t *testing.T, manifest string) *rendered {
	t.Helper()
	r := &rendered{services: map[string]*corev1.Service{}}
	for _, doc := range strings.Split(manifest, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		r.kinds = append(r.kinds, tm.Kind)
		var obj any
		switch tm.Kind {
		case "ConfigMap":
			r.configMap = &corev1.ConfigMap{}
			obj = r.configMap
		case "Deployment":
			r.deployment = &appsv1.Deployment{}
			obj = r.deployment
		case "Service":
			s := &corev1.Service{}
			if err := yaml.UnmarshalStrict([]byte(doc), s); err != nil {
				t.Fatalf("Service does not decode strictly: %v\n%s", err, doc)
			}
			r.services[s.Name] = s
			continue
		case "ServiceAccount":
			r.serviceAccount = &corev1.ServiceAccount{}
			obj = r.serviceAccount
		case "PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "HorizontalPodAutoscaler":
			r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			obj = r.hpa
		case "NetworkPolicy":
			r.networkPolicy = &networkingv1.NetworkPolicy{}
			obj = r.networkPolicy
		case "ServiceMonitor": // a CRD: no type in k8s.io/api
			r.serviceMonitor = map[string]any{}
			obj = &r.serviceMonitor
		default:
			t.Fatalf("unexpected kind %q:\n%s", tm.Kind, doc)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s does not decode strictly into its API type: %v\n%s", tm.Kind, err, doc)
		}
	}
	return r
}

// signetConfig is the rendered signet.yaml as a map.
func (r *rendered) signetConfig(t *testing.T) map[string]any {
	t.Helper()
	var c map[string]any
	if err := yaml.Unmarshal([]byte(r.configMap.Data["signet.yaml"]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// lookup walks a nested map by keys.
func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// str is lookup as a string ("" when absent).
func str(m map[string]any, keys ...string) string {
	s, _ := lookup(m, keys...).(string)
	return s
}

// portOf returns a host:port's port.
func portOf(addr string) string {
	i := strings.LastIndex(addr, ":")
	return addr[i+1:]
}

// containerPort resolves a probe or service port (a name or a number) on
// the signet container.
func containerPort(t *testing.T, c corev1.Container, port string) string {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return fmt.Sprint(p.ContainerPort)
		}
	}
	t.Fatalf("the container has no port %q", port)
	return ""
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
