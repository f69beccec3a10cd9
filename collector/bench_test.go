package collector

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cms-exporter/cms_exporter/cmsws"
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
	h.advance(h.c.quiet)
	if !h.c.AllSynced() {
		b.Fatal("not synced")
	}
	return h
}

// BenchmarkCollect measures one scrape of 1,000 calls on 3 nodes (7 series
// each plus aggregates and self-metrics), consuming the channel as the
// registry does. "unchanged" is the common case (per-call series cached
// since the last scrape); "all_changed" rebuilds every call's series.
func BenchmarkCollect(b *testing.B) {
	for _, changed := range []bool{false, true} {
		name := "unchanged"
		if changed {
			name = "all_changed"
		}
		b.Run(name, func(b *testing.B) {
			h := benchCollector(b, 1000)
			ch := make(chan prometheus.Metric, 8192)
			b.ReportAllocs()
			for b.Loop() {
				if changed {
					h.c.mu.Lock()
					for _, n := range h.c.nodes {
						for _, cl := range n.calls {
							cl.rendered = nil
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
	ev := cmsws.Event{Kind: cmsws.EventMessage, Node: "a", Conn: 1, Subscription: &sub}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev.Message = msgs[i%len(msgs)]
		h.c.Handle(ev)
		i++
	}
}
