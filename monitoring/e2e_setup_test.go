package monitoring

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// e2eServersEnv names the variable that lists the Prometheus server
// binaries the end-to-end test runs against, separated like PATH.
// monitoring/run.sh sets it to Debian's 2.x package and the 3.x build; unset,
// the test runs against the prometheus on PATH.
const e2eServersEnv = "CMS_E2E_PROMETHEUS"

// promServer is one Prometheus server binary and the subtest it runs as.
type promServer struct {
	name, bin string
}

var promVersion = regexp.MustCompile(`^prometheus, version (\S+)`)

// prometheusServers returns the servers to run the end-to-end test on,
// named by their version ("prometheus-3.16.0").
func prometheusServers() ([]promServer, error) {
	var bins []string
	if v := os.Getenv(e2eServersEnv); v != "" {
		bins = filepath.SplitList(v)
	} else {
		b, err := exec.LookPath("prometheus")
		if err != nil {
			return nil, fmt.Errorf("Prometheus is not installed (%w): run monitoring/run.sh, which installs 2.x and builds 3.x", err)
		}
		bins = []string{b}
	}
	var out []promServer
	for _, b := range bins {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		v, err := exec.CommandContext(ctx, b, "--version").CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s --version: %w\n%s", b, err, v)
		}
		m := promVersion.FindSubmatch(v)
		if m == nil {
			return nil, fmt.Errorf("%s --version: no version in %q", b, v)
		}
		out = append(out, promServer{name: "prometheus-" + string(m[1]), bin: b})
	}
	return out, nil
}

// site is one CMS cluster of the run: the fake cluster, and the exporter
// binary reaching each of its nodes through a proxy the test can cut.
// Prometheus scrapes every site's exporter in one job, `cms`, and gives it
// its name as a `cluster` target label.
type site struct {
	name       string
	cluster    *cmswstest.Cluster
	capacities map[string]float64 // capacity_participants by node
	proxies    map[string]*proxy
	dir        string
	config     string // the exporter's configuration file
	exporter   string // 127.0.0.1:PORT
	proc       *process
}

func newSite(name string, c *cmswstest.Cluster, capacities map[string]float64) *site {
	return &site{name: name, cluster: c, capacities: capacities, proxies: map[string]*proxy{}}
}

// labels are the target labels of the site's exporter, plus extra.
func (s *site) labels(extra map[string]string) map[string]string {
	out := map[string]string{"job": "cms", "instance": s.exporter, "cluster": s.name}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// startExporter writes the site's exporter configuration (every node reached
// through a proxy the test can cut) and starts the binary.
func (e *e2e) startExporter(bin string, s *site) {
	t := e.t
	s.dir = filepath.Join(e.dir, s.name)
	e.must(os.MkdirAll(s.dir, 0o700))
	e.must(s.cluster.WriteCAFile(filepath.Join(s.dir, "ca.pem")))
	for _, f := range []string{"password", "password-cms3"} {
		e.must(os.WriteFile(filepath.Join(s.dir, f), []byte("secret\n"), 0o600))
	}
	var nodes strings.Builder
	for _, n := range s.cluster.Nodes() {
		p := newProxy(t, strings.TrimPrefix(s.cluster.URL(n), "https://"))
		s.proxies[n] = p
		fmt.Fprintf(&nodes, "  - name: %s\n    url: https://%s\n", n, p.Addr())
		if c, ok := s.capacities[n]; ok {
			fmt.Fprintf(&nodes, "    capacity_participants: %d\n", int(c))
		}
		if n == "cms3" {
			nodes.WriteString("    password_file: password-cms3\n")
		}
	}
	cfg := `defaults:
  username: admin
  password_file: password
  tls:
    ca_file: ca.pem
  probe_interval: 2s
  probe_timeout: 1s
  backoff_min: 100ms
  backoff_max: 500ms
  auth_failure_backoff: 1h
  keep_calls_when_down: 5s
roster:
  batch_interval: 100ms
nodes:
` + nodes.String()
	s.config = filepath.Join(s.dir, "cms_exporter.yml")
	e.must(os.WriteFile(s.config, []byte(cfg), 0o600))
	s.exporter = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.proc = startProcess(t, "cms_exporter-"+s.name, bin, "--config.file="+s.config, "--web.listen-address="+s.exporter, "--web.enable-lifecycle")
	waitReady(t, s.proc, "http://"+s.exporter+"/-/ready", 60*time.Second)
	// Ready says the configuration is loaded, not that the nodes answered:
	// the scenarios change the clusters live, after every node's snapshot.
	synced := regexp.MustCompile(`(?m)^cms_events_synced\{node="[^"]+"\} 1$`)
	eventually(t, 60*time.Second, "every node of "+s.name+" synced", func() error {
		resp, err := httpClient.Get("http://" + s.exporter + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if got, want := len(synced.FindAll(b, -1)), len(s.cluster.Nodes()); got != want {
			return fmt.Errorf("%d of %d nodes synced", got, want)
		}
		return nil
	})
}

// reload asks the site's exporter to reload its configuration and returns
// the HTTP status.
func (e *e2e) reload(s *site) int {
	resp, err := httpClient.Post("http://"+s.exporter+"/-/reload", "", nil)
	e.must(err)
	resp.Body.Close()
	return resp.StatusCode
}

// startPrometheus runs Prometheus scraping every site's exporter every
// second, with the shipped rules (for shortened to e2eFor) evaluated every
// second.
func (e *e2e) startPrometheus(bin string, groups *rulefmt.RuleGroups) {
	t := e.t
	rules, err := ShortenFor(groups, e2eFor)
	e.must(err)
	e.must(os.WriteFile(filepath.Join(e.dir, "rules.yml"), rules, 0o600))
	var targets strings.Builder
	for _, s := range e.sites() {
		fmt.Fprintf(&targets, "      - targets: ['%s']\n        labels: {cluster: %s}\n", s.exporter, s.name)
	}
	cfg := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yml
scrape_configs:
  - job_name: cms
    static_configs:
` + targets.String()
	cfgPath := filepath.Join(e.dir, "prometheus.yml")
	e.must(os.WriteFile(cfgPath, []byte(cfg), 0o600))
	port := freePort(t)
	p := startProcess(t, "prometheus", bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(e.dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	e.prom = promAPIFor(t, p, port)
	e.vars = Vars{
		"job":             "cms",
		"instance":        e.paris.exporter,
		"node":            ".*",
		"__rate_interval": "5m", // covers the whole run: a rate of anything that happened is > 0
	}
}

// waitScraped: Prometheus scrapes every exporter and every meeting has its
// roster subscription, so the participant figures are complete.
func (e *e2e) waitScraped() {
	eventually(e.t, 60*time.Second, "Prometheus scrapes fully covered clusters", func() error {
		s, err := e.prom.query(`up{job="cms"} == 1 and on (job, instance) cms_roster_coverage_ratio == 1`, time.Time{})
		if err != nil {
			return err
		}
		if want := len(e.sites()); len(s) != want {
			return fmt.Errorf("got %d samples, want %d", len(s), want)
		}
		return nil
	})
}
