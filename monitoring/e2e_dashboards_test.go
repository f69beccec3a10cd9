package monitoring

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// panelExpr returns a dashboard query with the run's variable values.
func (e *e2e) panelExpr(t *testing.T, uid, panel, ref string) string {
	t.Helper()
	d, ok := e.dashboards[uid]
	if !ok {
		t.Fatalf("no dashboard %s", uid)
	}
	p, ok := d.Panel(panel)
	if !ok {
		t.Fatalf("%s: no panel %q", uid, panel)
	}
	tg, ok := p.Target(ref)
	if !ok {
		t.Fatalf("%s: panel %q has no query %s", uid, panel, ref)
	}
	expr, err := Substitute(tg.Expr, e.vars)
	if err != nil {
		t.Fatal(err)
	}
	return expr
}

// expectation: a dashboard query's result, keyed by one label, must equal
// want (exactly: same keys, values within 1e-9).
type expectation struct {
	uid, panel, ref, key string
	want                 map[string]float64
}

// dashboardsMatchTruth compares key dashboard queries with what the fake
// cluster's ground truth implies.
func (e *e2e) dashboardsMatchTruth(t *testing.T) {
	ctx := t.Context()
	e.must(e.cluster.WaitIdle(ctx))
	tr := e.cluster.Truth()
	e.vars["meeting"] = e.meetingCorrelator("Town Hall")

	one := func(v float64) map[string]float64 { return map[string]float64{"": v} }
	participants := func(m cmswstest.MeetingTruth) float64 {
		for n, id := range m.Calls {
			return float64(tr.Nodes[n].Calls[id].Participants)
		}
		return 0
	}
	count := func(m cmswstest.MeetingTruth, f func(cmswstest.ParticipantTruth) bool) float64 {
		c := 0.0
		for _, p := range m.Participants {
			if f(p) {
				c++
			}
		}
		return c
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	var (
		total, distributed, instances, recorded, streamed, locked, audioMuted float64
		perNode                                                               = map[string]float64{}
		load                                                                  = map[string]float64{}
		byName                                                                = map[string]map[string]float64{}
	)
	col := func(c string) map[string]float64 {
		if byName[c] == nil {
			byName[c] = map[string]float64{}
		}
		return byName[c]
	}
	for _, m := range tr.Meetings {
		p := participants(m)
		total += p
		if len(m.Calls) > 1 {
			distributed++
		}
		recorded += b2f(m.Recording)
		streamed += b2f(m.Streaming)
		locked += b2f(m.Locked)
		am := count(m, func(p cmswstest.ParticipantTruth) bool { return p.AudioMuted })
		audioMuted += am
		col("participants")[m.Name] = p
		col("nodes")[m.Name] = float64(len(m.Calls))
		col("recording")[m.Name] = b2f(m.Recording)
		col("locked")[m.Name] = b2f(m.Locked)
		col("audio")[m.Name] = am
		col("video")[m.Name] = count(m, func(p cmswstest.ParticipantTruth) bool { return p.VideoMuted })
		col("presenting")[m.Name] = count(m, func(p cmswstest.ParticipantTruth) bool { return p.Presenter })
	}
	instByCall := map[string]float64{}
	for n, nt := range tr.Nodes {
		perNode[n] = float64(len(nt.Calls))
		instances += float64(len(nt.Calls))
		for id, c := range nt.Calls {
			load[n] += float64(c.Participants) / float64(c.DistributedInstances+1)
			instByCall[id] = float64(c.Participants)
		}
	}
	util := map[string]float64{}
	for n, c := range capacities {
		util[n] = load[n] / c
	}
	th := tr.Meetings[e.vars["meeting"]]
	states := map[string]float64{"initial": 0, "ringing": 0, "connected": 0, "onHold": 0, "other": 0}
	for _, p := range th.Participants {
		states[p.State]++
	}

	exps := []expectation{
		{"cms-capacity", "Meetings", "A", "", one(float64(len(tr.Meetings)))},
		{"cms-capacity", "Participants", "A", "", one(total)},
		{"cms-capacity", "Distributed meetings", "A", "", one(distributed)},
		{"cms-capacity", "Call instances", "A", "", one(instances)},
		{"cms-capacity", "Call instances per node", "A", "node", perNode},
		{"cms-capacity", "Node utilisation", "A", "node", util},
		{"cms-capacity", "Busiest node", "A", "", one(slices.Max(mapValues(util)))},
		{"cms-capacity", "Estimated participants per node", "A", "node", load},
		{"cms-capacity", "Estimated participants per node", "B", "node", capacities},
		{"cms-capacity", "Top meetings by size", "A", "name", byName["participants"]},
		{"cms-capacity", "Locked / recorded / streamed", "A", "", one(locked)},
		{"cms-capacity", "Locked / recorded / streamed", "B", "", one(recorded)},
		{"cms-capacity", "Locked / recorded / streamed", "C", "", one(streamed)},
		{"cms-calls", "Live meetings", "A", "name", byName["participants"]},
		{"cms-calls", "Live meetings", "B", "name", byName["nodes"]},
		{"cms-calls", "Live meetings", "C", "name", byName["recording"]},
		{"cms-calls", "Live meetings", "E", "name", byName["locked"]},
		{"cms-calls", "Live meetings", "F", "name", byName["audio"]},
		{"cms-calls", "Live meetings", "G", "name", byName["video"]},
		{"cms-calls", "Live meetings", "H", "name", byName["presenting"]},
		{"cms-calls", "Call instances", "A", "call", instByCall},
		{"cms-calls", "Audio muted", "A", "", one(audioMuted)},
		{"cms-calls", "Meeting: participants", "A", "", one(participants(th))},
		{"cms-calls", "Meeting: hosting nodes", "A", "", one(float64(len(th.Calls)))},
		{"cms-calls", "Meeting: recording", "A", "", one(b2f(th.Recording))},
		{"cms-calls", "Meeting: participants by state", "B", "state", states},
		{"cms-calls", "Meeting: audio muted", "A", "", one(byName["audio"]["Town Hall"])},
		{"cms-exporter-health", "Node event streams", "A", "node", map[string]float64{"cms1": 1, "cms2": 1, "cms3": 1}},
		{"cms-exporter-health", "Roster coverage", "A", "", one(1)},
	}
	// Sanity: the scenario is rich enough for the comparison to mean
	// something (distributed meetings, mutes, a recording, a lock).
	if distributed == 0 || audioMuted == 0 || recorded == 0 || locked == 0 || util["cms1"] < 0.8 {
		t.Fatalf("scenario too poor: distributed %v, audio muted %v, recorded %v, locked %v, cms1 %v", distributed, audioMuted, recorded, locked, util["cms1"])
	}
	eventually(t, 30*time.Second, "dashboard queries equal the fake cluster's truth", func() error {
		var diffs []string
		for _, x := range exps {
			expr := e.panelExpr(t, x.uid, x.panel, x.ref)
			s, err := e.prom.query(expr, time.Time{})
			if err != nil {
				return err
			}
			got, err := byLabel(s, x.key)
			if err == nil && !closeMaps(got, x.want) {
				err = fmt.Errorf("got %v, want %v", got, x.want)
			}
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("%s / %s %s: %v", x.uid, x.panel, x.ref, err))
			}
		}
		// Subscription budget: each node has one connection with CMS's
		// budget of 100, used by its calls subscription plus one roster
		// subscription per meeting somewhere in the cluster.
		s, err := e.prom.query(e.panelExpr(t, "cms-exporter-health", "Subscription budget used", "A"), time.Time{})
		if err != nil {
			return err
		}
		used := 0.0
		for _, x := range s {
			used += 100 * x.Value
		}
		if want := float64(len(tr.Nodes) + len(tr.Meetings)); len(s) != len(tr.Nodes) || math.Abs(used-want) > 1e-9 {
			diffs = append(diffs, fmt.Sprintf("subscription budget used: %v subscriptions on %d connections, want %v on %d (a calls subscription per node + 1 roster per meeting)", used, len(s), want, len(tr.Nodes)))
		}
		if len(diffs) > 0 {
			return fmt.Errorf("\n  %s", strings.Join(diffs, "\n  "))
		}
		return nil
	})
}

