package deploy

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/cms-exporter/cms_exporter/config"
)

const kubernetesDir = "kubernetes"

// kinds are the objects the example may hold, each with the API version it
// must use; every one of them must be there exactly once.
var kinds = map[string]string{
	"Deployment":     "apps/v1",
	"Service":        "v1",
	"Secret":         "v1",
	"ConfigMap":      "v1",
	"ServiceMonitor": "monitoring.coreos.com/v1",
	"PrometheusRule": "monitoring.coreos.com/v1",
}

// manifests are the decoded objects of kubernetes/, one of each kind.
type manifests struct {
	deployment     appsv1.Deployment
	service        corev1.Service
	secret         corev1.Secret
	configMap      corev1.ConfigMap
	serviceMonitor monitoringv1.ServiceMonitor
	prometheusRule monitoringv1.PrometheusRule
}

// loadManifests reads every document of every manifest file listed in
// kustomization.yaml (which must list them all) and decodes each strictly
// into its API type: a misspelt or misplaced field is an error, as
// `kubectl apply --validate=strict` would make it.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	var kust struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(kubernetesDir, "kustomization.yaml"), &kust)
	if kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", kust.APIVersion, kust.Kind)
	}
	files, _ := filepath.Glob(filepath.Join(kubernetesDir, "*.yaml"))
	var onDisk []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			onDisk = append(onDisk, filepath.Base(f))
		}
	}
	listed := slices.Sorted(slices.Values(kust.Resources))
	if !slices.Equal(listed, onDisk) {
		t.Errorf("kustomization.yaml lists %q, the directory holds %q", listed, onDisk)
	}

	var m manifests
	targets := map[string]any{
		"Deployment":     &m.deployment,
		"Service":        &m.service,
		"Secret":         &m.secret,
		"ConfigMap":      &m.configMap,
		"ServiceMonitor": &m.serviceMonitor,
		"PrometheusRule": &m.prometheusRule,
	}
	seen := map[string]int{}
	for _, f := range onDisk {
		path := filepath.Join(kubernetesDir, f)
		for _, doc := range yamlDocuments(t, path) {
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			want, ok := kinds[tm.Kind]
			if !ok {
				t.Errorf("%s: unexpected kind %q", path, tm.Kind)
				continue
			}
			if tm.APIVersion != want {
				t.Errorf("%s: %s has apiVersion %q, want %q", path, tm.Kind, tm.APIVersion, want)
			}
			seen[tm.Kind]++
			if err := decodeStrict(doc, targets[tm.Kind]); err != nil {
				t.Errorf("%s: %s: %v", path, tm.Kind, err)
			}
		}
	}
	for k := range kinds {
		if seen[k] != 1 {
			t.Errorf("%d objects of kind %s, want 1", seen[k], k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesManifests checks that the objects fit together and that
// the exporter runs locked down: non-root, read-only root file system, no
// privileges, probes on the exporter's health and readiness endpoints.
func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template.Spec

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Error("the Deployment must run exactly one replica (one exporter per cluster)")
	}
	if d.Spec.Selector == nil || !matches(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Error("the Deployment's selector does not match its pod template")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Locked down.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod must run as a non-root user (runAsNonRoot, runAsUser)")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the container's root file system must be read-only")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the container must not allow privilege escalation")
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Error("the container must drop all capabilities and add none")
	}

	// The port the exporter listens on is the container port the probes,
	// the Service and the ServiceMonitor use.
	listen := ":10041" // the exporter's default
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			listen = v
		}
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatal(err)
	}
	var cport *corev1.ContainerPort
	for i := range c.Ports {
		if p := c.Ports[i]; p.Name != "" && strconv.Itoa(int(p.ContainerPort)) == port {
			cport = &c.Ports[i]
		}
	}
	if cport == nil {
		t.Fatalf("no named container port for the listen address %s", listen)
	}
	samePort := func(p intstr.IntOrString) bool {
		return (p.Type == intstr.String && p.StrVal == cport.Name) || (p.Type == intstr.Int && p.IntVal == cport.ContainerPort)
	}
	for name, probe := range map[string]*corev1.Probe{"/-/healthy": c.LivenessProbe, "/-/ready": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || !samePort(probe.HTTPGet.Port) {
			t.Errorf("want a probe GET %s on port %s", name, cport.Name)
		}
	}
	if !matches(m.service.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("the Service's selector does not match the Deployment's pods")
	}
	var svcPort *corev1.ServicePort
	for i := range m.service.Spec.Ports {
		if samePort(m.service.Spec.Ports[i].TargetPort) {
			svcPort = &m.service.Spec.Ports[i]
		}
	}
	if svcPort == nil || svcPort.Name == "" {
		t.Fatal("no named Service port targets the exporter's container port")
	}
	sm := m.serviceMonitor.Spec
	if !matches(sm.Selector.MatchLabels, m.service.Labels) {
		t.Error("the ServiceMonitor's selector does not match the Service's labels")
	}
	if len(sm.Endpoints) != 1 || sm.Endpoints[0].Port != svcPort.Name {
		t.Errorf("the ServiceMonitor must scrape the Service port %q", svcPort.Name)
	}

	// Every ConfigMap and Secret the pod mounts is one of the example's,
	// with the keys it asks for.
	for _, v := range pod.Volumes {
		var cms []*corev1.ConfigMapProjection
		var secrets []*corev1.SecretProjection
		switch {
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					cms = append(cms, s.ConfigMap)
				}
				if s.Secret != nil {
					secrets = append(secrets, s.Secret)
				}
			}
		case v.ConfigMap != nil:
			cms = append(cms, &corev1.ConfigMapProjection{LocalObjectReference: v.ConfigMap.LocalObjectReference, Items: v.ConfigMap.Items})
		case v.Secret != nil:
			secrets = append(secrets, &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: v.Secret.SecretName}, Items: v.Secret.Items})
		}
		for _, cm := range cms {
			if cm.Name != m.configMap.Name {
				t.Errorf("volume %s: no ConfigMap %q (there is %q)", v.Name, cm.Name, m.configMap.Name)
			}
			for _, it := range cm.Items {
				if _, ok := m.configMap.Data[it.Key]; !ok {
					t.Errorf("volume %s: ConfigMap %s has no key %s", v.Name, cm.Name, it.Key)
				}
			}
		}
		for _, s := range secrets {
			if s.Name != m.secret.Name {
				t.Errorf("volume %s: no Secret %q (there is %q)", v.Name, s.Name, m.secret.Name)
			}
			for _, it := range s.Items {
				_, inData := m.secret.Data[it.Key]
				_, inString := m.secret.StringData[it.Key]
				if !inData && !inString {
					t.Errorf("volume %s: Secret %s has no key %s", v.Name, s.Name, it.Key)
				}
			}
		}
	}
	for _, vm := range c.VolumeMounts {
		if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name }) {
			t.Errorf("volume mount %s: no such volume", vm.Name)
		}
		if !vm.ReadOnly {
			t.Errorf("volume mount %s is writable", vm.Name)
		}
	}

	// The image is the release the CHANGELOG names last.
	changelog, err := os.ReadFile("../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	rel := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindSubmatch(changelog)
	if rel == nil {
		t.Fatal("CHANGELOG.md names no release")
	}
	if !strings.HasSuffix(c.Image, ":"+string(rel[1])) {
		t.Errorf("image %s is not release %s, the CHANGELOG's latest", c.Image, rel[1])
	}
}

