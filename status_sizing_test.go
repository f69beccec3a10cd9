package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// seriesSizes are the series counts the README's sizing table gives.
type seriesSizes struct {
	perNode, perConnection, perCall, perRoster, cluster int
}

// goldenSizes derives the series counts from the golden exposition (a
// fixed scenario: 3 nodes with 2 events connections each, call instances
// of which some have their meeting's roster watched), so the README's
// numbers follow the code. A family with a call label is per call instance
// when every instance has its series, per watched roster otherwise; a
// series with a connection label is per connection; the stated capacity
// (optional) is left out of the per-node count.
func goldenSizes(t *testing.T) seriesSizes {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "scenario.prom"))
	ok(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	ok(t, err)
	labels := func(m *dto.Metric) map[string]string {
		out := map[string]string{}
		for _, l := range m.GetLabel() {
			out[l.GetName()] = l.GetValue()
		}
		return out
	}
	series := func(f *dto.MetricFamily) int {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			return len(f.GetMetric()) * (len(f.GetMetric()[0].GetHistogram().GetBucket()) + 2) // buckets (+Inf parsed as one), sum, count
		}
		return len(f.GetMetric())
	}
	instances := len(fams["cms_call_info"].GetMetric())
	var watched int
	for _, m := range fams["cms_roster_meetings"].GetMetric() {
		if labels(m)["state"] == "covered" {
			watched = int(m.GetGauge().GetValue())
		}
	}
	nodes, conns := map[string]int{}, map[string]bool{}
	var callSeries, rosterSeries, connSeries, cluster int
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			l := labels(m)
			switch {
			case l["call"] != "" && len(f.GetMetric()) == instances:
				callSeries++
			case l["call"] != "":
				rosterSeries++
			case l["connection"] != "":
				connSeries++
				conns[l["node"]+"/"+l["connection"]] = true
			case name == "cms_node_capacity_participants":
			case l["node"] != "":
				nodes[l["node"]]++
			}
		}
		if len(f.GetMetric()) > 0 && labels(f.GetMetric()[0])["node"] == "" && labels(f.GetMetric()[0])["call"] == "" {
			cluster += series(f)
		}
	}
	if instances == watched || watched == 0 {
		t.Fatalf("the golden scenario must watch some rosters but not all (%d of %d instances): per call and per roster families cannot be told apart", watched, instances)
	}
	s := seriesSizes{perCall: callSeries / instances, perRoster: rosterSeries / watched, perConnection: connSeries / len(conns), cluster: cluster}
	if callSeries%instances != 0 || rosterSeries%watched != 0 || connSeries%len(conns) != 0 {
		t.Fatalf("series do not divide evenly: %d per-call series for %d instances, %d roster series for %d rosters, %d connection series for %d connections",
			callSeries, instances, rosterSeries, watched, connSeries, len(conns))
	}
	for n, c := range nodes {
		if s.perNode == 0 {
			s.perNode = c
		} else if c != s.perNode {
			t.Fatalf("node %s has %d series, another %d", n, c, s.perNode)
		}
	}
	return s
}

// The README's sizing table gives the series counts of the golden
// exposition.
func TestREADMESizing(t *testing.T) {
	want := goldenSizes(t)
	t.Logf("golden exposition: %+v", want)
	readme, err := os.ReadFile("README.md")
	ok(t, err)
	s := string(readme)
	begin, end := strings.Index(s, "<!-- sizing:begin -->"), strings.Index(s, "<!-- sizing:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no sizing markers (<!-- sizing:begin --> … <!-- sizing:end -->)")
	}
	row := regexp.MustCompile(`^\| ([^|]+?) \| \*\*(\d+)\*\* \|`)
	got := map[string]int{}
	for _, line := range strings.Split(s[begin:end], "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			got[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	for what, n := range map[string]int{
		"per node":                           want.perNode,
		"per events connection":              want.perConnection,
		"per call instance":                  want.perCall,
		"per watched roster":                 want.perRoster,
		"for the cluster, whatever its size": want.cluster,
	} {
		if got[what] != n {
			t.Errorf("README sizing %q: %d, the golden exposition says %d", what, got[what], n)
		}
	}
}
