package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// benchCollector holds calls calls on 3 nodes, in meetings of 3 instances.
func benchCollector(b *testing.B, calls int) *harness {
	h := newHarness(b, perCall)
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		h.c.AddNode(n)
		h.connect(n)
	}
	for i := range calls {
		n := nodes[i%len(nodes)]
		h.calls(n, add(fmt.Sprintf("call-%d", i), fmt.Sprintf("meeting-%d", i/len(nodes)), participants(i%50)))
	}
	for _, n := range nodes {
		h.sync(n, 0)
	}
	if !h.c.AllSynced() {
		b.Fatal("not synced")
	}
	return h
}

// BenchmarkCollect measures one scrape of 1,000 calls on 3 nodes (7 series
// each plus aggregates and self-metrics), consuming the channel as the
// registry does. "unchanged" is the common case (the model changed, so it
// is rendered again, but per-call series are cached since the last
// scrape); "all_changed" rebuilds every call's series; "reused" is a
// scrape of a model that did not change at all since the last one.
func BenchmarkCollect(b *testing.B) {
	for _, name := range []string{"unchanged", "all_changed", "reused"} {
		b.Run(name, func(b *testing.B) {
			h := benchCollector(b, 1000)
			ch := make(chan prometheus.Metric, 8192)
			b.ReportAllocs()
			for b.Loop() {
				if name != "reused" {
					h.c.mu.Lock() // counts as a change of the model
					if name == "all_changed" {
						for _, n := range h.c.nodes {
							for _, cl := range n.calls {
								cl.rendered = nil
							}
						}
					}
					h.c.mu.Unlock()
				}
				h.c.Collect(ch)
				for len(ch) > 0 {
					<-ch
				}
			}
		})
	}
}

// BenchmarkHandleCallUpdate measures one live callListUpdate changing a
// call's participants in a model of 1,000 calls.
func BenchmarkHandleCallUpdate(b *testing.B) {
	h := benchCollector(b, 1000)
	sub := subCalls
	idx := idxCalls
	msgs := make([]*cmsws.Message, 64)
	for i := range msgs {
		msgs[i] = &cmsws.Message{Type: cmsws.TypeCallListUpdate, SubscriptionIndex: &idx,
			CallUpdates: []cmsws.CallUpdate{upd(fmt.Sprintf("call-%d", i*3), participants(i), recording("active"))}}
	}
	ev := cmsws.Event{Kind: cmsws.EventMessage, Node: "a", Session: 1, Subscription: &sub}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev.Message = msgs[i%len(msgs)]
		h.c.Handle(ev)
		i++
	}
}

// rosterBench builds calls meetings (one call each, round-robin on 3
// nodes), each placed on its node and fed a snapshot of per participants
// through a live roster subscription.
func rosterBench(b *testing.B, calls, per int) *harness {
	b.Helper()
	h := newHarness(b, perCall)
	nodes := []string{"a", "b", "c"}
	for _, n := range nodes {
		h.c.AddNode(n)
		h.connect(n)
	}
	h.plan = map[string]planner.Connection{}
	for i := range calls {
		n := nodes[i%len(nodes)]
		id := fmt.Sprintf("call-%d", i)
		h.calls(n, add(id, fmt.Sprintf("meeting-%d", i), participants(per)))
		h.plan[fmt.Sprintf("meeting-%d", i)] = planner.Connection{Node: n}
	}
	for _, n := range nodes {
		h.sync(n, 0)
	}
	h.setPlan(nil, nil)
	ups := make([]cmsws.RosterUpdate, per)
	for i := range calls {
		n := nodes[i%len(nodes)]
		sub := rosterSub(100+i, fmt.Sprintf("call-%d", i))
		h.activate(n, 0, sub)
		for j := range ups {
			// Every fifth participant muted, one presenting, one speaking.
			ups[j] = padd(fmt.Sprintf("%s-%d", guid(i), j), audioMuted(j%5 == 0), presenter(j == 0), activeSpeaker(j == 1))
		}
		h.roster(n, 0, sub, ups...)
	}
	for _, n := range nodes {
		h.sync(n, 0)
	}
	if got := h.value("cms_roster_coverage_ratio"); got != 1 {
		b.Fatalf("coverage %v, want 1", got)
	}
	return h
}

