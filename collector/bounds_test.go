package collector

import (
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// TestImplausibleCountsRejected: a participant count or a number of
// distributed instances outside its plausible range is left unchanged like
// an invalid value, logged, and counted by element; it never reaches the
// cluster gauges.
func TestImplausibleCountsRejected(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	distributed := func(n int) opt {
		return func(u *cmsws.CallUpdate) { u.DistributedInstances = cmsws.Set(n) }
	}
	h.calls("a", add("c1", "m1", participants(3), distributed(1)))
	h.calls("a", add("c2", "m2", participants(2147483648000), distributed(2)))
	h.calls("a", upd("c1", participants(maxCallParticipants+1), distributed(maxDistributedInstances+1)))
	h.calls("a", upd("c1", distributed(-1)))
	if got := h.value("cms_cluster_participants"); got != 3 {
		t.Errorf("cms_cluster_participants = %v, want 3 (implausible counts left out)", got)
	}
	if got := h.value("cms_call_distributed_instances", "call", "c1"); got != 1 {
		t.Errorf("c1 distributed instances = %v, want 1 (unchanged)", got)
	}
	h.expect(`# TYPE cms_events_values_rejected_total counter
cms_events_values_rejected_total{node="a",resource="calls",element="participants"} 2
cms_events_values_rejected_total{node="a",resource="calls",element="distributedInstances"} 2
`, "cms_events_values_rejected_total")
	if got := h.errors("a", reasonInvalidValue); got != 4 {
		t.Errorf("invalid_value = %v, want 4", got)
	}
	// The bounds themselves are plausible.
	h.calls("a", upd("c1", participants(maxCallParticipants), distributed(maxDistributedInstances)))
	if got := h.value("cms_call_participants", "call", "c1"); got != maxCallParticipants {
		t.Errorf("c1 participants = %v, want %d", got, maxCallParticipants)
	}
	if got := h.value("cms_events_values_rejected_total", "element", "participants"); got != 2 {
		t.Errorf("rejected participants = %v, want still 2", got)
	}
}

// TestRejectedRowsFromTheStart: the rejection counters exist at zero for
// every bounded element as soon as the node does, so rate() sees the first.
func TestRejectedRowsFromTheStart(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.expect(`# TYPE cms_events_values_rejected_total counter
cms_events_values_rejected_total{node="a",resource="calls",element="participants"} 0
cms_events_values_rejected_total{node="a",resource="calls",element="distributedInstances"} 0
`, "cms_events_values_rejected_total")
}
