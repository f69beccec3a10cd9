package monitoring

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
)

// restFixture is the REST side of one exporter's exposition (issue 9's
// metrics, the shapes of its contract) and the few events series the REST
// panels combine with, fixed so that every panel's truth is known.
type restFixture struct {
	load, loadLimit, participantLimit map[string]float64 // by node; absent: none
	callLegs                          map[string]float64
	expected                          float64 // cms_cluster_call_legs_expected
	alarms                            map[[2]string]float64
	// licences: node, feature → status; expiry in days from the start,
	// absent for none.
	licences map[[2]string]string
	expiry   map[[2]string]float64
	sizes    []float64          // participants of each current meeting
	calls    map[string]float64 // cms_call_participants by node (one call each, not distributed)
}

var fixtureNodes = []string{"cms1", "cms2", "cms3"}

// busyFixture: a load near its limit (cms3), a node without a load limit
// (cms2, which the fallback estimate shows), an old alarm, licences about
// to expire and an expired one, and 3 more call legs on the nodes than the
// meetings explain.
var busyFixture = restFixture{
	load:             map[string]float64{"cms1": 500, "cms2": 300, "cms3": 1950},
	loadLimit:        map[string]float64{"cms1": 1000, "cms3": 2000},
	participantLimit: map[string]float64{"cms1": 100},
	callLegs:         map[string]float64{"cms1": 10, "cms2": 7, "cms3": 4},
	expected:         18,
	alarms:           map[[2]string]float64{{"cms2", "recorderUnavailable"}: 7200},
	licences: map[[2]string]string{
		{"cms1", "callBridge"}: "activated", {"cms2", "callBridge"}: "activated", {"cms3", "callBridge"}: "activated",
		{"cms1", "recording"}: "noLicense", {"cms2", "recording"}: "noLicense", {"cms3", "recording"}: "expired",
	},
	expiry: map[[2]string]float64{
		{"cms1", "callBridge"}: 20, {"cms2", "callBridge"}: 20, {"cms3", "callBridge"}: 20, {"cms3", "recording"}: -1,
	},
	sizes: []float64{2, 5, 10, 28},
	calls: map[string]float64{"cms2": 30},
}

// calmFixture: the same node names, nothing to report.
var calmFixture = restFixture{
	load:      map[string]float64{"cms1": 100, "cms2": 100, "cms3": 100},
	loadLimit: map[string]float64{"cms1": 1000, "cms2": 1000, "cms3": 1000},
	callLegs:  map[string]float64{"cms1": 2, "cms2": 0, "cms3": 0},
	expected:  2,
	licences: map[[2]string]string{
		{"cms1", "callBridge"}: "activated", {"cms2", "callBridge"}: "activated", {"cms3", "callBridge"}: "activated",
	},
	expiry: map[[2]string]float64{{"cms1", "callBridge"}: 400, {"cms2", "callBridge"}: 400, {"cms3", "callBridge"}: 400},
	sizes:  []float64{2},
}

var meetingSizeBuckets = []float64{2, 3, 5, 10, 20, 50, 100, 200, 500, 1000}

// exposition writes the fixture in the text format; start is the time the
// expiry days count from.
func (f restFixture) exposition(start time.Time) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	now := float64(time.Now().UnixNano()) / 1e9
	gauge := func(name string, byNode map[string]float64) {
		p("# TYPE %s gauge", name)
		for _, n := range fixtureNodes {
			if v, ok := byNode[n]; ok {
				p("%s{node=%q} %g", name, n, v)
			}
		}
	}
	all := map[string]float64{"cms1": 1, "cms2": 1, "cms3": 1}
	gauge("cms_up", all)
	gauge("cms_rest_up", all)
	p("# TYPE cms_rest_request_failures_total counter")
	p("# TYPE cms_rest_last_success_timestamp_seconds gauge")
	for _, n := range fixtureNodes {
		for _, r := range []string{"status", "load", "cluster", "alarms", "licensing"} {
			p("cms_rest_request_failures_total{node=%q,resource=%q,reason=\"timeout\"} 0", n, r)
			p("cms_rest_last_success_timestamp_seconds{node=%q,resource=%q} %f", n, r, now-2)
		}
	}
	gauge("cms_node_media_processing_load", f.load)
	gauge("cms_node_load_limit", f.loadLimit)
	gauge("cms_node_participant_limit", f.participantLimit)
	gauge("cms_node_call_legs", f.callLegs)
	legs := 0.0
	for _, v := range f.callLegs {
		legs += v
	}
	p("# TYPE cms_cluster_call_legs gauge\ncms_cluster_call_legs %g", legs)
	p("# TYPE cms_cluster_call_legs_expected gauge\ncms_cluster_call_legs_expected %g", f.expected)
	p("# TYPE cms_cluster_call_legs_drift gauge\ncms_cluster_call_legs_drift %g", legs-f.expected)
	p("# TYPE cms_node_alarm_active_seconds gauge")
	for k, v := range f.alarms {
		p("cms_node_alarm_active_seconds{node=%q,type=%q} %g", k[0], k[1], v)
	}
	p("# TYPE cms_license_status gauge")
	for k, status := range f.licences {
		for _, s := range []string{"noLicense", "activated", "expired", "other"} {
			v := 0
			if s == status {
				v = 1
			}
			p("cms_license_status{node=%q,feature=%q,status=%q} %d", k[0], k[1], s, v)
		}
	}
	p("# TYPE cms_license_expiry_timestamp_seconds gauge")
	for k, days := range f.expiry {
		p("cms_license_expiry_timestamp_seconds{node=%q,feature=%q} %f", k[0], k[1], float64(start.Unix())+days*86400)
	}
	p("# TYPE cms_cluster_meetings gauge\ncms_cluster_meetings{call_type=\"coSpace\"} %d", len(f.sizes))
	p("# TYPE cms_cluster_meeting_participants histogram")
	sum := 0.0
	for _, s := range f.sizes {
		sum += s
	}
	for _, le := range meetingSizeBuckets {
		n := 0
		for _, s := range f.sizes {
			if s <= le {
				n++
			}
		}
		p("cms_cluster_meeting_participants_bucket{le=\"%g\"} %d", le, n)
	}
	p("cms_cluster_meeting_participants_bucket{le=\"+Inf\"} %d", len(f.sizes))
	p("cms_cluster_meeting_participants_sum %g\ncms_cluster_meeting_participants_count %d", sum, len(f.sizes))
	gauge("cms_node_capacity_participants", map[string]float64{"cms1": 60, "cms2": 60, "cms3": 60})
	p("# TYPE cms_call_participants gauge\n# TYPE cms_call_distributed_instances gauge")
	for _, n := range fixtureNodes {
		if v, ok := f.calls[n]; ok {
			p("cms_call_participants{node=%q,call=\"c1\"} %g", n, v)
			p("cms_call_distributed_instances{node=%q,call=\"c1\"} 0", n)
		}
	}
	return b.String()
}

