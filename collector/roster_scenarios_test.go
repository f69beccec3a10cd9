package collector

import (
	"reflect"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

func TestRosterSnapshotIsSilentAndSplitSnapshotReplaces(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M"))
	h.place("M", "a", 0)
	sub := rosterSub(5, "c1")
	h.activate("a", 0, sub)
	// Until the snapshot ends, the meeting is placed but not covered.
	h.roster("a", 0, sub, padd("p0"), padd("p1", audioMuted(true)))
	h.expect(coverageText(0, 0, 1, 0, 0), coverageNames...)
	h.sync("a", 0)
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 2, 0, 0}, audio: 1})+
		participantTotalsText(0, 0, nil)+coverageText(1, 1, 0, 0, 0),
		append(append(rosterFamilies, participantTotalNames...), coverageNames...)...)

	// The connection drops: the roster stays, uncovered, nothing counted.
	h.disconnect("a", cmsws.DisconnectReadError)
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 2, 0, 0}, audio: 1})+
		participantTotalsText(0, 0, nil)+coverageText(0, 0, 1, 0, 0)+clusterRosterText(0, 0, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), coverageNames...), clusterRosterNames...)...)

	// Reconnected: a snapshot over two messages, with a message of another
	// subscription in between (as in the capture), then a live update.
	h.synced("a", add("c1", "M"))
	sub2 := rosterSub(9, "c1")
	h.activate("a", 0, sub2)
	h.roster("a", 0, sub2, padd("p1"), padd("p2", videoMuted(true)))
	info := cmsws.Subscription{Index: 10, Type: cmsws.ResourceCallInfo, Call: "c1"}
	h.msg("a", &cmsws.Message{Type: cmsws.TypeCallInfoUpdate, CallInfo: &cmsws.CallInfo{CallElements: cmsws.CallElements{Participants: cmsws.Set(3)}}}, &info)
	// Half a minute without a message ends nothing: a snapshot may come in
	// slow parts.
	h.advance(30 * time.Second)
	h.roster("a", 0, sub2, padd("p3", pstate("ringing")))
	// p0 is not swept yet: the snapshot may not be complete.
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 1, 3, 0, 0}, video: 1}), rosterFamilies...)
	h.expect(coverageText(0, 0, 1, 0, 0), coverageNames...)
	h.roster("a", 0, sub2, pupd("p3", pstate("connected")))
	// The update ended the snapshot before it was applied: p0 was not in it
	// and is gone silently; p2 and p3 arrived silently; p1 was replaced.
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 3, 0, 0}, video: 1})+
		participantTotalsText(0, 0, nil)+coverageText(1, 1, 0, 0, 0),
		append(append(rosterFamilies, participantTotalNames...), coverageNames...)...)

	// After the snapshot, adds are joins.
	h.roster("a", 0, sub2, padd("p4"))
	h.expect(participantTotalsText(1, 0, nil), participantTotalNames...)
}

// rosterResubscribed is rosterHarness after a reconnect: the calls synced
// again and the roster subscription (index 6) active, its snapshot not
// come yet.
func rosterResubscribed(t *testing.T) (*harness, cmsws.Subscription) {
	h, _ := rosterHarness(t, perCall)
	h.disconnect("a", cmsws.DisconnectServerClose)
	h.synced("a", add("c1", "M"))
	sub := rosterSub(6, "c1")
	h.activate("a", 0, sub)
	return h, sub
}

// An empty roster snapshot is told from a late one by the answer to the
// sync request, never by a timer: half a minute of silence sweeps nothing;
// the answer sweeps, silently; and should the snapshot still come after it,
// its adds bring the participants back without counting joins.
func TestRosterEmptySnapshotEndsBySyncAndSweeps(t *testing.T) {
	h, sub := rosterResubscribed(t)
	h.advance(30 * time.Second)
	h.expect(rosterText(baseRow)+coverageText(0, 0, 1, 0, 0), append(rosterFamilies, coverageNames...)...)
	h.sync("a", 0)
	// Everybody left while we were away: gone, and no leave counted.
	h.expect(rosterText(rosterRow{node: "a", call: "c1"})+participantTotalsText(0, 0, nil)+coverageText(1, 1, 0, 0, 0),
		append(append(rosterFamilies, participantTotalNames...), coverageNames...)...)
	// A late report of p1 is no join; p3 is.
	h.roster("a", 0, sub, padd("p1"))
	h.roster("a", 0, sub, padd("p3"))
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 2, 0, 0}})+participantTotalsText(1, 0, nil),
		append(rosterFamilies, participantTotalNames...)...)
}

