package monitoring

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// TestEndToEndClusters: one Prometheus scrapes two exporters, each
// watching its own fake cluster, in two jobs, as it does for a company
// with a production and a lab cluster. The clusters are built to be
// confused: the same seed gives them the same node names, call ids and
// correlators, and the same meeting names, but their meetings differ. The
// dashboards must keep them apart: with All picked, every key query equals
// each cluster's truth (or their total, or the highest, as the panel
// says); with one exporter picked, that cluster's truth alone; the meeting
// drill-down shows the picked meeting, not its namesake in the other
// cluster; and no query fails (a join matching two clusters' series would).
func TestEndToEndClusters(t *testing.T) {
	servers, ds, bin := e2eSetup(t)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { endToEndClusters(t, srv.bin, ds, bin) })
	}
}

func endToEndClusters(t *testing.T, promBin string, ds []*Dashboard, bin string) {
	dashboards := byUID(ds)

	// prod and lab start alike (same seed, same scenario); then lab's Town
	// Hall grows to cms3, its Big ends and its Board is recorded.
	newRun := func(name string) (*e2e, *site, meetings) {
		e := &e2e{t: t, dir: t.TempDir()}
		c, err := cmswstest.NewCluster(cmswstest.Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		e.paris = newSite(name, c, capacities)
		e.cluster = c
		return e, e.paris, e.startMeetings()
	}
	prodRun, prod, mp := newRun("prod")
	labRun, lab, ml := newRun("lab")
	if mp.townHall != ml.townHall || mp.board != ml.board {
		t.Fatalf("the clusters do not share correlators (%s %s, %s %s): the test would prove less", mp.townHall, ml.townHall, mp.board, ml.board)
	}
	for _, who := range []string{"Nia", "Oto"} {
		_, err := lab.cluster.AddParticipant(ml.townHall, "cms3", cmswstest.ParticipantOptions{Name: who, AudioMuted: true})
		labRun.must(err)
	}
	labRun.must(lab.cluster.EndMeeting(ml.big))
	labRun.must(lab.cluster.SetRecording(ml.board, true))
	prodRun.startExporter(bin, prod)
	labRun.startExporter(bin, lab)

	prom := startPrometheusJobs(t, promBin, map[string]string{"cms": prod.exporter, "cms-lab": lab.exporter}, nil)
	eventuallySeries(t, prom, 60*time.Second, "Prometheus scrapes both fully covered clusters",
		`up == 1 and on (job, instance) cms_roster_coverage_ratio == 1`, 2)
	for _, s := range []*site{prod, lab} {
		labRun.must(s.cluster.WaitIdle(t.Context()))
	}
	base := Vars{"node": ".*", "__rate_interval": "5m"}
	prodTruth, labTruth := prod.cluster.Truth(), lab.cluster.Truth()
	if p, l := prodTruth.Meetings[mp.townHall], labTruth.Meetings[ml.townHall]; len(p.Participants) == len(l.Participants) || len(p.Calls) == len(l.Calls) {
		t.Fatalf("Town Hall has %d participants on %d nodes in both clusters: the test would prove less", len(p.Participants), len(p.Calls))
	}
	t.Run("variables", func(t *testing.T) {
		_, opts, err := resolveVars(prom, ds, base, selection{meeting: "Town Hall @ " + prod.exporter})
		if err != nil {
			t.Fatal(err)
		}
		values := func(os []Option) []string {
			var out []string
			for _, o := range os {
				out = append(out, o.Value)
			}
			slices.Sort(out)
			return out
		}
		for name, want := range map[string][]string{
			"job":      {"cms", "cms-lab"},
			"instance": sorted(prod.exporter, lab.exporter),
			"node":     {"cms1", "cms2", "cms3"},
		} {
			if got := values(opts[name]); !slices.Equal(got, want) {
				t.Errorf("%s options %q, want %q", name, got, want)
			}
		}
		// Two Town Halls, one correlator: two entries, told apart by
		// their exporter, with values that select one each.
		var halls []Option
		for _, o := range opts["meeting"] {
			if strings.HasPrefix(o.Text, "Town Hall @ ") {
				halls = append(halls, o)
			}
		}
		if len(halls) != 2 || halls[0].Value == halls[1].Value {
			t.Errorf("Town Hall entries %v, want one per exporter", halls)
		}
		if got, want := len(opts["meeting"]), len(prodTruth.Meetings)+len(labTruth.Meetings); got != want {
			t.Errorf("%d meeting entries, want %d: %v", got, want, opts["meeting"])
		}
		// The exporters of one job only.
		_, opts, err = resolveVars(prom, ds, base, selection{jobs: []string{"cms-lab"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := values(opts["instance"]); !slices.Equal(got, []string{lab.exporter}) {
			t.Errorf("job cms-lab: instance options %q, want %q", got, lab.exporter)
		}
	})

	t.Run("all exporters", func(t *testing.T) {
		vars, _, err := resolveVars(prom, ds, base, selection{meeting: "Town Hall @ " + prod.exporter})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("job=~%q instance=~%q meeting %q", vars["job"], vars["instance"], vars["meeting"])
		cs := []clusterFigures{
			figuresOf(prod.exporter, prodTruth, mp.townHall),
			figuresOf(lab.exporter, labTruth, ""),
		}
		matchTruth(t, prom, dashboards, vars, cs, 0)
		allQueriesRun(t, prom, ds, vars)
	})

	t.Run("one exporter", func(t *testing.T) {
		vars, _, err := resolveVars(prom, ds, base, selection{jobs: []string{"cms-lab"}, instances: []string{lab.exporter}, meeting: "Town Hall @ " + lab.exporter})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("job=~%q instance=~%q meeting %q", vars["job"], vars["instance"], vars["meeting"])
		matchTruth(t, prom, dashboards, vars, []clusterFigures{figuresOf(lab.exporter, labTruth, ml.townHall)}, 0)
		allQueriesRun(t, prom, ds, vars)
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// allQueriesRun: every dashboard query (panels and variables) runs
// without an error; a vector matching that pairs two clusters' series
// fails with "many-to-many matching not allowed".
func allQueriesRun(t *testing.T, prom promAPI, ds []*Dashboard, vars Vars) {
	t.Helper()
	n, empty := 0, 0
	for _, d := range ds {
		qs, err := d.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			expr, err := Substitute(q.Expr, vars)
			if err != nil {
				t.Fatal(err)
			}
			s, err := prom.query(expr, time.Time{})
			if err != nil {
				t.Errorf("%s: %s: %v", d.File, q.Where, err)
			}
			n++
			if len(s) == 0 {
				empty++
			}
		}
	}
	t.Logf("%d dashboard queries ran, %d with data (rates of what did not happen are empty)", n, n-empty)
}

// startPrometheusJobs runs Prometheus scraping, every second, one target
// per job (job → host:port), with the rules of groups (see
// startPrometheusConfig), or without rules if groups is nil.
func startPrometheusJobs(t *testing.T, bin string, jobs map[string]string, groups *rulefmt.RuleGroups) promAPI {
	t.Helper()
	var cfg strings.Builder
	for _, job := range slices.Sorted(maps.Keys(jobs)) {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n", job, jobs[job])
	}
	return startPrometheusConfig(t, bin, cfg.String(), groups)
}

// startPrometheusTargets runs Prometheus scraping the targets (host:port)
// in one job, every second, with the rules of groups (nil for none).
func startPrometheusTargets(t *testing.T, bin, job string, targets []string, groups *rulefmt.RuleGroups) promAPI {
	t.Helper()
	cfg := fmt.Sprintf("  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n", job, strings.Join(targets, "', '"))
	return startPrometheusConfig(t, bin, cfg, groups)
}

// startPrometheusConfig runs Prometheus with the given scrape_configs
// entries, scraping every second, and with the rules of groups (their
// `for` shortened to e2eFor) evaluated every second, or without rules if
// groups is nil.
func startPrometheusConfig(t *testing.T, bin, scrapeConfigs string, groups *rulefmt.RuleGroups) promAPI {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if groups != nil {
		rules, err := ShortenFor(groups, e2eFor)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.WriteString("rule_files:\n  - rules.yml\n")
	}
	cfg.WriteString("scrape_configs:\n" + scrapeConfigs)
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := startProcess(t, "prometheus", bin,
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	return promAPIFor(t, p, port)
}
