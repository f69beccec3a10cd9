package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

const dashboardsDir = "../dashboards"

// Sentinel values for the static checks: a query that uses $job must end up
// with job="<jobSentinel>", and every rate range must be the
// $__rate_interval sentinel.
const (
	jobSentinel      = "sentinel-job"
	instanceSentinel = "sentinel-instance:1"
	rateSentinel     = "17m13s"
)

func staticVars() Vars {
	return Vars{
		"datasource":      "sentinel-datasource",
		"job":             jobSentinel,
		"instance":        instanceSentinel,
		"node":            ".*",
		"meeting":         "00000000-0000-4000-8000-000000000000",
		"__rate_interval": rateSentinel,
	}
}

// allowedPanels are Grafana's current React panels the dashboards may use;
// everything else (graph, singlestat, table-old, ...) is Angular or
// unneeded.
var allowedPanels = []string{"timeseries", "stat", "table", "bargauge", "gauge"}

// uidPattern keeps uids short, stable and URL-safe (Grafana allows 40).
var uidPattern = regexp.MustCompile(`^cms-[a-z0-9-]{1,36}$`)

func TestDashboardConventions(t *testing.T) {
	dashboards, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for _, d := range dashboards {
		t.Run(d.File, func(t *testing.T) {
			fail := func(format string, args ...any) { t.Errorf("%s: %s", d.File, fmt.Sprintf(format, args...)) }
			if !uidPattern.MatchString(d.UID) {
				fail("uid %q does not match %s", d.UID, uidPattern)
			}
			if other, dup := uids[d.UID]; dup {
				fail("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = d.File
			if strings.TrimSpace(d.Title) == "" || strings.TrimSpace(d.Description) == "" {
				fail("dashboard needs a title and a description")
			}
			if d.SchemaVersion < 39 {
				fail("schemaVersion %d, want >= 39", d.SchemaVersion)
			}
			if d.Editable {
				fail("editable must be false (provisioned dashboards are changed in the repository)")
			}
			if _, ok := d.Raw["__inputs"]; ok {
				fail("__inputs: an export for sharing binds a datasource at import; use the datasource variable")
			}
			checkVariables(t, d)
			checkDatasourceRefs(t, d.File, "", d.Raw)
			seenIDs := map[int]bool{}
			for _, p := range d.AllPanels() {
				where := fmt.Sprintf("panel %q", p.Title)
				if !slices.Contains(allowedPanels, p.Type) {
					fail("%s: type %q is not one of %v", where, p.Type, allowedPanels)
				}
				if seenIDs[p.ID] {
					fail("%s: id %d reused", where, p.ID)
				}
				seenIDs[p.ID] = true
				if strings.TrimSpace(p.Title) == "" || strings.TrimSpace(p.Description) == "" {
					fail("%s (id %d): needs a title and a description", where, p.ID)
				}
				if p.FieldConfig.Defaults.Unit == "" {
					fail("%s: no unit (fieldConfig.defaults.unit)", where)
				}
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
					fail("%s: datasource must be {type: prometheus, uid: ${datasource}}, got %+v", where, p.Datasource)
				}
				if len(p.Targets) == 0 {
					fail("%s: no query", where)
				}
				for _, tg := range p.Targets {
					if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
						fail("%s %s: target datasource %+v", where, tg.RefID, tg.Datasource)
					}
					if strings.TrimSpace(tg.Expr) == "" {
						fail("%s %s: empty expr", where, tg.RefID)
					}
				}
			}
		})
	}
}