// allQueriesAnswer runs every dashboard query (panels and variables)
// against Prometheus: none may fail, and each returns data now that the
// scenario exercised everything (errors, failures, leaves, moves). Data is
// waited for: after the nodes went down, a meeting's roster subscription
// may be moving to another node.
func (e *e2e) allQueriesAnswer(t *testing.T) {
	type query struct{ where, expr string }
	var qs []query
	for _, d := range e.dashboards {
		dqs, err := d.Queries()
		e.must(err)
		for _, q := range dqs {
			expr, err := Substitute(q.Expr, e.vars)
			e.must(err)
			qs = append(qs, query{d.File + ": " + q.Where, expr})
		}
	}
	eventually(t, 30*time.Second, "every dashboard query returns data", func() error {
		var empty []string
		for _, q := range qs {
			s, err := e.prom.query(q.expr, time.Time{})
			if err != nil {
				t.Fatalf("%s: %v", q.where, err)
			}
			if len(s) == 0 {
				empty = append(empty, q.where+": "+q.expr)
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("no data:\n  %s", strings.Join(empty, "\n  "))
		}
		return nil
	})
	t.Logf("%d dashboard queries answered with data", len(qs))
}

// metricNamesExist: every metric name in the dashboards and rules was
// exposed by the exporter during the run. Prometheus only scrapes the
// exporter, so its stored names are the exporter's plus those Prometheus
// itself writes for a target (up, scrape_*) and for alerts (ALERTS*).
func (e *e2e) metricNamesExist(t *testing.T, groups *rulefmt.RuleGroups) {
	have, err := e.prom.metricNames()
	e.must(err)
	cms := 0
	for n := range have {
		if strings.HasPrefix(n, "cms_") {
			cms++
		}
	}
	if cms < 30 {
		t.Fatalf("Prometheus stored only %d cms_* names: the scrape did not work", cms)
	}
	used := map[string][]string{} // name → where
	add := func(where, expr string) {
		x, err := Substitute(expr, e.vars)
		e.must(err)
		pe, err := ParseExpr(x)
		e.must(err)
		names, err := MetricNames(pe)
		e.must(err)
		for _, name := range names {
			used[name] = append(used[name], where)
		}
	}
	for _, d := range e.dashboards {
		qs, err := d.Queries()
		e.must(err)
		for _, q := range qs {
			add(d.File+" "+q.Where, q.Expr)
		}
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			add("rule "+r.Alert+r.Record, r.Expr)
		}
	}
	missing := 0
	for name, where := range used {
		if !have[name] {
			missing++
			t.Errorf("metric %s is not exposed by the exporter; used by %s", name, strings.Join(where, ", "))
		}
	}
	t.Logf("%d metric names used by dashboards and rules, %d not exposed", len(used), missing)
}

func closeMaps(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-w) > 1e-9 {
			return false
		}
	}
	return true
}

func mapValues(m map[string]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