// Should the sync request's answer never come, a roster snapshot ends
// SnapshotTimeout after its last message, as a guess, and nothing counts.
func TestRosterSnapshotFallbackTimeout(t *testing.T) {
	h, sub := rosterResubscribed(t)
	h.advance(DefaultSnapshotTimeout / 2)
	h.roster("a", 0, sub, padd("p2"))
	h.advance(DefaultSnapshotTimeout - time.Millisecond)
	h.expect(rosterText(baseRow)+coverageText(0, 0, 1, 0, 0), append(rosterFamilies, coverageNames...)...)
	h.advance(time.Millisecond)
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 1, 0, 0}})+participantTotalsText(0, 0, nil)+coverageText(1, 1, 0, 0, 0),
		append(append(rosterFamilies, participantTotalNames...), coverageNames...)...)
}

// A distributed meeting's roster subscription moves from node a to node b
// (the planner re-homes it). While both subscriptions live, both report
// the same changes: every join and leave counts once, and b's snapshot
// replaces the roster without counting.
func TestRosterRehomedCountsContinuously(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.synced("a", add("ca", "M", participants(3)))
	h.synced("b", add("cb", "M", participants(3)))
	h.place("M", "a", 0)
	subA := rosterSub(5, "ca")
	h.activate("a", 0, subA)
	h.roster("a", 0, subA, padd("p1", audioMuted(true)), padd("p2"), padd("p3"))
	h.sync("a", 0)
	h.roster("a", 0, subA, padd("p4"))
	h.expect(rosterText(rosterRow{node: "a", call: "ca", states: [numStates]int{0, 0, 4, 0, 0}, audio: 1})+participantTotalsText(1, 0, nil),
		append(rosterFamilies, participantTotalNames...)...)

	// Re-planned onto b: the series move at once (old labels gone), showing
	// the roster kept so far; b is pending until its snapshot ends.
	h.place("M", "b", 0)
	h.expect(rosterText(rosterRow{node: "b", call: "cb", states: [numStates]int{0, 0, 4, 0, 0}, audio: 1})+coverageText(0, 0, 1, 0, 0),
		append(rosterFamilies, coverageNames...)...)
	subB := rosterSub(7, "cb")
	h.activate("b", 0, subB)
	// b's snapshot was taken before p5 joined and p2 left; a reports both
	// live meanwhile; then b reports them too.
	h.roster("b", 0, subB, padd("p1", audioMuted(true)), padd("p2"))
	h.roster("a", 0, subA, padd("p5"))
	h.roster("a", 0, subA, prm("p2", reason("timeout")))
	h.roster("b", 0, subB, padd("p3"), padd("p4"))
	h.roster("b", 0, subB, padd("p5"))
	h.roster("b", 0, subB, prm("p2"))
	h.expect(rosterText(rosterRow{node: "b", call: "cb", states: [numStates]int{0, 0, 4, 0, 0}, audio: 1})+
		participantTotalsText(2, 0, map[string]int{"timeout": 1})+coverageText(1, 1, 0, 0, 0)+clusterRosterText(1, 0, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), coverageNames...), clusterRosterNames...)...)

	// The old subscription goes (the planner dropped it); b alone goes on.
	h.roster("b", 0, subB, pupd("p1", audioMuted(false)), prm("p3", reason("callEnded")))
	h.expect(rosterText(rosterRow{node: "b", call: "cb", states: [numStates]int{0, 0, 3, 0, 0}})+
		participantTotalsText(2, 0, map[string]int{"timeout": 1, "callEnded": 1}),
		append(rosterFamilies, participantTotalNames...)...)
	for _, reason := range knownErrorReasons {
		for _, n := range []string{"a", "b"} {
			if got := h.errors(n, reason); got != 0 {
				t.Errorf("errors{node=%s,reason=%s} = %v, want 0", n, reason, got)
			}
		}
	}
}

