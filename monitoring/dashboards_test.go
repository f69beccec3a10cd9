package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

const dashboardsDir = "../dashboards"

// Sentinel values for the static checks: a query that uses $job must end up
// with job=~"<jobSentinel>", and every rate range must be the
// $__rate_interval sentinel. The meeting variable's value is a correlator
// followed by the matchers of the meeting's exporter (see meetingValue).
const (
	jobSentinel             = "sentinel-job"
	instanceSentinel        = "sentinel-instance:1"
	rateSentinel            = "17m13s"
	meetingJobSentinel      = "sentinel-meeting-job"
	meetingInstanceSentinel = "sentinel-meeting-instance:2"
)

// meetingValue is the value the Calls dashboard's meeting variable gives a
// meeting (its regex cuts it out of the query_result text): the
// correlator, then the matchers of the exporter that reports the meeting,
// so that correlator="${meeting:raw}" selects exactly that meeting.
func meetingValue(correlator, instance, job string) string {
	return correlator + `",instance="` + instance + `",job="` + job
}

func staticVars() Vars {
	return Vars{
		"datasource":      "sentinel-datasource",
		"job":             jobSentinel,
		"instance":        instanceSentinel,
		"node":            ".*",
		"meeting":         meetingValue("00000000-0000-4000-8000-000000000000", meetingInstanceSentinel, meetingJobSentinel),
		"__rate_interval": rateSentinel,
	}
}

// allowedPanels are Grafana's current React panels the dashboards may use;
// everything else (graph, singlestat, table-old, ...) is Angular or
// unneeded. All of them show numbers, so all need a unit.
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
			if v, ok := variable(d, "node"); !ok || v.Type != "query" || !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
				fail("node must be a multi-value query variable with All = .* (it is used as node=~\"$node\", always next to the job and instance matchers)")
			}
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
				if len(p.Targets) == 0 {
					fail("%s: no query", where)
				}
				for _, tg := range p.Targets {
					if strings.TrimSpace(tg.Expr) == "" {
						fail("%s %s: empty expr", where, tg.RefID)
					}
				}
			}
		})
	}
}

// TestDashboardQueriesParse: every panel and variable query parses with
// Prometheus' parser once Grafana's variables are substituted, every
// selector names its metric, nodes are filtered with node=~"$node", and the
// meeting variable is only used as correlator="${meeting:raw}".
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
			for _, vs := range Selectors(e) {
				if n := Matcher(vs, "node"); n != nil && (n.Type != labels.MatchRegexp || n.Value != ".*") {
					t.Errorf("%s: selector %s: filter nodes with node=~\"$node\" (the variable is multi-valued)", where, vs)
				}
			}
			uses := 0
			for _, m := range grafanaVar.FindAllStringSubmatch(q.Expr, -1) {
				if m[1]+m[2] == "meeting" {
					uses++
				}
			}
			if n := strings.Count(q.Expr, `correlator="${meeting:raw}"`); n != uses {
				t.Errorf("%s: use the meeting variable as correlator=\"${meeting:raw}\" (its value carries the exporter's matchers; raw, so that Grafana does not escape their quotes)", where)
			}
		}
	}
	t.Logf("%d dashboards, %d queries parsed", len(dashboards), total)
}