// rosterSizes are the shapes of the roster scrape benchmarks: the issue's
// target (1000x20: /metrics within 20 ms, every cache cold), the same
// calls with 5 and 40 participants (the cost must be flat in the
// participants: 1000x5, 1000x20 and 1000x40 alike), and 100 calls with 20
// and 200 (the same, on fewer calls; 100x200 has the participants of
// 1000x20). The _unchanged variant is the steady state of a quiet cluster
// (all cached).
var rosterSizes = []struct {
	calls, per int
	cached     bool
}{{1000, 20, false}, {1000, 5, false}, {1000, 40, false}, {100, 200, false}, {100, 20, false}, {1000, 20, true}}

// changeModel takes the model lock, which counts as a change of the model
// (no render is reused), and with cold also drops every call's and
// roster's cached series.
func (h *harness) changeModel(cold bool) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if !cold {
		return
	}
	for _, m := range h.c.meetings {
		m.roster.rendered = nil
		for _, cl := range m.instances {
			cl.rendered = nil
		}
	}
}

// BenchmarkCollectRoster measures one scrape (Collect, channel drained as
// the registry does) of calls × participants, every call and roster changed
// since the last scrape (the worst case: the per-call and roster caches are
// cold). BenchmarkMetricsRoster adds the rest of /metrics to it.
func BenchmarkCollectRoster(b *testing.B) {
	for _, size := range rosterSizes {
		name := fmt.Sprintf("%dx%d", size.calls, size.per)
		if size.cached {
			name += "_unchanged"
		}
		b.Run(name, func(b *testing.B) {
			h := rosterBench(b, size.calls, size.per)
			ch := make(chan prometheus.Metric, 32768)
			b.ReportAllocs()
			for b.Loop() {
				h.changeModel(!size.cached)
				h.c.Collect(ch)
				for len(ch) > 0 {
					<-ch
				}
			}
		})
	}
}

// BenchmarkMetricsRoster measures what the target speaks of: a
// whole /metrics response (Gather, sorting, the text exposition, as
// promhttp serves it uncompressed) of calls × participants, every call and
// roster cache cold, the model alone on the registry. Its figure for 1000x20
// must stay within 20 ms, and the same for 1000x5 and 1000x40.
func BenchmarkMetricsRoster(b *testing.B) {
	for _, size := range rosterSizes {
		if size.cached {
			continue
		}
		b.Run(fmt.Sprintf("%dx%d", size.calls, size.per), func(b *testing.B) {
			h := rosterBench(b, size.calls, size.per)
			reg := prometheus.NewRegistry()
			reg.MustRegister(h.c)
			handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			var body int
			b.ReportAllocs()
			for b.Loop() {
				h.changeModel(true)
				w := &countingResponse{header: http.Header{}}
				handler.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				body = w.n
			}
			b.ReportMetric(float64(body)/1024, "body-KB")
		})
	}
}

// countingResponse is an http.ResponseWriter that counts the body's bytes
// and throws them away.
type countingResponse struct {
	header http.Header
	status int
	n      int
}

func (w *countingResponse) Header() http.Header { return w.header }
func (w *countingResponse) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
func (w *countingResponse) WriteHeader(status int) { w.status = status }

// captureUpdateShapes returns the roster "update"s of the 81-connection
// capture, in order: mostly activeSpeaker toggles, then state changes,
// mutes and layouts, as real meetings produce them.
func captureUpdateShapes(b *testing.B) []cmsws.RosterUpdate {
	var out []cmsws.RosterUpdate
	for _, l := range readCapture(b, "one-bridge-81-connections.jsonl") {
		if l.typ != cmsws.TypeRosterUpdate {
			continue
		}
		fr, err := cmsws.DecodeFrame(l.raw)
		if err != nil {
			b.Fatal(err)
		}
		for _, u := range fr.Message.RosterUpdates {
			if u.UpdateType == cmsws.UpdateUpdate {
				out = append(out, u)
			}
		}
	}
	return out
}

