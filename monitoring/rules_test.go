package monitoring

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	rulesFile     = "../alerts/cms.rules.yml"
	ruleTestsGlob = "../alerts/tests/*.yml"
	runbookFile   = "../RUNBOOK.md"
	runbookURL    = "https://github.com/cms-exporter/cms_exporter/blob/main/RUNBOOK.md#"
)

var severities = []string{"info", "warning", "critical"}

// promtoolTests is the part of a promtool unit test file the coverage check
// reads.
type promtoolTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			EvalTime  string `yaml:"eval_time"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// coverage is what the promtool tests prove of each alert.
type coverage struct {
	// firing, quiet: a case expects it to fire, one expects silence.
	firing, quiet map[string]bool
	// twoExporters: in a test with series of several exporters, a case
	// expects it to fire for some of them and not for at least one other.
	twoExporters map[string]bool
}

// exporterKey is a target: job and instance.
type exporterKey struct{ job, instance string }

// queryInAnnotation finds the queries of an annotation template:
// printf "<selector format>" args... | query.
var (
	queryInAnnotation = regexp.MustCompile(`printf\s+"((?:[^"\\]|\\.)*)"[^|{}]*\|\s*query\b`)
	anyQuery          = regexp.MustCompile(`\bquery\b`)
)

func TestRuleConventions(t *testing.T) {
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := runbookAnchors(t)
	cov := promtoolCoverage(t)

	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			name := r.Alert
			sev := r.Labels["severity"]
			if !slices.Contains(severities, sev) {
				t.Errorf("%s: severity %q, want one of %v", name, sev, severities)
			}
			// Meeting changes are information for whoever runs the
			// meetings, never a reason to wake someone.
			if g.Name == "cms-meetings" && sev != "info" {
				t.Errorf("%s: a meeting change must be severity info, got %q", name, sev)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", name, a)
				}
			}
			if want := runbookURL + strings.ToLower(name); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", name, r.Annotations["runbook_url"], want)
			}
			if !anchors[strings.ToLower(name)] {
				t.Errorf("%s: RUNBOOK.md has no section %q", name, "## "+name)
			}
			if !cov.firing[name] {
				t.Errorf("%s: no promtool case where it fires", name)
			}
			if !cov.quiet[name] {
				t.Errorf("%s: no promtool case where it does not fire", name)
			}
			// One Prometheus may watch several clusters: every alert
			// keeps the labels of its exporter, and is proven to fire
			// for one exporter and not for another.
			if !cov.twoExporters[name] {
				t.Errorf("%s: no promtool test with two exporters where it fires for one only", name)
			}
			expr, err := ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for _, p := range TargetLabelProblems(expr) {
				t.Errorf("%s (%s): %s", name, r.Labels["severity"], p)
			}
			for a, tmpl := range r.Annotations {
				queries := queryInAnnotation.FindAllStringSubmatch(tmpl, -1)
				if n := len(anyQuery.FindAllString(tmpl, -1)); n != len(queries) {
					t.Errorf("%s: annotation %s: %d queries, %d of them as printf \"selector\" ... | query", name, a, n, len(queries))
				}
				for _, q := range queries {
					for _, l := range TargetLabels {
						if !strings.Contains(q[1], l+"=%q") {
							t.Errorf("%s: annotation %s queries %s without %s=%%q: it may read another exporter's series", name, a, q[1], l)
						}
					}
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert in " + rulesFile)
	}
	t.Logf("%d alerting rules in %d groups", alerts, len(groups.Groups))
}

// runbookAnchors returns the GitHub anchors of RUNBOOK.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		a := strings.ToLower(m[1])
		a = drop.ReplaceAllString(a, "")
		a = strings.ReplaceAll(a, " ", "-")
		out[a] = true
	}
	return out
}

// promtoolCoverage reads the promtool test files and returns what they prove
// of each alert. Every alert a case expects must carry job and instance.
func promtoolCoverage(t *testing.T) coverage {
	t.Helper()
	files, err := filepath.Glob(ruleTestsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files (%s): %v", ruleTestsGlob, err)
	}
	cov := coverage{firing: map[string]bool{}, quiet: map[string]bool{}, twoExporters: map[string]bool{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(b, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.Contains(pt.RuleFiles, "../"+filepath.Base(rulesFile)) {
			t.Errorf("%s: does not test %s", f, rulesFile)
		}
		for i, tc := range pt.Tests {
			exporters := map[exporterKey]bool{}
			for _, in := range tc.InputSeries {
				ls, err := promql.ParseMetric(in.Series)
				if err != nil {
					t.Fatalf("%s: test %d: series %s: %v", f, i+1, in.Series, err)
				}
				exporters[exporterKey{ls.Get("job"), ls.Get("instance")}] = true
			}
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) == 0 {
					cov.quiet[a.Alertname] = true
					continue
				}
				cov.firing[a.Alertname] = true
				fired := map[exporterKey]bool{}
				for _, x := range a.ExpAlerts {
					k := exporterKey{x.ExpLabels["job"], x.ExpLabels["instance"]}
					if k.job == "" || k.instance == "" {
						t.Errorf("%s: test %d: %s at %s expected without job or instance: %v", f, i+1, a.Alertname, a.EvalTime, x.ExpLabels)
					}
					fired[k] = true
				}
				for k := range exporters {
					if !fired[k] && len(exporters) >= 2 {
						cov.twoExporters[a.Alertname] = true
					}
				}
			}
		}
	}
	return cov
}

// TestTargetLabelProblems: the syntax check of TestRuleConventions flags what
// loses or crosses target labels, and nothing else.
func TestTargetLabelProblems(t *testing.T) {
	cases := []struct {
		expr string
		want []string // a substring of each problem, in order
	}{
		{`up{job="cms"} == 0`, []string{"selects on job"}},
		{`cms_call_info{instance="exp:10041"}`, []string{"selects on instance"}},
		{`max by (correlator, name) (cms_call_info)`, []string{"max by (correlator, name) keeps only"}},
		{`sum without (instance, node) (cms_up)`, []string{"drops instance"}},
		{`cms_a / on (job, instance, node) cms_b`, []string{"one-to-one / on (job, instance, node)"}},
		{`cms_a and on (correlator) cms_b`, []string{"does not match on job", "does not match on instance"}},
		{`cms_a * on (job, node, call) group_left (name) cms_b`, []string{"does not match on instance"}},
		{`cms_a unless ignoring (instance) cms_b`, []string{"ignoring (instance)"}},
		{`cms_a and on () (sum(increase(cms_b[10m])) > 0)`, []string{"does not match on job", "does not match on instance", "sum by () keeps only"}},
		{`absent(cms_up)`, []string{"absent() returns"}},
		{`cms_up or vector(0)`, []string{"vector() returns"}},
		{`label_replace(cms_up, "instance", "x", "", "")`, []string{"writes instance"}},
		// Kept: the target's labels survive.
		{`topk by (node) (3, cms_call_participants)`, nil},
		{`max without (node, call) (cms_a * on (job, instance, node, call) group_left (name) cms_b)`, nil},
		{`cms_up == 0 and on (job, instance, node) cms_events_connected == 0`, nil},
		{`time() - cms_events_last_message_timestamp_seconds > 180`, nil},
		{`sum without (call) (cms_a / (cms_b + 1)) / cms_c >= 0.8`, nil},
		{`label_replace(cms_up, "site", "$1", "instance", "(.*):.*")`, nil},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		got := TargetLabelProblems(e)
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s:\n  got  %q\n  want %q", c.expr, got, c.want)
		}
	}
}