// checkVariables: a datasource variable of type prometheus, and job,
// instance and node query variables that use it.
func checkVariables(t *testing.T, d *Dashboard) {
	t.Helper()
	byName := map[string]Variable{}
	for _, v := range d.Templating.List {
		byName[v.Name] = v
	}
	ds, ok := byName["datasource"]
	if !ok || ds.Type != "datasource" {
		t.Errorf("%s: no datasource variable", d.File)
	} else if q, _ := ds.QueryString(); q != "prometheus" {
		t.Errorf("%s: datasource variable query %q, want prometheus", d.File, q)
	}
	for _, name := range []string{"job", "instance", "node"} {
		if v, ok := byName[name]; !ok || v.Type != "query" {
			t.Errorf("%s: no %s query variable", d.File, name)
		}
	}
	if v := byName["node"]; !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
		t.Errorf("%s: node must be multi-value with All = .* (it is used as node=~\"$node\")", d.File)
	}
	for _, name := range []string{"job", "instance"} {
		if v := byName[name]; v.Multi || v.IncludeAll {
			t.Errorf("%s: %s must be single-valued: two exporters watching one cluster would be counted twice", d.File, name)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("%s: variable %s must use the datasource variable, got %+v", d.File, v.Name, v.Datasource)
		}
	}
}

// checkDatasourceRefs walks the whole document: any datasource reference
// must be the variable (or Grafana's built-in annotation source).
func checkDatasourceRefs(t *testing.T, file, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "." + k
			if k == "datasource" {
				switch ref := val.(type) {
				case string:
					if ref != "${datasource}" {
						t.Errorf("%s: %s: hard-coded datasource %q", file, p, ref)
					}
				case map[string]any:
					uid, _ := ref["uid"].(string)
					typ, _ := ref["type"].(string)
					if uid != "${datasource}" && !(typ == "grafana" && uid == "-- Grafana --") {
						t.Errorf("%s: %s: hard-coded datasource %v", file, p, ref)
					}
				}
			}
			checkDatasourceRefs(t, file, p, val)
		}
	case []any:
		for i, val := range x {
			checkDatasourceRefs(t, file, fmt.Sprintf("%s[%d]", path, i), val)
		}
	}
}

// TestDashboardQueriesParse: every panel and variable query parses with
// Prometheus' parser once Grafana's variables are substituted, every
// selector is scoped to the chosen job and instance, every rate-like
// function uses $__rate_interval, and every selector names its metric.
func TestDashboardQueriesParse(t *testing.T) {
	dashboards, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, d := range dashboards {
		queries, err := d.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			total++
			where := d.File + ": " + q.Where
			expr, err := Substitute(q.Expr, staticVars())
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			e, err := ParseExpr(expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if _, err := MetricNames(e); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			for _, r := range RateRanges(e) {
				if r.Range != rateSentinel {
					t.Errorf("%s: %s over [%s]: use [$__rate_interval]", where, r.Func, r.Range)
				}
			}
			if q.Where == "variable job" {
				continue // the job variable lists the jobs: it cannot be scoped to one
			}
			for _, vs := range Selectors(e) {
				job, inst := Matcher(vs, "job"), Matcher(vs, "instance")
				if job == nil || job.Type != labels.MatchEqual || job.Value != jobSentinel {
					t.Errorf("%s: selector %s is not scoped with job=\"$job\"", where, vs)
				}
				if q.Where == "variable instance" {
					continue
				}
				if inst == nil || inst.Type != labels.MatchEqual || inst.Value != instanceSentinel {
					t.Errorf("%s: selector %s is not scoped with instance=\"$instance\"", where, vs)
				}
				if n := Matcher(vs, "node"); n != nil && (n.Type != labels.MatchRegexp || n.Value != ".*") {
					t.Errorf("%s: selector %s: filter nodes with node=~\"$node\" (the variable is multi-valued)", where, vs)
				}
			}
		}
	}
	t.Logf("%d dashboards, %d queries parsed", len(dashboards), total)
}

// TestSubstituteRejectsUnknownVariables: the check above relies on it.
func TestSubstituteRejectsUnknownVariables(t *testing.T) {
	if _, err := Substitute(`up{job="$jbo"}`, staticVars()); err == nil {
		t.Error("a misspelt variable was accepted")
	}
	got, err := Substitute(`rate(x{job="${job}", node=~"${node:regex}"}[$__rate_interval])`, staticVars())
	if err != nil {
		t.Fatal(err)
	}
	if want := `rate(x{job="sentinel-job", node=~".*"}[17m13s])`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
