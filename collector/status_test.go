package collector

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// Status copies what /metrics shows of nodes, meetings and coverage, with
// the largest meetings first, named as the name label would be, and the
// last connection error per node.
func TestStatus(t *testing.T) {
	h := newHarness(t, Options{PerCallMetrics: true, MeetingNames: NamesHash})
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.c.AddNode("c")
	h.synced("a", add("c1", "Big", participants(9), name("Board")), add("c2", "Mid", participants(5), name("Team")),
		add("c3", "Small", participants(1), name("Chat")))
	h.synced("b", add("c5", "Big", participants(9), name("Board")))
	h.connectOn("a", 1)
	h.ev("c", cmsws.Event{Kind: cmsws.EventConnectFailed, Reason: cmsws.ConnectFailureAuth, Err: errors.New("401 Unauthorized")})
	h.ev("c", cmsws.Event{Kind: cmsws.EventDisconnected, Reason: cmsws.DisconnectShutdown}) // ours: not an error
	h.ev("a", cmsws.Event{Kind: cmsws.EventProbe, Latency: 20 * time.Millisecond})
	h.plan = map[string]planner.Connection{"Big": {Node: "a", Number: 1}}
	setTestPlan(h.c, h.plan, []string{"Small"}, []string{"Mid"}, map[planner.Connection]int{{Node: "a"}: 1, {Node: "a", Number: 1}: 2, {Node: "b"}: 1},
		map[planner.Connection]int{{Node: "a", Number: 1}: 2})
	big := rosterSub(1, "c1")
	h.activate("a", 1, big)
	h.roster("a", 1, big, padd("p1"))
	h.sync("a", 1)

	s := h.c.Status(2)
	if s.Meetings != 3 || s.Participants != 15 {
		t.Errorf("meetings %d participants %d, want 3 and 15 (Big counted once)", s.Meetings, s.Participants)
	}
	if s.Covered != 1 || s.Skipped != 1 || s.Excluded != 1 || s.Pending != 0 || s.Ratio != 0.5 {
		t.Errorf("coverage %+v", s)
	}
	want := []MeetingStatus{
		{Name: nameLabel(NamesHash, "Board"), Participants: 9, Nodes: []string{"a", "b"}, Coverage: coverCovered,
			WatchedOn: planner.Connection{Node: "a", Number: 1}, Placed: true},
		{Name: nameLabel(NamesHash, "Team"), Participants: 5, Nodes: []string{"a"}, Coverage: coverExcluded},
	}
	if !reflect.DeepEqual(s.Largest, want) {
		t.Errorf("largest\n got %+v\nwant %+v", s.Largest, want)
	}
	if len(s.Nodes) != 3 || s.Nodes[0].Name != "a" || s.Nodes[2].Name != "c" {
		t.Fatalf("nodes %+v", s.Nodes)
	}
	a, c := s.Nodes[0], s.Nodes[2]
	if !a.Up || !a.Connected || !a.Synced || a.Calls != 3 || a.Probes != 1 || a.ProbeLatency != 20*time.Millisecond || a.LastMessage.IsZero() {
		t.Errorf("node a %+v", a)
	}
	wantConns := []ConnectionStatus{{Number: 0, Connected: true, Used: 1, Limit: 100, Planned: true},
		{Number: 1, Connected: true, Used: 2, Limit: 2, Planned: true}}
	if !reflect.DeepEqual(a.Connections, wantConns) {
		t.Errorf("a's connections %+v, want %+v", a.Connections, wantConns)
	}
	if c.Up || c.LastErrorReason != cmsws.ConnectFailureAuth || c.LastError != "connection 0: 401 Unauthorized" || c.LastErrorAt.IsZero() {
		t.Errorf("node c %+v", c)
	}
	h.c.SetMeetingNames(NamesOmit)
	if got := h.c.Status(1).Largest[0].Name; got != "" {
		t.Errorf("name %q with meeting_names omit", got)
	}
}

// BenchmarkStatus measures one status page's copy of a model of 1,000
// calls on 3 nodes (334 meetings), beside BenchmarkCollect's scrape of the
// same model: a page view should cost no more than a scrape.
func BenchmarkStatus(b *testing.B) {
	h := benchCollector(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if s := h.c.Status(20); len(s.Largest) != 20 {
			b.Fatalf("%d largest", len(s.Largest))
		}
	}
}