// TestKubernetesConfig lays out the container's files as the kubelet
// would (the ConfigMap's and the Secret's keys under their mount paths,
// with the volume's file mode) and loads the --config.file the container
// is given with the exporter's own loader: it must be valid, warn of
// nothing, and take its password from the Secret.
func TestKubernetesConfig(t *testing.T) {
	m := loadManifests(t)
	pod := m.deployment.Spec.Template.Spec
	c := pod.Containers[0]
	root := t.TempDir()
	fromSecret := map[string]bool{}

	write := func(dir, name, data string, mode *int32) string {
		p := filepath.Join(root, filepath.FromSlash(dir), filepath.FromSlash(name))
		perm := os.FileMode(0o644)
		if mode != nil {
			perm = os.FileMode(*mode)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Projected == nil {
				continue
			}
			if v.Projected.DefaultMode == nil || *v.Projected.DefaultMode&0o004 != 0 {
				t.Errorf("volume %s: the password must not be readable by all (defaultMode %#o)", v.Name, mode(v.Projected.DefaultMode))
			}
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					for _, it := range s.ConfigMap.Items {
						write(vm.MountPath, it.Path, m.configMap.Data[it.Key], v.Projected.DefaultMode)
					}
				}
				if s.Secret != nil {
					for _, it := range s.Secret.Items {
						data := m.secret.StringData[it.Key]
						if b, ok := m.secret.Data[it.Key]; ok {
							data = string(b)
						}
						fromSecret[write(vm.MountPath, it.Path, data, v.Projected.DefaultMode)] = true
					}
				}
			}
		}
	}

	var configFile string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			configFile = v
		}
	}
	if configFile == "" {
		t.Fatal("the container is given no --config.file")
	}
	path := filepath.Join(root, filepath.FromSlash(configFile))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the ConfigMap's config does not load: %v", err)
	}
	if len(cfg.Nodes) == 0 {
		t.Error("the config has no nodes")
	}
	for _, w := range cfg.Warnings {
		t.Errorf("config warning: %s", w)
	}

	// The password comes from the Secret: every password_file of the
	// config names a file the Secret provided, and none is inline.
	var raw struct {
		Defaults map[string]any   `yaml:"defaults"`
		Nodes    []map[string]any `yaml:"nodes"`
	}
	readYAML(t, path, &raw)
	sources := append([]map[string]any{raw.Defaults}, raw.Nodes...)
	n := 0
	for _, s := range sources {
		if _, ok := s["password"]; ok {
			t.Error("the ConfigMap holds an inline password; it belongs in the Secret")
		}
		pf, ok := s["password_file"].(string)
		if !ok {
			continue
		}
		n++
		if !filepath.IsAbs(pf) {
			pf = filepath.Join(filepath.Dir(configFile), pf)
		}
		if !fromSecret[filepath.Join(root, filepath.FromSlash(pf))] {
			t.Errorf("password_file %s is not a key of the Secret", pf)
		}
	}
	if n == 0 {
		t.Error("the config names no password_file")
	}
}

func mode(m *int32) int32 {
	if m == nil {
		return -1
	}
	return *m
}