// The subscribed node stops hosting a distributed meeting: CMS deactivates
// the roster subscription. The roster is kept, not counted as leaves; the
// planner learns to avoid that node; the re-homed subscription's snapshot
// replaces the roster.
func TestRosterDeactivationThenRehome(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.synced("a", add("ca", "M", participants(3)), add("ca2", "N"))
	h.synced("b", add("cb", "M", participants(3)))
	h.place("M", "a", 0)
	subA := rosterSub(5, "ca")
	h.activate("a", 0, subA)
	h.roster("a", 0, subA, padd("p1", presenter(true)), padd("p2"), padd("p3"))
	h.sync("a", 0)
	h.expect(coverageText(0.5, 1, 1, 0, 0), coverageNames...)

	h.subStateOn("a", 0, subA, cmsws.StateDeactivated)
	_, avoid, _ := h.c.PlanInput()
	if !reflect.DeepEqual(avoid, map[string]map[string]bool{"M": {"a": true}}) {
		t.Fatalf("avoid = %v, want M on a", avoid)
	}
	h.expect(rosterText(rosterRow{node: "a", call: "ca", states: [numStates]int{0, 0, 3, 0, 0}, pres: 1})+
		participantTotalsText(0, 0, nil)+coverageText(0, 0, 2, 0, 0)+clusterRosterText(0, 0, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), coverageNames...), clusterRosterNames...)...)

	h.place("M", "b", 0)
	subB := rosterSub(8, "cb")
	h.activate("b", 0, subB)
	h.roster("b", 0, subB, padd("p1", presenter(true)), padd("p3"))
	h.roster("b", 0, subB, pupd("p3", activeSpeaker(true)))
	// p2 (hosted on a) is gone silently: b's snapshot does not list it.
	h.expect(rosterText(rosterRow{node: "b", call: "cb", states: [numStates]int{0, 0, 2, 0, 0}, pres: 1, spk: 1})+
		participantTotalsText(0, 0, nil)+coverageText(0.5, 1, 1, 0, 0)+clusterRosterText(0, 0, 0, 0, 1),
		append(append(append(rosterFamilies, participantTotalNames...), coverageNames...), clusterRosterNames...)...)

	// Should a serve the meeting again (a new subscription there becomes
	// active), it is no longer to be avoided...
	h.activate("a", 0, rosterSub(11, "ca"))
	if _, avoid, _ := h.c.PlanInput(); len(avoid) != 0 {
		t.Errorf("avoid = %v after a's new roster subscription became active, want none", avoid)
	}
	// ... and when the instance on a ends, the avoid entry goes with it.
	h.subStateOn("a", 0, rosterSub(11, "ca"), cmsws.StateDeactivated)
	if _, avoid, _ := h.c.PlanInput(); len(avoid) != 1 {
		t.Errorf("avoid = %v, want M on a again", avoid)
	}
	h.calls("a", rm("ca"))
	if _, avoid, _ := h.c.PlanInput(); len(avoid) != 0 {
		t.Errorf("avoid = %v after the meeting left a, want none", avoid)
	}
}

// The CMM move flow: the participant is removed from meeting A (without a
// reason) and a new participant, whose movedParticipant is the old one's
// GUID, is added to meeting B.
func TestParticipantMovedBetweenMeetings(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.synced("a", add("cA", "A", participants(2)))
	h.synced("b", add("cB", "B", participants(1)))
	h.place("A", "a", 0)
	h.place("B", "b", 0)
	subA, subB := rosterSub(5, "cA"), rosterSub(6, "cB")
	h.activate("a", 0, subA)
	h.activate("b", 0, subB)
	mover, stays, host := guid(1), guid(2), guid(3)
	h.roster("a", 0, subA, padd(mover, audioMuted(true)), padd(stays))
	h.roster("b", 0, subB, padd(host))
	h.sync("a", 0)
	h.sync("b", 0)

	h.roster("a", 0, subA, prm(mover))
	h.roster("b", 0, subB, padd(guid(4), movedFrom(mover), audioMuted(true)))
	h.expect(rosterText(rosterRow{node: "a", call: "cA", states: [numStates]int{0, 0, 1, 0, 0}},
		rosterRow{node: "b", call: "cB", states: [numStates]int{0, 0, 2, 0, 0}, audio: 1})+
		participantTotalsText(1, 1, map[string]int{"none": 1})+clusterRosterText(1, 0, 0, 0, 0)+coverageText(1, 2, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), clusterRosterNames...), coverageNames...)...)
}

