package collector

import (
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// rosterOnConnection1 is node a synced with call c1 of meeting M, whose roster
// subscription (index 7) lives on connection 1 with p1 and p2 connected:
// the layout in which the calls subscription (connection 0) and the roster
// subscription (connection 1) are not ordered with each other.
func rosterOnConnection1(t *testing.T) (*harness, cmsws.Subscription) {
	t.Helper()
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M", participants(2)))
	h.connectOn("a", 1)
	h.place("M", "a", 1)
	sub := rosterSub(7, "c1")
	h.activate("a", 1, sub)
	h.roster("a", 1, sub, padd("p1"), padd("p2"))
	h.sync("a", 1)
	return h, sub
}

// leaveSequence is what CMS sends on the roster subscription when p leaves:
// back to state initial, then the remove with its reason.
func leaveSequence(h *harness, sub cmsws.Subscription, p, why string) {
	h.roster("a", 1, sub, pupd(p, pstate("initial")))
	h.roster("a", 1, sub, prm(p, reason(why)))
}

// The last participant leaves: CMS removes the call on connection 0 and the
// participant on connection 1, and here the call's remove comes first. The
// leave must still count, with its reason, once, and nothing is an error.
func TestLastLeaveAfterTheCallsRemove(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	leaveSequence(h, sub, "p2", "remoteTeardown")
	h.calls("a", rm("c1")) // connection 0 overtakes connection 1
	leaveSequence(h, sub, "p1", "timeout")
	h.subStateOn("a", 1, sub, cmsws.StateDeactivated)
	h.expect(participantTotalsText(0, 0, map[string]int{"remoteTeardown": 1, "timeout": 1}), participantTotalNames...)
	if got := h.errors("a", reasonUnknownCall); got != 0 {
		t.Errorf("unknown_call errors = %v, want 0: the roster update belongs to a call that just ended", got)
	}
	if got := h.errors("a", reasonUnknownParticipant); got != 0 {
		t.Errorf("unknown_participant errors = %v, want 0", got)
	}
}

// A leave told before the call's end is not counted again by a late echo of
// it after the end (a second subscription during a re-home, or a repeat).
func TestLeaveBeforeTheCallsEndCountsOnce(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	leaveSequence(h, sub, "p2", "remoteTeardown")
	leaveSequence(h, sub, "p1", "timeout")
	h.calls("a", rm("c1"))
	h.roster("a", 1, sub, prm("p1", reason("timeout")), prm("p2", reason("remoteTeardown")))
	h.expect(participantTotalsText(0, 0, map[string]int{"remoteTeardown": 1, "timeout": 1}), participantTotalNames...)
	if got := h.errors("a", reasonUnknownParticipant) + h.errors("a", reasonUnknownCall); got != 0 {
		t.Errorf("errors = %v, want 0: echoes of leaves already counted", got)
	}
}

// The roster removal never comes (its connection dropped): nobody was told
// of the leave, so nothing counts, and what the model kept of the ended call
// goes with the subscription that could have told it.
func TestEndedCallsRosterGoesWithItsSubscription(t *testing.T) {
	h, _ := rosterOnConnection1(t)
	h.calls("a", rm("c1"))
	if len(h.c.nodes["a"].ended) != 1 {
		t.Fatalf("ended calls kept = %d, want 1 while its roster subscription is live", len(h.c.nodes["a"].ended))
	}
	h.disconnectOn("a", 1, cmsws.DisconnectReadError)
	if got := len(h.c.nodes["a"].ended); got != 0 {
		t.Errorf("ended calls kept = %d after the roster connection dropped, want 0", got)
	}
	h.expect(participantTotalsText(0, 0, nil), participantTotalNames...)

	// Same with the subscription deactivated before the leave came.
	h, sub := rosterOnConnection1(t)
	h.calls("a", rm("c1"))
	h.subStateOn("a", 1, sub, cmsws.StateDeactivated)
	if got := len(h.c.nodes["a"].ended); got != 0 {
		t.Errorf("ended calls kept = %d after its roster subscription was deactivated, want 0", got)
	}
	h.expect(participantTotalsText(0, 0, nil), participantTotalNames...)
}

// Whatever the model keeps of an ended call expires even if its roster
// subscription stays live and silent; a leave reported after that is not
// counted (and is the error it was before).
func TestEndedCallExpires(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	h.calls("a", rm("c1"))
	h.advance(forgetFor + forgetCheckInterval)
	if got := len(h.c.nodes["a"].ended); got != 0 {
		t.Fatalf("ended calls kept = %d after forgetFor, want 0", got)
	}
	h.roster("a", 1, sub, prm("p1", reason("timeout")))
	h.expect(participantTotalsText(0, 0, nil), participantTotalNames...)
}

// A call that ends without a roster subscription keeps nothing: no leave can
// come for it.
func TestEndedCallWithoutRosterKeepsNothing(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M", participants(2)))
	h.calls("a", rm("c1"))
	if got := len(h.c.nodes["a"].ended); got != 0 {
		t.Errorf("ended calls kept = %d, want 0", got)
	}
}

// The meeting goes on on node b when its call on a ends, and a's roster
// subscription reports the last local leave after a's call's remove: the
// leave counts once, and the meeting's roster (the same roster) loses it.
func TestLastLocalLeaveAfterTheCallsRemoveMeetingGoesOn(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	h.c.AddNode("b")
	h.synced("b", add("c2", "M", participants(1)))
	leaveSequence(h, sub, "p2", "remoteTeardown")
	h.calls("a", rm("c1"))
	leaveSequence(h, sub, "p1", "callEnded")
	h.expect(participantTotalsText(0, 0, map[string]int{"remoteTeardown": 1, "callEnded": 1}), participantTotalNames...)
	if r := h.c.meetings[h.c.nodes["b"].calls["c2"].meeting.key].roster; r == nil || len(r.participants) != 0 {
		t.Errorf("meeting roster = %+v, want present and empty", r)
	}
}

// The roster connection lags: plans made after the call's remove no longer
// want its roster subscription, and the leave comes after them. The
// subscription's record must stay until CMS deactivates it (as it does for
// a call that ended), or the leave finds no subscription and is lost.
func TestLastLeaveAfterPlansDroppedItsSubscription(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	h.calls("a", rm("c1"))
	delete(h.plan, "M")
	for range 3 {
		h.setPlan(nil, nil)
	}
	leaveSequence(h, sub, "p1", "timeout")
	h.subStateOn("a", 1, sub, cmsws.StateDeactivated)
	h.expect(participantTotalsText(0, 0, map[string]int{"timeout": 1}), participantTotalNames...)
	// Deactivated, it goes with the next plans.
	for range 2 {
		h.setPlan(nil, nil)
	}
	if s := h.c.nodes["a"].connections[1].subs[sub.Index]; s != nil {
		t.Errorf("subscription record of the ended call still kept after its deactivation: %+v", s)
	}
}
