package monitoring

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

const readmeFile = "../README.md"

// issue9Families are the metric names issue 9 adds to the exporter: a
// node's own counters read over the CMS REST API, the REST poller's health,
// the events model compared with the nodes' call legs, and the meeting-size
// histogram (its series). The dashboards and rules use some of them before
// the exporter of this branch serves them. Once README's metrics table
// documents them (the exporter's TestREADMEMetricsTable keeps that table
// equal to the code), README is the reference for their names, and this
// list only says what data a query needs.
//
// rest: the series exist only for nodes the exporter polls over REST; a run
// without REST data (TestEndToEnd's fake clusters) cannot show them, the
// demo's (TestEndToEndDemo) must.
var issue9Families = map[string]issue9Family{
	"cms_rest_up":                                         {rest: true},
	"cms_rest_requests_total":                             {rest: true},
	"cms_rest_request_failures_total":                     {rest: true},
	"cms_rest_last_success_timestamp_seconds":             {rest: true},
	"cms_node_info":                                       {rest: true},
	"cms_node_uptime_seconds":                             {rest: true},
	"cms_node_activated":                                  {rest: true},
	"cms_node_cluster_enabled":                            {rest: true},
	"cms_node_call_legs":                                  {rest: true},
	"cms_node_call_legs_max":                              {rest: true},
	"cms_node_call_legs_completed_total":                  {rest: true},
	"cms_node_media_bytes_per_second":                     {rest: true},
	"cms_node_media_processing_load":                      {rest: true},
	"cms_node_load_limit":                                 {rest: true},
	"cms_node_participant_limit":                          {rest: true},
	"cms_node_alarm_active_seconds":                       {rest: true},
	"cms_license_status":                                  {rest: true},
	"cms_license_expiry_timestamp_seconds":                {rest: true},
	"cms_license_limit":                                   {rest: true},
	"cms_license_personal_limit":                          {rest: true},
	"cms_license_personal_assigned":                       {rest: true},
	"cms_license_shared_limit":                            {rest: true},
	"cms_license_capacity_units_limit":                    {rest: true},
	"cms_license_capacity_units_used":                     {rest: true},
	"cms_license_weighted_calls":                          {rest: true},
	"cms_license_weighted_calls_without_personal_license": {rest: true},
	// The nodes' call legs against the model: present only with every
	// node's status polled.
	"cms_cluster_call_legs":          {rest: true},
	"cms_cluster_call_legs_expected": {rest: true},
	"cms_cluster_call_legs_drift":    {rest: true},
	// The meeting-size histogram comes from the events model.
	"cms_cluster_meeting_participants_bucket": {},
	"cms_cluster_meeting_participants_sum":    {},
	"cms_cluster_meeting_participants_count":  {},
}

type issue9Family struct{ rest bool }

// readmeRow is a row of README's metrics table: | `name` | type | ...
var readmeRow = regexp.MustCompile("^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| (\\w+) \\|")

// readmeMetrics returns the families README's metrics table documents.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	begin, end := strings.Index(s, "<!-- metrics-table:begin -->"), strings.Index(s, "<!-- metrics-table:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no metrics table markers")
	}
	out := map[string]bool{}
	for _, line := range strings.Split(s[begin:end], "\n") {
		if m := readmeRow.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	if len(out) < 30 {
		t.Fatalf("README's metrics table: only %d rows read", len(out))
	}
	return out
}

// issue9Served reports whether the exporter of this tree serves issue 9's
// metrics: README's metrics table documents cms_rest_up. If not, it says
// what waits for it.
func issue9Served(t *testing.T) (bool, string) {
	t.Helper()
	if readmeMetrics(t)["cms_rest_up"] {
		return true, ""
	}
	return false, "the exporter of this tree does not serve issue 9's metrics yet (README's metrics table has no cms_rest_up)"
}

// histogramSuffix is what a classic histogram's series add to its family
// name.
var histogramSuffix = regexp.MustCompile(`_(bucket|sum|count)$`)

// family returns the documented family a series name belongs to, "" if
// none: the name itself, or the histogram whose series it is.
func family(name string, documented map[string]bool) string {
	if documented[name] {
		return name
	}
	if base := histogramSuffix.ReplaceAllString(name, ""); base != name && documented[base] {
		return base
	}
	return ""
}

// standardMetric: the names Prometheus writes itself (up, scrape_*, the
// alert state) and the client library's go_*, process_* and promhttp_*.
func standardMetric(name string) bool {
	switch name {
	case "up", "ALERTS", "ALERTS_FOR_STATE":
		return true
	}
	for _, p := range []string{"scrape_", "go_", "process_", "promhttp_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func isIssue9(name string) bool {
	_, ok := issue9Families[name]
	return ok
}

// needs says what data a query needs beyond the events: issue9, any of
// issue 9's families; rest, one that only REST polling brings.
func needs(e parser.Expr) (issue9, rest bool) {
	names, _ := MetricNames(e)
	for _, n := range names {
		if f, ok := issue9Families[n]; ok {
			issue9 = true
			rest = rest || f.rest
		}
	}
	return issue9, rest
}

// usedMetrics returns every metric name the dashboards (their queries with
// the static variables) and the rules use, with where.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	add := func(where, expr string) {
		e, err := ParseExpr(expr)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		names, err := MetricNames(e)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, n := range names {
			used[n] = append(used[n], where)
		}
	}
	ds, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		qs, err := d.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			s, err := Substitute(q.Expr, staticVars())
			if err != nil {
				t.Fatal(err)
			}
			add(d.File+": "+q.Where, s)
		}
	}
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			add("rule "+r.Alert+r.Record, r.Expr)
		}
	}
	return used
}

// TestDashboardAndRuleMetricsDocumented: every metric name the dashboards
// and the rules use is one README's metrics table documents (or the series
// of a documented histogram, or a name Prometheus or the client library
// writes): a misspelt name would otherwise only show as an empty panel or
// an alert that never fires. Issue 9's names are accepted undocumented
// while the exporter does not serve them; from then on, README decides.
func TestDashboardAndRuleMetricsDocumented(t *testing.T) {
	documented := readmeMetrics(t)
	served, why := issue9Served(t)
	var pending []string
	for name, where := range usedMetrics(t) {
		switch {
		case standardMetric(name), family(name, documented) != "":
		case !served && isIssue9(name):
			pending = append(pending, name)
		default:
			t.Errorf("%s is not in README's metrics table; used by %s", name, strings.Join(where, ", "))
		}
	}
	if len(pending) > 0 {
		slices.Sort(pending)
		t.Logf("%s: %d names of its metrics used, checked against issue 9's list only: %s", why, len(pending), strings.Join(pending, ", "))
	}
}
