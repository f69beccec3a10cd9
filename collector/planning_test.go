package collector

import (
	"reflect"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

func TestPlanInput(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"b", "a", "c"} {
		h.c.AddNode(n)
	}
	h.synced("a", add("a1", "M", participants(7), name("Weekly")), add("a2", ""))
	h.synced("b", add("b1", "M", participants(7), name("Weekly")))
	h.connectOn("a", 2)
	h.connectOn("c", 1) // c's primary conn is down: only its extra conn is usable
	h.connectOn("b", 1)
	h.disconnectOn("b", 1, cmsws.DisconnectReadError)

	meetings, avoid, connected := h.c.PlanInput()
	want := []planner.Meeting{
		{Key: "M", Name: "Weekly", Size: 7, Calls: map[string]string{"a": "a1", "b": "b1"}},
		{Key: "call:a/a2", Name: "Space a2", Size: 1, Calls: map[string]string{"a": "a2"}},
	}
	if !reflect.DeepEqual(meetings, want) {
		t.Errorf("meetings = %+v\nwant %+v", meetings, want)
	}
	if len(avoid) != 0 {
		t.Errorf("avoid = %v, want none", avoid)
	}
	wantSlots := []planner.Connection{{Node: "a", Number: 0}, {Node: "a", Number: 2}, {Node: "b", Number: 0}, {Node: "c", Number: 1}}
	if !reflect.DeepEqual(connected, wantSlots) {
		t.Errorf("connected = %v, want %v", connected, wantSlots)
	}
	// Connection 0 counts only while its calls subscription is live.
	h.subState("a", subCalls, cmsws.StateDeactivated)
	if _, _, connected := h.c.PlanInput(); !reflect.DeepEqual(connected, []planner.Connection{{Node: "a", Number: 2}, {Node: "b", Number: 0}, {Node: "c", Number: 1}}) {
		t.Errorf("connected with a's calls deactivated = %v", connected)
	}
}

// Subscriptions the plan dropped are forgotten after two plans without
// them (the client reports nothing when it drops one).
func TestRosterSubscriptionsPrunedWhenPlanDropsThem(t *testing.T) {
	h, _ := rosterHarness(t, perCall)
	h.calls("a", add("c2", "N"))
	h.place("N", "a", 0)
	subN := rosterSub(6, "c2")
	h.activate("a", 0, subN)
	active := func() float64 {
		return h.value("cms_events_subscriptions", "node", "a", "resource", "callRoster", "state", "active")
	}
	if got := active(); got != 2 {
		t.Fatalf("active roster subscriptions = %v, want 2", got)
	}
	delete(h.plan, "N")
	h.setPlan([]string{"N"}, nil)
	if got := active(); got != 2 {
		t.Fatalf("after one plan without it: %v, want 2 (updates may still be in flight)", got)
	}
	h.setPlan([]string{"N"}, nil)
	if got := active(); got != 1 {
		t.Fatalf("after two plans without it: %v, want 1", got)
	}
	// Late traffic for it is ignored without error.
	h.roster("a", 0, subN, padd("p1"))
	for _, reason := range knownErrorReasons {
		if got := h.errors("a", reason); got != 0 {
			t.Errorf("errors{reason=%s} = %v, want 0", reason, got)
		}
	}
}