// serveFixture serves the fixture as /metrics on 127.0.0.1 until the test
// ends, and returns host:port.
func serveFixture(t *testing.T, f restFixture, start time.Time) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(f.exposition(start)))
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestEndToEndRESTFixture: the dashboards' REST panels and the REST rules
// (issue 9) on real Prometheus servers, before the exporter serves the
// metrics: two look-alike exporters (same node names), one busy and one
// calm, are stood in for by fixed expositions shaped by issue 9's contract,
// scraped in one job with the rules loaded. With both exporters picked,
// key panels equal the fixtures' truth (each exporter apart, or the total,
// or the highest, as the panel says); every REST query runs and returns
// data (but demoMayBeEmpty's); exactly the alerts the busy fixture calls
// for fire, with its labels, and none for the calm one. It proves the
// queries (Prometheus 3 writes histogram bounds as 2.0, 2.x as 2), not the
// exporter: TestEndToEndDemo does that once the exporter serves them.
func TestEndToEndRESTFixture(t *testing.T) {
	servers, ds := e2eSetupServers(t)
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { endToEndRESTFixture(t, srv.bin, ds, groups) })
	}
}

func endToEndRESTFixture(t *testing.T, promBin string, ds []*Dashboard, groups *rulefmt.RuleGroups) {
	start := time.Now()
	busy := serveFixture(t, busyFixture, start)
	calm := serveFixture(t, calmFixture, start)
	prom := startPrometheusTargets(t, promBin, "cms", []string{busy, calm}, groups)
	eventuallySeries(t, prom, 30*time.Second, "Prometheus scrapes both fixtures", `cms_rest_up{job="cms"}`, 6)
	vars, _, err := resolveVars(prom, ds, Vars{"node": ".*", "__rate_interval": "5m"}, selection{})
	if err != nil {
		t.Fatal(err)
	}
	dashboards := byUID(ds)

	t.Run("REST queries return data", func(t *testing.T) { restQueriesAnswer(t, prom, ds, vars, 10*time.Second) })
	t.Run("panels equal the fixtures", func(t *testing.T) {
		perNode := func(busyV, calmV map[string]float64) map[string]float64 {
			out := map[string]float64{}
			for n, v := range busyV {
				out[busy+" "+n] = v
			}
			for n, v := range calmV {
				out[calm+" "+n] = v
			}
			return out
		}
		one := func(v float64) map[string]float64 { return map[string]float64{"": v} }
		both := func(b, c float64) map[string]float64 { return map[string]float64{busy: b, calm: c} }
		cases := []struct {
			uid, panel, ref string
			keys            []string
			want            map[string]float64
		}{
			{"cms-capacity", "Call legs", "A", nil, one(21 + 2)},
			{"cms-capacity", "Busiest node (media load)", "A", nil, one(0.975)},
			{"cms-capacity", "Alarms", "A", nil, one(1)},
			{"cms-capacity", "Media load vs limit", "A", []string{"instance", "node"},
				perNode(map[string]float64{"cms1": 0.5, "cms3": 0.975}, map[string]float64{"cms1": 0.1, "cms2": 0.1, "cms3": 0.1})},
			// The estimate only for the node without a load limit: cms2's
			// call of 30 over its capacity of 60.
			{"cms-capacity", fallbackPanel, "A", []string{"instance", "node"}, perNode(map[string]float64{"cms2": 0.5}, nil)},
			{"cms-capacity", "Call legs per node", "B", []string{"instance", "node"}, perNode(map[string]float64{"cms1": 100}, nil)},
			{"cms-capacity", "Meeting size", "C", []string{"instance"}, both(11.25, 2)},
			{"cms-capacity", "Meetings by size", "A", []string{"instance"}, both(1, 1)},
			{"cms-capacity", "Meetings by size", "B", []string{"instance"}, both(2, 0)},
			{"cms-capacity", "Meetings by size", "C", []string{"instance"}, both(1, 0)},
			{"cms-capacity", "Meetings by size", "D", []string{"instance"}, both(0, 0)},
			{"cms-capacity", "Meetings by size", "F", []string{"instance"}, both(0, 0)},
			{"cms-capacity", "Active alarms", "A", []string{"instance", "node", "type"}, map[string]float64{busy + " cms2 recorderUnavailable": 7200}},
			{"cms-exporter-health", "Events model drift", "A", []string{"instance"}, both(3, 0)},
			{"cms-exporter-health", "Call legs: nodes vs events model", "B", []string{"instance"}, both(18, 2)},
			{"cms-exporter-health", "REST API per node", "A", []string{"instance", "node"},
				perNode(map[string]float64{"cms1": 1, "cms2": 1, "cms3": 1}, map[string]float64{"cms1": 1, "cms2": 1, "cms3": 1})},
		}
		for _, c := range cases {
			expr, err := dashboardExpr(dashboards, vars, c.uid, c.panel, c.ref)
			if err != nil {
				t.Fatal(err)
			}
			s, err := prom.query(expr, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := byLabels(s, c.keys...)
			if err == nil && !closeMaps(got, c.want) {
				err = fmt.Errorf("got %v, want %v", got, c.want)
			}
			if err != nil {
				t.Errorf("%s / %s %s: %v", c.uid, c.panel, c.ref, err)
			}
		}
		// Days left: the time passes while the test runs.
		expr, err := dashboardExpr(dashboards, vars, "cms-capacity", "Licences", "B")
		if err != nil {
			t.Fatal(err)
		}
		s, err := prom.query(expr, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := byLabels(s, "instance", "node", "feature", "status")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{}
		for _, f := range []struct {
			instance string
			fx       restFixture
		}{{busy, busyFixture}, {calm, calmFixture}} {
			for k, days := range f.fx.expiry {
				want[f.instance+" "+k[0]+" "+k[1]+" "+f.fx.licences[k]] = days
			}
		}
		elapsed := time.Since(start).Hours() / 24
		for k, w := range want {
			if g, ok := got[k]; !ok || math.Abs(g-(w-elapsed)) > 0.01 {
				t.Errorf("Licences B: %s: %v days left, want %v", k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("Licences B: %d rows, want %d: %v", len(got), len(want), got)
		}
	})
	t.Run("alerts", func(t *testing.T) {
		want := []string{
			`firing CMSEventModelDrift{instance="busy",job="cms",severity="warning"}`,
			`firing CMSLicenseExpired{feature="recording",instance="busy",job="cms",node="cms3",severity="critical",status="expired"}`,
			`firing CMSLicenseExpiringSoon{feature="callBridge",instance="busy",job="cms",node="cms1",severity="warning"}`,
			`firing CMSLicenseExpiringSoon{feature="callBridge",instance="busy",job="cms",node="cms2",severity="warning"}`,
			`firing CMSLicenseExpiringSoon{feature="callBridge",instance="busy",job="cms",node="cms3",severity="warning"}`,
			`firing CMSLicenseExpiringVerySoon{feature="callBridge",instance="busy",job="cms",node="cms1",severity="critical"}`,
			`firing CMSLicenseExpiringVerySoon{feature="callBridge",instance="busy",job="cms",node="cms2",severity="critical"}`,
			`firing CMSLicenseExpiringVerySoon{feature="callBridge",instance="busy",job="cms",node="cms3",severity="critical"}`,
			`firing CMSMediaLoadCritical{instance="busy",job="cms",node="cms3",severity="critical"}`,
			`firing CMSMediaLoadHigh{instance="busy",job="cms",node="cms3",severity="warning"}`,
			`firing CMSNodeAlarmActive{instance="busy",job="cms",node="cms2",severity="warning",type="recorderUnavailable"}`,
		}
		var got []string
		eventually(t, e2eFor+30*time.Second, "the busy fixture's alerts fire, the calm one's none", func() error {
			as, err := prom.alerts()
			if err != nil {
				return err
			}
			got = got[:0]
			for _, a := range as {
				switch a.Labels["instance"] {
				case busy:
					a.Labels["instance"] = "busy"
				case calm:
					a.Labels["instance"] = "calm"
				}
				got = append(got, a.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("alerts:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			return nil
		})
		checkRulesHealthy(t, prom, groups)
	})
}
