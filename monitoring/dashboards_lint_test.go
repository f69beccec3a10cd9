package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// breakage is a deliberate mistake in a copy of a shipped dashboard that
// one lint rule must report: the proof that the rule can fail.
type breakage struct {
	rule, file, what string
	edit             func(raw map[string]any) error
}

var breakages = []breakage{
	{"template-datasource-rule", "cms-capacity.json", "datasource variable for Loki",
		setVariable("datasource", "query", "loki")},
	{"template-datasource-rule", "cms-calls.json", "datasource variable pinned to a uid",
		setVariable("datasource", "current", map[string]any{"text": "Prometheus", "value": "P1809F7CD0C75ACF3"})},
	{"panel-datasource-rule", "cms-capacity.json", "panel datasource uid hard-coded",
		setPanel("Meetings", "datasource", map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"})},
	{"panel-datasource-rule", "cms-calls.json", "target without datasource",
		setTarget("Participants", "A", "datasource", nil)},
	{"panel-datasource-rule", "cms-exporter-health.json", "annotation on a hard-coded datasource",
		func(raw map[string]any) error {
			a := raw["annotations"].(map[string]any)["list"].([]any)[0].(map[string]any)
			a["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
			return nil
		}},
	{"template-job-rule", "cms-capacity.json", "job single-select",
		setVariable("job", "multi", false)},
	{"template-instance-rule", "cms-calls.json", "instance All = .+",
		setVariable("instance", "allValue", ".+")},
	{"target-job-rule", "cms-capacity.json", "no job matcher on a selector nested in or/on",
		replaceInTarget("Estimated utilisation (fallback, no load limit)", "A", `0 * sum by (job, instance, node) (cms_node_capacity_participants{job=~"$job", `, `0 * sum by (job, instance, node) (cms_node_capacity_participants{`)},
	{"target-job-rule", "cms-exporter-health.json", "node variable query without job",
		replaceInVariable("node", `job=~"$job", `, ``)},
	{"target-instance-rule", "cms-calls.json", `instance="$instance" (single-value syntax)`,
		replaceInTarget("Recorded", "A", `instance=~"$instance"`, `instance="$instance"`)},
	{"target-hardcoded-job-rule", "cms-exporter-health.json", `job="cms" next to the variable`,
		replaceInTarget("Exporter scrape", "A", `up{job=~"$job"`, `up{job="cms", job=~"$job"`)},
	{"panel-units-rule", "cms-capacity.json", "unit removed",
		setUnit("Meetings", nil)},
	{"panel-units-rule", "cms-calls.json", "unit that Grafana does not know",
		setUnit("Live meetings", "meetings")},
	{"target-rate-interval-rule", "cms-capacity.json", "rate over [5m]",
		replaceInTarget("Meetings started and ended", "A", `[$__rate_interval]`, `[5m]`)},
	{"target-cluster-grouping-rule", "cms-capacity.json", "sum by (node): two clusters' cms1 added up",
		replaceInTarget("Call instances per node", "A", `sum by (job, instance, node)`, `sum by (node)`)},
	{"target-cluster-grouping-rule", "cms-calls.json", "meetings grouped by correlator alone",
		replaceInTarget("Live meetings", "B", `count by (job, instance, correlator, name)`, `count by (correlator, name)`)},
	{"panel-cluster-legend-rule", "cms-exporter-health.json", "legend without the exporter",
		setTarget("Probe latency", "A", "legendFormat", "{{node}}")},
	{"panel-cluster-legend-rule", "cms-calls.json", "table hiding the exporter column",
		func(raw map[string]any) error {
			p, err := rawPanel(raw, "Call instances")
			if err != nil {
				return err
			}
			for _, tr := range p["transformations"].([]any) {
				if tr := tr.(map[string]any); tr["id"] == "organize" {
					tr["options"].(map[string]any)["excludeByName"].(map[string]any)["instance"] = true
				}
			}
			return nil
		}},
	{"target-legend-labels-rule", "cms-capacity.json", "legend {{instance}} on a cross-cluster total",
		setTarget("Participants", "A", "legendFormat", "{{instance}}")},
}

// TestLintRulesCanFail: every rule reports its breakage, and every rule is
// proven by at least one breakage.
func TestLintRulesCanFail(t *testing.T) {
	proven := map[string]bool{}
	for _, b := range breakages {
		t.Run(b.rule+"/"+b.what, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dashboardsDir, b.file))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			if err := b.edit(raw); err != nil {
				t.Fatal(err)
			}
			broken, err := json.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDashboard(b.file, broken)
			if err != nil {
				t.Fatal(err)
			}
			qs, err := lintQueries(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range lintRules {
				if r.name != b.rule {
					continue
				}
				problems := r.check(d, qs)
				if len(problems) == 0 {
					t.Fatalf("%s: %s: the rule did not notice", b.file, b.what)
				}
				proven[b.rule] = true
				t.Logf("reported: %s", strings.Join(problems, "; "))
				return
			}
			t.Fatalf("no rule %s", b.rule)
		})
	}
	for _, r := range lintRules {
		if !proven[r.name] {
			t.Errorf("rule %s has no breakage proving it can fail", r.name)
		}
	}
}

func rawPanel(raw map[string]any, title string) (map[string]any, error) {
	for _, p := range raw["panels"].([]any) {
		if p := p.(map[string]any); p["title"] == title {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no panel %q", title)
}

func rawTarget(raw map[string]any, title, ref string) (map[string]any, error) {
	p, err := rawPanel(raw, title)
	if err != nil {
		return nil, err
	}
	for _, tg := range p["targets"].([]any) {
		if tg := tg.(map[string]any); tg["refId"] == ref {
			return tg, nil
		}
	}
	return nil, fmt.Errorf("panel %q: no target %s", title, ref)
}

func rawVariable(raw map[string]any, name string) (map[string]any, error) {
	for _, v := range raw["templating"].(map[string]any)["list"].([]any) {
		if v := v.(map[string]any); v["name"] == name {
			return v, nil
		}
	}
	return nil, fmt.Errorf("no variable %s", name)
}

// set stores v under key, or deletes key when v is nil.
func set(m map[string]any, key string, v any) {
	if v == nil {
		delete(m, key)
		return
	}
	m[key] = v
}

// setIn returns a breakage that sets key to v in the object find picks.
func setIn(find func(map[string]any) (map[string]any, error), key string, v any) func(map[string]any) error {
	return func(raw map[string]any) error {
		x, err := find(raw)
		if err == nil {
			set(x, key, v)
		}
		return err
	}
}

func setVariable(name, key string, v any) func(map[string]any) error {
	return setIn(func(raw map[string]any) (map[string]any, error) { return rawVariable(raw, name) }, key, v)
}

func setPanel(title, key string, v any) func(map[string]any) error {
	return setIn(func(raw map[string]any) (map[string]any, error) { return rawPanel(raw, title) }, key, v)
}

func setTarget(title, ref, key string, v any) func(map[string]any) error {
	return setIn(func(raw map[string]any) (map[string]any, error) { return rawTarget(raw, title, ref) }, key, v)
}

func setUnit(title string, unit any) func(map[string]any) error {
	return func(raw map[string]any) error {
		p, err := rawPanel(raw, title)
		if err == nil {
			set(p["fieldConfig"].(map[string]any)["defaults"].(map[string]any), "unit", unit)
		}
		return err
	}
}

// replaceIn replaces old (which must be there) by new in s.
func replaceIn(s *string, old, new string) error {
	if !strings.Contains(*s, old) {
		return fmt.Errorf("%q not in %q", old, *s)
	}
	*s = strings.Replace(*s, old, new, 1)
	return nil
}

func replaceInTarget(title, ref, old, new string) func(map[string]any) error {
	return func(raw map[string]any) error {
		tg, err := rawTarget(raw, title, ref)
		if err != nil {
			return err
		}
		expr := tg["expr"].(string)
		err = replaceIn(&expr, old, new)
		tg["expr"] = expr
		return err
	}
}

func replaceInVariable(name, old, new string) func(map[string]any) error {
	return func(raw map[string]any) error {
		v, err := rawVariable(raw, name)
		if err != nil {
			return err
		}
		q := v["query"].(map[string]any)
		s := q["query"].(string)
		err = replaceIn(&s, old, new)
		q["query"] = s
		v["definition"] = s
		return err
	}
}
