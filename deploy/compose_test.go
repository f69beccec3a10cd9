package deploy

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const composeDir = "docker-compose"

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Build *struct {
		Context string `yaml:"context"`
	} `yaml:"build"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Volumes []string `yaml:"volumes"`
}

// mount is one short-syntax bind mount, host:container[:ro].
type mount struct{ host, container, mode string }

func (s composeService) mounts(t *testing.T, name string) []mount {
	t.Helper()
	var ms []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("service %s: volume %q is not host:container[:mode]", name, v)
		}
		m := mount{host: parts[0], container: parts[1]}
		if len(parts) == 3 {
			m.mode = parts[2]
		}
		ms = append(ms, m)
	}
	return ms
}

// flag returns the value of --name=value in the service's command.
func (s composeService) flag(name string) string {
	for _, a := range s.Command {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// listenPort is the port the service's server listens on, from its
// --web.listen-address (each service names it, so nothing relies on an
// image's default).
func (s composeService) listenPort(t *testing.T, name string) string {
	t.Helper()
	a := s.flag("web.listen-address")
	if a == "" {
		t.Fatalf("service %s: no --web.listen-address in its command", name)
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return port
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, filepath.Join(composeDir, "docker-compose.yml"), &c)
	for _, s := range []string{"cms_exporter", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("docker-compose.yml has no service %s", s)
		}
	}
	return c
}

// containerTree mirrors a service's bind mounts into a temporary
// directory: the files its server sees, at the paths it sees them.
func containerTree(t *testing.T, c composeFile, service string) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range c.Services[service].mounts(t, service) {
		mirror(t, root, filepath.Join(composeDir, m.host), m.container)
	}
	return root
}

// composeServiceKeys are the keys the Compose Specification allows in a
// service: docker compose refuses any other, and docker is not needed to
// find a misspelt one.
var composeServiceKeys = strings.Fields(`annotations attach blkio_config build cap_add cap_drop
	cgroup cgroup_parent command configs container_name cpu_count cpu_percent cpu_period cpu_quota
	cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop
	device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment
	expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc
	isolation labels label_file links logging mac_address mem_limit mem_reservation mem_swappiness
	memswap_limit network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports
	post_start pre_stop privileged profiles provider pull_policy read_only restart runtime scale
	secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs
	tty ulimits use_api_socket user userns_mode uts volumes volumes_from working_dir`)

// TestComposeKeys: only keys the Compose Specification knows, at the top
// level and in every service.
func TestComposeKeys(t *testing.T) {
	var raw map[string]any
	readYAML(t, filepath.Join(composeDir, "docker-compose.yml"), &raw)
	for k := range raw {
		if !slices.Contains([]string{"name", "services", "networks", "volumes", "configs", "secrets", "include"}, k) {
			t.Errorf("docker-compose.yml: unknown top-level key %q", k)
		}
	}
	services, _ := raw["services"].(map[string]any)
	for name, s := range services {
		m, ok := s.(map[string]any)
		if !ok {
			t.Errorf("service %s is not a mapping", name)
			continue
		}
		for k := range m {
			if !slices.Contains(composeServiceKeys, k) {
				t.Errorf("service %s: unknown key %q", name, k)
			}
		}
	}
}

// TestComposeMounts: every host path a service mounts exists, and is
// mounted read-only (the stack only reads this repository's files); the
// exporter is built from this repository in --demo mode.
func TestComposeMounts(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, m := range s.mounts(t, name) {
			if !strings.HasPrefix(m.host, ".") {
				t.Errorf("service %s: %q is a named volume or an absolute path, not a file of this repository", name, m.host)
				continue
			}
			exists(t, filepath.Join(composeDir, m.host), "service "+name+" mounts "+m.host)
			if m.mode != "ro" {
				t.Errorf("service %s: %s is mounted %q, want ro", name, m.host, m.mode)
			}
		}
		if s.Build != nil {
			exists(t, filepath.Join(composeDir, s.Build.Context, "Dockerfile"), "service "+name+"'s build context")
		} else if !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
	}
	x := c.Services["cms_exporter"]
	if x.Build == nil || !slices.Contains(x.Command, "--demo") {
		t.Errorf("cms_exporter: want it built from this repository and run with --demo, have build %v, command %q", x.Build, x.Command)
	}
}

// TestComposePrometheus runs promtool check config on the Prometheus
// service's own view of its files, so rule_files must resolve to the
// mounted rules; the scrape and alerting targets must be services of the
// stack, on the ports they listen on.
func TestComposePrometheus(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	c := loadCompose(t)
	prom := c.Services["prometheus"]

	// The one rules path: where compose mounts alerts/cms.rules.yml is
	// where the rules file's header and the README tell users to put it.
	var rulesPath string
	for _, m := range prom.mounts(t, "prometheus") {
		if filepath.Clean(filepath.Join(composeDir, m.host)) == filepath.Join("..", "alerts", "cms.rules.yml") {
			rulesPath = m.container
		}
	}
	if rulesPath == "" {
		t.Fatal("prometheus does not mount alerts/cms.rules.yml")
	}
	for _, doc := range []string{"../alerts/cms.rules.yml", "../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), rulesPath) {
			t.Errorf("%s does not name the rules path %s that compose mounts", doc, rulesPath)
		}
	}

	root := containerTree(t, c, "prometheus")
	cfgPath := prom.flag("config.file")
	if cfgPath == "" {
		t.Fatal("prometheus: no --config.file in its command")
	}
	out, err := runTool(promtool, "check", "config", filepath.Join(root, cfgPath))
	if err != nil {
		t.Fatal(err)
	}
	// promtool only reports rule files it found: make sure ours was one.
	if !strings.Contains(out, "SUCCESS: 1 rule files found") || !strings.Contains(out, filepath.Join(root, rulesPath)) {
		t.Errorf("promtool did not check the mounted rules %s:\n%s", rulesPath, out)
	}

	var cfg struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(root, cfgPath), &cfg)
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	for _, am := range cfg.Alerting.Alertmanagers {
		for _, s := range am.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	seen := map[string]bool{}
	for _, tg := range targets {
		host, port, err := net.SplitHostPort(tg)
		if err != nil {
			t.Errorf("target %q: %v", tg, err)
			continue
		}
		if host == "localhost" {
			host = "prometheus"
		}
		s, ok := c.Services[host]
		if !ok {
			t.Errorf("target %q: no service %s in docker-compose.yml", tg, host)
			continue
		}
		if p := s.listenPort(t, host); p != port {
			t.Errorf("target %q: service %s listens on port %s", tg, host, p)
		}
		seen[host] = true
	}
	for _, s := range []string{"cms_exporter", "alertmanager"} {
		if !seen[s] {
			t.Errorf("prometheus.yml does not reach the %s service", s)
		}
	}
}

// TestComposeAlertmanager runs amtool check-config on the Alertmanager
// service's view of its configuration.
func TestComposeAlertmanager(t *testing.T) {
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	c := loadCompose(t)
	am := c.Services["alertmanager"]
	cfgPath := am.flag("config.file")
	if cfgPath == "" {
		t.Fatal("alertmanager: no --config.file in its command")
	}
	root := containerTree(t, c, "alertmanager")
	if _, err := runTool(amtool, "check-config", filepath.Join(root, cfgPath)); err != nil {
		t.Fatal(err)
	}
}

// TestComposeGrafana: the provisioned datasource is the stack's
// Prometheus, and the dashboard provider's path holds, as Grafana sees it,
// every dashboard of dashboards/.
func TestComposeGrafana(t *testing.T) {
	c := loadCompose(t)
	root := containerTree(t, c, "grafana")
	prov := filepath.Join(root, "etc", "grafana", "provisioning")

	dsFiles, _ := filepath.Glob(filepath.Join(prov, "datasources", "*.yml"))
	if len(dsFiles) == 0 {
		t.Fatal("no datasource provisioning file under /etc/grafana/provisioning/datasources")
	}
	var prometheusDS int
	for _, f := range dsFiles {
		var ds struct {
			APIVersion  int `yaml:"apiVersion"`
			Datasources []struct {
				Name, Type, URL, Access string
			} `yaml:"datasources"`
		}
		readYAML(t, f, &ds)
		if ds.APIVersion != 1 {
			t.Errorf("%s: apiVersion %d, want 1", f, ds.APIVersion)
		}
		for _, d := range ds.Datasources {
			if d.Type != "prometheus" {
				continue
			}
			prometheusDS++
			u, err := url.Parse(d.URL)
			if err != nil {
				t.Errorf("datasource %s: %v", d.Name, err)
				continue
			}
			want := c.Services["prometheus"].listenPort(t, "prometheus")
			if u.Hostname() != "prometheus" || u.Port() != want {
				t.Errorf("datasource %s: url %s, want the prometheus service on port %s", d.Name, d.URL, want)
			}
		}
	}
	if prometheusDS != 1 {
		t.Errorf("%d Prometheus datasources provisioned, want 1 (the dashboards pick the default)", prometheusDS)
	}

	providerFiles, _ := filepath.Glob(filepath.Join(prov, "dashboards", "*.yml"))
	if len(providerFiles) == 0 {
		t.Fatal("no dashboard provisioning file under /etc/grafana/provisioning/dashboards")
	}
	want, _ := filepath.Glob("../dashboards/*.json")
	if len(want) == 0 {
		t.Fatal("no dashboards in ../dashboards")
	}
	for _, f := range providerFiles {
		var p struct {
			APIVersion int `yaml:"apiVersion"`
			Providers  []struct {
				Name    string
				Type    string
				Options struct {
					Path string
				}
			}
		}
		readYAML(t, f, &p)
		if len(p.Providers) == 0 {
			t.Errorf("%s: no providers", f)
		}
		for _, pr := range p.Providers {
			if pr.Type != "file" || !filepath.IsAbs(pr.Options.Path) {
				t.Errorf("%s: provider %s: type %q path %q, want a file provider with an absolute path", f, pr.Name, pr.Type, pr.Options.Path)
				continue
			}
			for _, d := range want {
				got := filepath.Join(root, pr.Options.Path, filepath.Base(d))
				b, err := os.ReadFile(got)
				if err != nil {
					t.Errorf("provider %s: Grafana would not find %s: %v", pr.Name, filepath.Base(d), err)
					continue
				}
				var dash struct{ UID, Title string }
				if err := json.Unmarshal(b, &dash); err != nil || dash.UID == "" {
					t.Errorf("provider %s: %s is not a dashboard with a uid: %v", pr.Name, filepath.Base(d), err)
				}
			}
		}
	}
}