// TestSubstituteRejectsUnknownVariables: the checks above rely on it.
func TestSubstituteRejectsUnknownVariables(t *testing.T) {
	if _, err := Substitute(`up{job="$jbo"}`, staticVars()); err == nil {
		t.Error("a misspelt variable was accepted")
	}
	got, err := Substitute(`rate(x{job=~"${job}", node=~"${node:regex}"}[$__rate_interval])`, staticVars())
	if err != nil {
		t.Fatal(err)
	}
	if want := `rate(x{job=~"sentinel-job", node=~".*"}[17m13s])`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// lintQuery is one query of a dashboard, parsed with the static variables.
type lintQuery struct {
	Query
	expr parser.Expr // nil if it does not parse (TestDashboardQueriesParse says why)
	// pinned: the query selects one meeting through $meeting, whose value
	// carries its exporter's job and instance: it shows one cluster.
	pinned bool
}

func lintQueries(d *Dashboard) ([]lintQuery, error) {
	qs, err := d.Queries()
	if err != nil {
		return nil, err
	}
	out := make([]lintQuery, 0, len(qs))
	for _, q := range qs {
		lq := lintQuery{Query: q, pinned: slices.Contains(Variables(q.Expr), "meeting")}
		if s, err := Substitute(q.Expr, staticVars()); err == nil {
			lq.expr, _ = ParseExpr(s)
		}
		out = append(out, lq)
	}
	return out, nil
}

// lintRule is one rule the dashboards must follow: those of Grafana's
// dashboard-linter (https://github.com/grafana/dashboard-linter), which
// cannot be installed here, with the same names, and the project's own
// rules for dashboards that show several clusters at once. check returns
// the problems it finds.
type lintRule struct {
	name  string
	check func(d *Dashboard, qs []lintQuery) []string
}

var lintRules = []lintRule{
	// A datasource variable for Prometheus; nothing pinned as its value.
	{"template-datasource-rule", templateDatasourceRule},
	// Every panel, target and query variable uses ${datasource}, and no
	// datasource uid appears anywhere else in the document.
	{"panel-datasource-rule", panelDatasourceRule},
	// job and instance: multi-select query variables with All, whose All
	// is the listed values (the linter wants allValue .+; see templateMulti).
	{"template-job-rule", templateMulti("job")},
	{"template-instance-rule", templateMulti("instance")},
	// Every selector of every target and variable query (walked in the
	// parsed PromQL) has job=~"$job" and instance=~"$instance", except
	// the variables those depend on.
	{"target-job-rule", targetMatcher("job", jobSentinel, "job")},
	{"target-instance-rule", targetMatcher("instance", instanceSentinel, "job", "instance")},
	// No job or instance matcher but the variables' (no job="cms").
	{"target-hardcoded-job-rule", targetHardcodedJobRule},
	// A Grafana unit on every panel (all of them show numbers).
	{"panel-units-rule", panelUnitsRule},
	// rate, irate, increase and the other counter functions use
	// $__rate_interval.
	{"target-rate-interval-rule", targetRateIntervalRule},
	// Several clusters: no grouping or matching merges two clusters'
	// series (by and on list job and instance), unless pinned to one.
	{"target-cluster-grouping-rule", targetClusterGroupingRule},
	// Several clusters: a series that belongs to one cluster says which
	// (legend {{instance}}, or a visible instance column in tables).
	{"panel-cluster-legend-rule", panelClusterLegendRule},
	// Every {{label}} of a legend is a label the query's result carries.
	{"target-legend-labels-rule", targetLegendLabelsRule},
}

// TestDashboardLint applies every lint rule to every dashboard.
func TestDashboardLint(t *testing.T) {
	dashboards, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dashboards {
		qs, err := lintQueries(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range lintRules {
			for _, p := range r.check(d, qs) {
				t.Errorf("%s: [%s] %s", d.File, r.name, p)
			}
		}
	}
}

func variable(d *Dashboard, name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

const datasourceVar = "${datasource}"

func templateDatasourceRule(d *Dashboard, _ []lintQuery) []string {
	var errs []string
	n := 0
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			n++
		}
	}
	ds, ok := variable(d, "datasource")
	switch {
	case !ok || ds.Type != "datasource":
		return []string{"no variable datasource of type datasource"}
	case n != 1:
		errs = append(errs, fmt.Sprintf("%d datasource variables, want 1", n))
	}
	if q, _ := ds.QueryString(); q != "prometheus" {
		errs = append(errs, fmt.Sprintf("datasource variable query %q, want prometheus", q))
	}
	for _, raw := range d.Raw["templating"].(map[string]any)["list"].([]any) {
		v := raw.(map[string]any)
		if v["name"] != "datasource" {
			continue
		}
		if cur, _ := v["current"].(map[string]any); len(cur) > 0 {
			errs = append(errs, fmt.Sprintf("datasource variable has a current value %v: it pins a datasource of the author's Grafana", cur))
		}
	}
	return errs
}

func panelDatasourceRule(d *Dashboard, _ []lintQuery) []string {
	var errs []string
	for _, p := range d.AllPanels() {
		where := fmt.Sprintf("panel %q", p.Title)
		if p.Datasource == nil || p.Datasource.UID != datasourceVar || p.Datasource.Type != "prometheus" {
			errs = append(errs, fmt.Sprintf("%s: datasource must be {type: prometheus, uid: %s}, got %+v", where, datasourceVar, p.Datasource))
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != datasourceVar || tg.Datasource.Type != "prometheus" {
				errs = append(errs, fmt.Sprintf("%s %s: target datasource must be {type: prometheus, uid: %s}, got %+v", where, tg.RefID, datasourceVar, tg.Datasource))
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != datasourceVar) {
			errs = append(errs, fmt.Sprintf("variable %s must use the datasource variable, got %+v", v.Name, v.Datasource))
		}
	}
	return append(errs, datasourceRefs("", d.Raw)...)
}

// datasourceRefs walks the whole document: any datasource reference must
// be the variable (or Grafana's built-in annotation source).
func datasourceRefs(path string, v any) []string {
	var errs []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "." + k
			if k == "datasource" {
				switch ref := val.(type) {
				case string:
					if ref != datasourceVar {
						errs = append(errs, fmt.Sprintf("%s: hard-coded datasource %q", p, ref))
					}
				case map[string]any:
					uid, _ := ref["uid"].(string)
					typ, _ := ref["type"].(string)
					if uid != datasourceVar && !(typ == "grafana" && uid == "-- Grafana --") {
						errs = append(errs, fmt.Sprintf("%s: hard-coded datasource %v", p, ref))
					}
				}
			}
			errs = append(errs, datasourceRefs(p, val)...)
		}
	case []any:
		for i, val := range x {
			errs = append(errs, datasourceRefs(fmt.Sprintf("%s[%d]", path, i), val)...)
		}
	}
	return errs
}