// BenchmarkApplyRosterUpdate measures the apply path (Handle of a live
// rosterUpdate message of one update, lock included) in a model of 1,000
// meetings × 20 participants, with the update shapes of the capture
// re-targeted round-robin at the model's participants. It reports
// updates/s on one core.
func BenchmarkApplyRosterUpdate(b *testing.B) {
	h := rosterBench(b, 1000, 20)
	shapes := captureUpdateShapes(b)
	counts := map[string]int{}
	for _, u := range shapes {
		switch {
		case u.ActiveSpeaker.State != cmsws.Absent:
			counts["activeSpeaker"]++
		case u.State.State != cmsws.Absent:
			counts["state"]++
		default:
			counts["other"]++
		}
	}
	b.Logf("%d update shapes from the capture: %v", len(shapes), counts)
	nodes := []string{"a", "b", "c"}
	evs := make([]cmsws.Event, 4096)
	for i := range evs {
		meeting := (i * 7) % 1000
		u := shapes[i%len(shapes)]
		u.Participant = fmt.Sprintf("%s-%d", guid(meeting), i%20)
		sub := rosterSub(100+meeting, fmt.Sprintf("call-%d", meeting))
		idx := sub.Index
		evs[i] = cmsws.Event{Kind: cmsws.EventMessage, Node: nodes[meeting%3], Session: 1, Subscription: &sub,
			Message: &cmsws.Message{Type: cmsws.TypeRosterUpdate, SubscriptionIndex: &idx, RosterUpdates: []cmsws.RosterUpdate{u}}}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.c.Handle(evs[i%len(evs)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	if got := h.errors("a", "unknown_participant"); got != 0 {
		b.Fatalf("unknown_participant = %v: the benchmark missed its participants", got)
	}
}

// BenchmarkRosterMemory measures the heap a roster costs per participant,
// built through Handle, live heap before and after (garbage collected),
// divided by the participants: 100 meetings × 1,000 participants (large
// rosters: the participants alone), and the 1,000 × 20 (the
// per-roster cost spread over fewer participants). Both must stay within
// 1 KB per participant.
func BenchmarkRosterMemory(b *testing.B) {
	for _, size := range []struct{ meetings, per int }{{100, 1000}, {1000, 20}} {
		b.Run(fmt.Sprintf("%dx%d", size.meetings, size.per), func(b *testing.B) {
			var perPart float64
			for b.Loop() {
				perPart = rosterHeap(b, size.meetings, size.per)
			}
			b.ReportMetric(perPart, "B/participant")
		})
	}
}

// rosterHeap builds meetings calls with a live roster subscription each on
// one node, then their rosters of per participants, and returns the live
// heap the rosters added, per participant.
func rosterHeap(b *testing.B, meetings, per int) float64 {
	h := newHarness(b, perCall)
	h.c.AddNode("a")
	h.connect("a")
	for i := range meetings {
		h.calls("a", add(fmt.Sprintf("call-%d", i), fmt.Sprintf("meeting-%d", i)))
	}
	h.sync("a", 0)
	subs := make([]cmsws.Subscription, meetings)
	for i := range subs {
		subs[i] = rosterSub(100+i, fmt.Sprintf("call-%d", i))
		h.activate("a", 0, subs[i])
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, sub := range subs {
		ups := make([]cmsws.RosterUpdate, per)
		for j := range ups {
			ups[j] = padd(guid(i*per+j), audioMuted(j%3 == 0))
		}
		h.roster("a", 0, sub, ups...)
	}
	h.sync("a", 0)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(meetings*per)
}
