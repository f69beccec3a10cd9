package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
)

// startExporter writes the exporter's configuration (every node reached
// through a proxy the test can cut) and starts the binary.
func (e *e2e) startExporter(bin string) {
	t := e.t
	e.must(e.cluster.WriteCAFile(filepath.Join(e.dir, "ca.pem")))
	for _, f := range []string{"password", "password-cms3"} {
		e.must(os.WriteFile(filepath.Join(e.dir, f), []byte("secret\n"), 0o600))
	}
	var nodes strings.Builder
	for _, n := range e.cluster.Nodes() {
		p := newProxy(t, strings.TrimPrefix(e.cluster.URL(n), "https://"))
		e.proxies[n] = p
		fmt.Fprintf(&nodes, "  - name: %s\n    url: https://%s\n", n, p.Addr())
		if c, ok := capacities[n]; ok {
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
roster:
  batch_interval: 100ms
nodes:
` + nodes.String()
	cfgPath := filepath.Join(e.dir, "cms_exporter.yml")
	e.must(os.WriteFile(cfgPath, []byte(cfg), 0o600))
	e.exporter = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProcess(t, "cms_exporter", bin, "--config.file="+cfgPath, "--web.listen-address="+e.exporter)
	waitReady(t, p, "http://"+e.exporter+"/-/ready", 60*time.Second)
}

// startPrometheus runs Prometheus scraping the exporter every second, with
// the shipped rules (for shortened to e2eFor) evaluated every second.
func (e *e2e) startPrometheus(bin string, groups *rulefmt.RuleGroups) {
	t := e.t
	rules, err := ShortenFor(groups, e2eFor)
	e.must(err)
	e.must(os.WriteFile(filepath.Join(e.dir, "rules.yml"), rules, 0o600))
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yml
scrape_configs:
  - job_name: cms
    static_configs:
      - targets: ['%s']
`, e.exporter)
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
		"instance":        e.exporter,
		"node":            ".*",
		"__rate_interval": "5m", // covers the whole run: a rate of anything that happened is > 0
	}
}

// waitScraped: Prometheus scrapes the exporter and every meeting has its
// roster subscription, so the participant figures are complete.
func (e *e2e) waitScraped() {
	eventually(e.t, 60*time.Second, "Prometheus scrapes a fully covered cluster", func() error {
		s, err := e.prom.query(`up{job="cms"} == 1 and on (instance) cms_roster_coverage_ratio == 1`, time.Time{})
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("got %d samples", len(s))
		}
		return nil
	})
}