// templateMulti: the variable exists, is a Prometheus query variable, and
// is multi-select with All. Its allValue stays empty, so that All is the
// values listed (an alternation of the exporters found); the linter's .+
// would also match every other target of the Prometheus in the panels on
// up, process_* and go_*.
func templateMulti(name string) func(d *Dashboard, _ []lintQuery) []string {
	return func(d *Dashboard, _ []lintQuery) []string {
		v, ok := variable(d, name)
		if !ok {
			return []string{"no variable " + name}
		}
		var errs []string
		if v.Type != "query" {
			errs = append(errs, fmt.Sprintf("variable %s: type %q, want query", name, v.Type))
		}
		if v.Datasource == nil || v.Datasource.UID != datasourceVar {
			errs = append(errs, fmt.Sprintf("variable %s: datasource %+v, want %s", name, v.Datasource, datasourceVar))
		}
		if !v.Multi || !v.IncludeAll {
			errs = append(errs, fmt.Sprintf("variable %s must be multi-select with All (multi %v, includeAll %v)", name, v.Multi, v.IncludeAll))
		}
		if v.AllValue != "" {
			errs = append(errs, fmt.Sprintf("variable %s: allValue %q; leave it empty so that All is the values listed, not a regex matching every target", name, v.AllValue))
		}
		return errs
	}
}

// targetMatcher: every selector has label=~"$label" (the static sentinel),
// except in the queries of the variables named in exempt.
func targetMatcher(label, sentinel string, exempt ...string) func(d *Dashboard, qs []lintQuery) []string {
	return func(_ *Dashboard, qs []lintQuery) []string {
		var errs []string
		for _, q := range qs {
			if q.expr == nil || slices.Contains(exempt, q.Variable) {
				continue
			}
			for _, vs := range Selectors(q.expr) {
				ok := slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
					return m.Name == label && m.Type == labels.MatchRegexp && m.Value == sentinel
				})
				if !ok {
					errs = append(errs, fmt.Sprintf("%s: selector %s lacks %s=~\"$%s\"", q.Where, vs, label, label))
				}
			}
		}
		return errs
	}
}

// targetHardcodedJobRule: a job or instance matcher is the variable's
// (=~ "$job") or comes from the meeting variable's value; anything else
// (job="cms") ties the dashboard to one setup.
func targetHardcodedJobRule(_ *Dashboard, qs []lintQuery) []string {
	allowed := map[string][2]string{
		"job":      {jobSentinel, meetingJobSentinel},
		"instance": {instanceSentinel, meetingInstanceSentinel},
	}
	var errs []string
	for _, q := range qs {
		if q.expr == nil {
			continue
		}
		for _, vs := range Selectors(q.expr) {
			for _, m := range vs.LabelMatchers {
				a, ok := allowed[m.Name]
				if !ok {
					continue
				}
				if !(m.Type == labels.MatchRegexp && m.Value == a[0]) && !(q.pinned && m.Type == labels.MatchEqual && m.Value == a[1]) {
					errs = append(errs, fmt.Sprintf("%s: selector %s: hard-coded %s", q.Where, vs, m))
				}
			}
		}
	}
	return errs
}

// grafanaUnits are the unit ids of Grafana's value formats that make sense
// for this exporter's figures.
var grafanaUnits = []string{
	"none", "short", "string", "locale", "sci", "percent", "percentunit",
	"ns", "µs", "ms", "s", "m", "h", "d", "dtdurationms", "dtdurations", "dthms", "dtdhms", "clockms", "clocks",
	"dateTimeAsIso", "dateTimeAsUS", "dateTimeAsLocal", "dateTimeAsSystem", "dateTimeFromNow",
	"bits", "bytes", "kbytes", "mbytes", "gbytes", "decbits", "decbytes", "deckbytes", "decmbytes", "decgbytes",
	"bps", "Bps", "binbps", "binBps", "pps",
	"hertz", "cps", "ops", "reqps", "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm",
	"bool", "bool_yes_no", "bool_on_off",
}