func TestRosterGoesWithItsMeeting(t *testing.T) {
	h, sub := rosterHarness(t, perCall)
	h.roster("a", 0, sub, prm("p1", reason("callEnded")))
	h.calls("a", rm("c1"))
	h.expect(rosterText()+participantTotalsText(0, 0, map[string]int{"callEnded": 1})+coverageText(1, 0, 0, 0, 0),
		append(append(rosterFamilies, participantTotalNames...), coverageNames...)...)
	// Late roster traffic for the ended call is an unknown call.
	h.roster("a", 0, sub, prm("p2", reason("callEnded")))
	if got := h.errors("a", "unknown_call"); got != 1 {
		t.Errorf("unknown_call = %v, want 1", got)
	}
	// The space starts again (same correlator): a new, empty roster.
	h.calls("a", add("c2", "M"))
	h.place("M", "a", 0)
	sub2 := rosterSub(6, "c2")
	h.activate("a", 0, sub2)
	h.roster("a", 0, sub2, padd("p9"))
	h.sync("a", 0)
	h.expect(rosterText(rosterRow{node: "a", call: "c2", states: [numStates]int{0, 0, 1, 0, 0}})+participantTotalsText(0, 0, map[string]int{"callEnded": 1}),
		append(rosterFamilies, participantTotalNames...)...)
}

func TestRosterForUnknownCallAndWrongResource(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M"))
	ghost := rosterSub(5, "ghost")
	h.activate("a", 0, ghost)
	h.roster("a", 0, ghost, padd("p1"), padd("p2"))
	h.roster("a", 0, ghost, pupd("p1", audioMuted(true)))
	if got := h.errors("a", "unknown_call"); got != 2 {
		t.Errorf("unknown_call = %v, want 2 (one per message)", got)
	}
	// A rosterUpdate on the calls subscription is the wrong resource.
	calls := subCalls
	h.msg("a", &cmsws.Message{Type: cmsws.TypeRosterUpdate, RosterUpdates: []cmsws.RosterUpdate{padd("p1")}}, &calls)
	if got := h.errors("a", "wrong_resource"); got != 1 {
		t.Errorf("wrong_resource = %v, want 1", got)
	}
	// Nothing reached meeting M.
	h.place("M", "a", 0)
	h.expect(rosterText()+participantTotalsText(0, 0, nil), append(rosterFamilies, participantTotalNames...)...)
}

func TestPerCallMetricsOffKeepsRosterTotals(t *testing.T) {
	h, sub := rosterHarness(t, Options{})
	h.roster("a", 0, sub, pupd("p1", audioMuted(true), presenter(true)), padd("p3"), prm("p2", reason("timeout")))
	h.expect(rosterText()+participantTotalsText(1, 0, map[string]int{"timeout": 1})+clusterRosterText(1, 0, 0, 0, 1)+
		coverageText(1, 1, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), clusterRosterNames...), coverageNames...)...)
}

// A meeting whose correlator arrives after its first add changes key; its
// roster goes along.
func TestRosterFollowsLateCorrelator(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", ""))
	key := meetingKey{node: "a", call: "c1"}.planKey()
	h.place(key, "a", 0)
	sub := rosterSub(5, "c1")
	h.activate("a", 0, sub)
	h.roster("a", 0, sub, padd("p1"), padd("p2"))
	h.sync("a", 0)
	h.calls("a", upd("c1", correlator("M")))
	h.place("M", "a", 0)
	h.roster("a", 0, sub, padd("p3"))
	h.expect(rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 3, 0, 0}})+participantTotalsText(1, 0, nil),
		append(rosterFamilies, participantTotalNames...)...)
}

// Connection 0 reconnects and its calls snapshot ends before some of its calls
// come (a server that lets the sync answer overtake a held-back snapshot):
// the call is swept and its meeting goes, silently. The meeting's roster
// subscription lives on connection 1, which stayed up. When the late add brings
// the call back, the meeting gets its roster back: the participants that
// were there are still there, their updates apply, and nothing counts.
func TestRosterComesBackWithItsSweptCall(t *testing.T) {
	h, sub := rosterOnConnection1(t)
	row := rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 2, 0, 0}}
	h.expect(rosterText(row)+participantTotalsText(0, 0, nil), append(rosterFamilies, participantTotalNames...)...)

	h.disconnect("a", cmsws.DisconnectReadError)
	h.connect("a")
	h.sync("a", 0) // the answer overtook the snapshot: c1 swept
	h.expect(nodeCallsText("a", 0), "cms_node_calls")
	h.calls("a", add("c1", "M", participants(2))) // the late snapshot
	h.roster("a", 1, sub, pupd("p1", audioMuted(true)))
	row.audio = 1
	h.expect(nodeCallsText("a", 1)+rosterText(row)+participantTotalsText(0, 0, nil)+counters(0, 0, 0, 0, 0, 0, 0, 0),
		append(append(append([]string{"cms_node_calls"}, rosterFamilies...), participantTotalNames...), counterNames...)...)
	if got := h.errors("a", reasonUnknownParticipant); got != 0 {
		t.Errorf("unknown_participant errors = %v: the roster was lost with the swept call", got)
	}
}
