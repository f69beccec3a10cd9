package collector

import (
	"reflect"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// planFor returns what PlanInput says of one meeting: its calls per node
// and the nodes it avoids.
func (h *harness) planFor(key string) (calls map[string]string, avoid map[string]bool) {
	h.t.Helper()
	meetings, avoids, _ := h.c.PlanInput()
	for _, m := range meetings {
		if m.Key == key {
			calls = m.Calls
		}
	}
	return calls, avoids[key]
}

// avoidScenario brings meeting M up on a (call ca) and b (call cb), its
// roster subscribed on a's extra connection; then a's connections drop,
// the extra one comes back first and re-subscribes ca, which no longer
// exists on a: CMS deactivates the subscription while the model, waiting
// for a's calls snapshot, still holds ca. M must avoid a while ca is what
// a roster subscription there would name.
func avoidScenario(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.synced("a", add("ca", "M", participants(2)))
	h.synced("b", add("cb", "M", participants(2)))
	h.connectOn("a", 1)
	h.place("M", "a", 1)
	subA := rosterSub(5, "ca")
	h.activate("a", 1, subA)
	h.roster("a", 1, subA, padd("p1"), padd("p2"))
	h.sync("a", 1)
	h.expect(coverageText(1, 1, 0, 0, 0), coverageNames...)

	h.disconnect("a", cmsws.DisconnectReadError)
	h.disconnectOn("a", 1, cmsws.DisconnectReadError)
	h.connectOn("a", 1)
	h.subStateOn("a", 1, rosterSub(7, "ca"), cmsws.StatePending)
	h.subStateOn("a", 1, rosterSub(7, "ca"), cmsws.StateDeactivated)
	calls, avoid := h.planFor("M")
	if !reflect.DeepEqual(calls, map[string]string{"a": "ca", "b": "cb"}) || !reflect.DeepEqual(avoid, map[string]bool{"a": true}) {
		t.Fatalf("after ca's roster was refused: calls %v, avoid %v; want ca and cb, avoid a", calls, avoid)
	}
	return h
}

// The refused call goes with a's calls snapshot, which brings a new
// instance of the meeting on a: that instance's roster was never refused,
// so a is a home for M again, and stays one when b's instance ends (the
// soak's roster stuck pending, then skipped, forever).
func TestRosterAvoidEndsWithTheRefusedCall(t *testing.T) {
	h := avoidScenario(t)
	h.connect("a")
	h.calls("a", add("ca2", "M", participants(2)))
	h.sync("a", 0)
	calls, avoid := h.planFor("M")
	if !reflect.DeepEqual(calls, map[string]string{"a": "ca2", "b": "cb"}) || len(avoid) != 0 {
		t.Errorf("after a's snapshot replaced ca by ca2: calls %v, avoid %v; want ca2 and cb, no avoid", calls, avoid)
	}
	h.calls("b", rm("cb"))
	calls, avoid = h.planFor("M")
	if !reflect.DeepEqual(calls, map[string]string{"a": "ca2"}) || len(avoid) != 0 {
		t.Fatalf("after b's instance ended: calls %v, avoid %v; want ca2 alone, no avoid", calls, avoid)
	}

	// Placed on ca2, its subscription serves the roster: covered.
	h.place("M", "a", 1)
	sub := rosterSub(9, "ca2")
	h.activate("a", 1, sub)
	h.roster("a", 1, sub, padd("p3"), padd("p2"))
	h.sync("a", 1)
	h.expect(coverageText(1, 1, 0, 0, 0), coverageNames...)
	if cl, on := h.c.placedInstance(h.c.meetings[meetingKey{correlator: "M"}]); cl == nil || cl.id != "ca2" || on != (planner.Connection{Node: "a", Number: 1}) {
		t.Errorf("placed instance = %v on %v, want ca2 on a/1", cl, on)
	}
}

// While the refused call is still held, a new instance of the meeting on
// the same node (announced live on another calls session, or listed by a
// snapshot that has not ended) is where a roster subscription goes: the
// node is not avoided, and the refused call is not named again.
func TestRosterAvoidSparesANewInstanceOnTheNode(t *testing.T) {
	h := avoidScenario(t)
	h.connect("a")
	h.calls("a", add("ca2", "M", participants(2)))
	// a's snapshot has not ended: ca is still held.
	if _, ok := h.c.nodes["a"].calls["ca"]; !ok {
		t.Fatal("ca dropped before a's snapshot ended")
	}
	calls, avoid := h.planFor("M")
	if !reflect.DeepEqual(calls, map[string]string{"a": "ca2", "b": "cb"}) || len(avoid) != 0 {
		t.Errorf("with ca refused and ca2 new on a: calls %v, avoid %v; want ca2 and cb, no avoid", calls, avoid)
	}
}

// A refused call that stays is avoided for as long as it stays (no
// re-subscription loop), and only until a subscription to it becomes
// active again.
func TestRosterAvoidHoldsWhileTheRefusedCallStays(t *testing.T) {
	h := avoidScenario(t)
	h.connect("a")
	h.calls("a", add("ca", "M", participants(2)))
	h.sync("a", 0)
	h.calls("b", rm("cb"))
	calls, avoid := h.planFor("M")
	if !reflect.DeepEqual(calls, map[string]string{"a": "ca"}) || !reflect.DeepEqual(avoid, map[string]bool{"a": true}) {
		t.Fatalf("ca still listed after its refusal: calls %v, avoid %v; want ca, avoid a", calls, avoid)
	}
	h.activate("a", 1, rosterSub(11, "ca"))
	if _, avoid := h.planFor("M"); len(avoid) != 0 {
		t.Errorf("avoid %v after a subscription to ca became active, want none", avoid)
	}
}