func panelUnitsRule(d *Dashboard, _ []lintQuery) []string {
	var errs []string
	for _, p := range d.AllPanels() {
		if u := p.FieldConfig.Defaults.Unit; !slices.Contains(grafanaUnits, u) {
			errs = append(errs, fmt.Sprintf("panel %q: unit %q (fieldConfig.defaults.unit) is not a Grafana unit", p.Title, u))
		}
		for _, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if u, _ := prop.Value.(string); prop.ID == "unit" && !slices.Contains(grafanaUnits, u) {
					errs = append(errs, fmt.Sprintf("panel %q: override unit %v is not a Grafana unit", p.Title, prop.Value))
				}
			}
		}
	}
	return errs
}

// targetRateIntervalRule: $__rate_interval is at least four scrape
// intervals, so a panel never shows gaps when zoomed in, whatever the
// scrape interval. No panel needs a fixed window.
func targetRateIntervalRule(_ *Dashboard, qs []lintQuery) []string {
	var errs []string
	for _, q := range qs {
		if q.expr == nil {
			continue
		}
		for _, r := range RateRanges(q.expr) {
			if r.Range != rateSentinel {
				errs = append(errs, fmt.Sprintf("%s: %s over [%s]: use [$__rate_interval]", q.Where, r.Func, r.Range))
			}
		}
	}
	return errs
}

func targetClusterGroupingRule(_ *Dashboard, qs []lintQuery) []string {
	var errs []string
	for _, q := range qs {
		if q.expr == nil || q.pinned {
			continue
		}
		for _, l := range LabelLists(q.expr) {
			hasJob, hasInst := slices.Contains(l.Labels, "job"), slices.Contains(l.Labels, "instance")
			switch {
			case (l.Kind == "by" || l.Kind == "on") && !(hasJob && hasInst):
				errs = append(errs, fmt.Sprintf("%s: %s (%s) merges the series of different clusters: add job and instance (in %s)", q.Where, l.Kind, strings.Join(l.Labels, ", "), l.Expr))
			case (l.Kind == "without" || l.Kind == "ignoring") && (hasJob || hasInst):
				errs = append(errs, fmt.Sprintf("%s: %s (%s) merges the series of different clusters (in %s)", q.Where, l.Kind, strings.Join(l.Labels, ", "), l.Expr))
			}
		}
	}
	return errs
}

func panelClusterLegendRule(d *Dashboard, qs []lintQuery) []string {
	var errs []string
	for _, q := range qs {
		if q.expr == nil || q.pinned || q.Variable != "" || !KeepsLabel(q.expr, "instance") {
			continue
		}
		if q.PanelType != "table" {
			if !strings.Contains(q.Legend, "{{instance}}") {
				errs = append(errs, fmt.Sprintf("%s: the series are per exporter; the legend %q must show {{instance}}", q.Where, q.Legend))
			}
			continue
		}
		p, _ := d.Panel(q.Panel)
		for _, tr := range p.Transformations {
			if tr.Options.ExcludeByName["instance"] {
				errs = append(errs, fmt.Sprintf("%s: the rows are per exporter; transformation %s must not hide the instance column", q.Where, tr.ID))
			}
		}
	}
	return errs
}

var legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

func targetLegendLabelsRule(_ *Dashboard, qs []lintQuery) []string {
	var errs []string
	for _, q := range qs {
		if q.expr == nil {
			continue
		}
		for _, m := range legendLabel.FindAllStringSubmatch(q.Legend, -1) {
			if !KeepsLabel(q.expr, m[1]) {
				errs = append(errs, fmt.Sprintf("%s: legend %q shows %s, which the query's result does not carry", q.Where, q.Legend, m[0]))
			}
		}
	}
	return errs
}

// TestBudgetBesideCoverage: a full subscription budget is why roster
// coverage drops below 1; the two panels sit side by side, at one height,
// so that an operator sees both at once.
func TestBudgetBesideCoverage(t *testing.T) {
	dashboards, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dashboards {
		if d.UID != "cms-exporter-health" {
			continue
		}
		var budget, coverage *Panel
		for _, p := range d.AllPanels() {
			switch {
			case p.Title == "Subscription budget used":
				budget = &p
			case p.Title == "Roster coverage" && p.Type == "timeseries":
				coverage = &p
			}
		}
		if budget == nil || coverage == nil {
			t.Fatal("no Subscription budget used, or no Roster coverage graph")
		}
		b, c := budget.GridPos, coverage.GridPos
		if b.Y != c.Y || b.H != c.H || (b.X+b.W != c.X && c.X+c.W != b.X) {
			t.Errorf("Subscription budget used at %+v, Roster coverage at %+v: not side by side", b, c)
		}
		return
	}
	t.Fatal("no dashboard cms-exporter-health")
}
