package collector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

var perCall = Options{PerCallMetrics: true}

var callFamilies = []string{"cms_call_info", "cms_call_participants", "cms_call_distributed_instances",
	"cms_call_recording", "cms_call_streaming", "cms_call_endpoint_recording", "cms_call_locked"}

// callRow is the expected per-call state; callsText renders it.
type callRow struct {
	node, id, correlator, name, callType string
	participants, distributed            int
	recording, streaming, epRec, locked  int
}

func callsText(rows ...callRow) string {
	var b strings.Builder
	for _, f := range callFamilies {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", f)
		for _, r := range rows {
			l := fmt.Sprintf(`node=%q,call=%q`, r.node, r.id)
			switch f {
			case "cms_call_info":
				fmt.Fprintf(&b, "%s{%s,correlator=%q,name=%q,call_type=%q} 1\n", f, l, r.correlator, r.name, r.callType)
			case "cms_call_participants":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.participants)
			case "cms_call_distributed_instances":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.distributed)
			case "cms_call_recording":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.recording)
			case "cms_call_streaming":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.streaming)
			case "cms_call_endpoint_recording":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.epRec)
			case "cms_call_locked":
				fmt.Fprintf(&b, "%s{%s} %d\n", f, l, r.locked)
			}
		}
	}
	return b.String()
}

// nodeCallsText renders cms_node_calls for nodes given as (name, coSpace
// calls) pairs; the other known types are 0.
func nodeCallsText(pairs ...any) string {
	s := "# TYPE cms_node_calls gauge\n"
	for i := 0; i+1 < len(pairs); i += 2 {
		s += fmt.Sprintf(`cms_node_calls{node=%[1]q,call_type="coSpace"} %[2]d
cms_node_calls{node=%[1]q,call_type="adHoc"} 0
cms_node_calls{node=%[1]q,call_type="lyncConferencing"} 0
cms_node_calls{node=%[1]q,call_type="forwarding"} 0
`, pairs[i], pairs[i+1])
	}
	return s
}

func TestFieldRules(t *testing.T) {
	// The call before each case's update: every element set.
	base := callRow{node: "a", id: "c1", correlator: "m1", name: "Space c1", callType: "coSpace",
		participants: 3, distributed: 1, recording: 1, streaming: 0, epRec: 0, locked: 0}
	invalidInt := cmsws.Field[int]{State: cmsws.Invalid, Raw: `"many"`}
	invalidStr := cmsws.Field[string]{State: cmsws.Invalid, Raw: `42`}

	tests := []struct {
		name    string
		update  cmsws.CallUpdate
		want    func(r callRow) callRow
		invalid float64
	}{
		{
			name:   "absent elements leave everything unchanged",
			update: upd("c1"),
			want:   func(r callRow) callRow { return r },
		},
		{
			name: "valid elements set values",
			update: upd("c1", participants(7), recording("inactive"), streaming("active"), name("Renamed"),
				lock("locked"), callType("adHoc"), func(u *cmsws.CallUpdate) {
					u.DistributedInstances = cmsws.Set(2)
					u.EndpointRecording = cmsws.Set("active")
				}),
			want: func(r callRow) callRow {
				r.participants, r.recording, r.streaming, r.name, r.locked, r.callType = 7, 0, 1, "Renamed", 1, "adHoc"
				r.distributed, r.epRec = 2, 1
				return r
			},
		},
		{
			name:   "notLocked and unlocked both mean unlocked",
			update: upd("c1", lock("unlocked")),
			want:   func(r callRow) callRow { return r },
		},
		{
			name: "null unsets: empty string, zero, off",
			update: upd("c1", func(u *cmsws.CallUpdate) {
				u.Name = cmsws.NullField[string]()
				u.Participants = cmsws.NullField[int]()
				u.DistributedInstances = cmsws.NullField[int]()
				u.Recording = cmsws.NullField[string]()
				u.CallType = cmsws.NullField[string]()
				u.CallCorrelator = cmsws.NullField[string]()
			}),
			want: func(r callRow) callRow {
				r.name, r.participants, r.distributed, r.recording, r.callType, r.correlator = "", 0, 0, 0, "unknown", ""
				return r
			},
		},
		{
			name: "values of the wrong JSON type are invalid and leave elements unchanged",
			update: upd("c1", participants(9), func(u *cmsws.CallUpdate) {
				u.DistributedInstances = invalidInt
				u.Recording = invalidStr
				u.Name = invalidStr
			}),
			want:    func(r callRow) callRow { r.participants = 9; return r },
			invalid: 3,
		},
		{
			name:    "unknown enum strings and negative counts are invalid too",
			update:  upd("c1", recording("weird"), lock("half"), callType("webinar"), participants(-1), streaming("active")),
			want:    func(r callRow) callRow { r.streaming = 1; return r },
			invalid: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, perCall)
			h.c.AddNode("a")
			h.synced("a", add("c1", "m1", participants(3), recording("active"),
				func(u *cmsws.CallUpdate) { u.DistributedInstances = cmsws.Set(1) }))
			h.expect(callsText(base), callFamilies...)

			h.calls("a", tt.update)
			h.expect(callsText(tt.want(base)), callFamilies...)
			if got := h.errors("a", "invalid_value"); got != tt.invalid {
				t.Errorf("invalid_value errors = %v, want %v", got, tt.invalid)
			}
			if got := h.errors("a", "unknown_call"); got != 0 {
				t.Errorf("unknown_call errors = %v, want 0", got)
			}
		})
	}
}

func TestUnknownCallsAndBadUpdates(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")

	h.calls("a", upd("ghost", participants(3)), rm("phantom"))
	h.calls("a", cmsws.CallUpdate{Call: "c1", UpdateType: "merge"}, cmsws.CallUpdate{UpdateType: cmsws.UpdateAdd})
	h.expect(callsText()+nodeCallsText("a", 0)+counters(0, 0, 0, 0, 0, 0, 0, 0),
		append([]string{"cms_node_calls"}, append(callFamilies, counterNames...)...)...)
	if got := h.errors("a", "unknown_call"); got != 2 {
		t.Errorf("unknown_call errors = %v, want 2 (an update and a remove of calls never added)", got)
	}
	if got := h.errors("a", "invalid_value"); got != 2 {
		t.Errorf("invalid_value errors = %v, want 2 (unknown updateType, add without call id)", got)
	}
}

func TestAddOfExistingCallReplaces(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	h.calls("a", add("c1", "m1", participants(2)))
	// An add carries every element; one it lacks is unset by the replace.
	second := add("c1", "m1", participants(7), name("New"))
	second.Recording = cmsws.Field[string]{}
	h.calls("a", second)
	h.expect(callsText(callRow{node: "a", id: "c1", correlator: "m1", name: "New", callType: "coSpace", participants: 7})+
		nodeCallsText("a", 1)+counters(1, 0, 0, 0, 0, 0, 0, 0),
		append([]string{"cms_node_calls"}, append(callFamilies, counterNames...)...)...)
}

func TestSnapshotEndsAtFirstNonAddMessage(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"), add("c2", "m2", recording("active")))
	row1 := callRow{node: "a", id: "c1", correlator: "m1", name: "Space c1", callType: "coSpace", participants: 1}
	row2 := callRow{node: "a", id: "c2", correlator: "m2", name: "Space c2", callType: "coSpace", participants: 1, recording: 1}

	// A blip: the calls stay, cms_up says the node is down.
	h.disconnect("a", cmsws.DisconnectReadError)
	h.expect(callsText(row1, row2)+nodeCallsText("a", 2)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 0\n",
		append([]string{"cms_node_calls", "cms_up"}, callFamilies...)...)

	// Reconnect: a snapshot in two messages, then a live update.
	h.connect("a")
	h.calls("a", add("c1", "m1", participants(4)))
	h.advance(500 * time.Millisecond)
	h.calls("a", add("c3", "m3"))
	row1.participants = 4
	row3 := callRow{node: "a", id: "c3", correlator: "m3", name: "Space c3", callType: "coSpace", participants: 1}
	// c2 is not swept yet: the snapshot may not be complete.
	h.expect(callsText(row1, row2, row3)+"# TYPE cms_events_synced gauge\ncms_events_synced{node=\"a\"} 0\n",
		append([]string{"cms_events_synced"}, callFamilies...)...)

	h.calls("a", upd("c3", participants(2)))
	row3.participants = 2
	// The update ended the snapshot before it was applied: c2 was not in the
	// snapshot and is dropped, silently (it ended while we were away).
	h.expect(callsText(row1, row3)+nodeCallsText("a", 2)+counters(0, 0, 0, 0, 0, 0, 0, 0)+
		"# TYPE cms_events_synced gauge\ncms_events_synced{node=\"a\"} 1\n"+
		"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n"+
		"# TYPE cms_cluster_meetings_recording gauge\ncms_cluster_meetings_recording 0\n",
		append([]string{"cms_node_calls", "cms_events_synced", "cms_up", "cms_cluster_meetings_recording"},
			append(callFamilies, counterNames...)...)...)
}

// CMS marks no end of a snapshot and nothing bounds when it starts: a busy
// Call Bridge, a slow path or a stalled exporter can put seconds between
// the activation and the snapshot. However late it comes, a snapshot
// announces nothing: no start, no recording start, no lock; what it does
// not repeat is dropped silently when the answer to the sync request marks
// its end, and the node is synced only then.
func TestLateSnapshotCountsNothing(t *testing.T) {
	for _, delay := range []time.Duration{500 * time.Millisecond, 1250 * time.Millisecond, 1500 * time.Millisecond,
		5 * time.Second, 30 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			h := newHarness(t, perCall)
			h.c.AddNode("a")
			h.synced("a", add("c1", "m1", recording("active")), add("c2", "m2"), add("c3", "m3", lock("locked")))
			h.advance(DefaultLockSettle) // c3's lock is believed
			before := counters(0, 0, 0, 0, 0, 0, 0, 0)
			h.expect(before+clusterText(3, 3, 1, 0, 1), append(counterNames, clusterNames...)...)
			h.disconnect("a", cmsws.DisconnectReadError)

			h.connect("a")
			h.advance(delay)
			// Nothing arrived yet: the calls are held as last seen, the node
			// is not synced, nothing is swept.
			h.expect(nodeCallsText("a", 3)+synced("a", 0), "cms_node_calls", "cms_events_synced")
			// The snapshot: c2 ended meanwhile, c1 and c3 run on, m4 started
			// while the exporter was away (not seen live: no start).
			h.calls("a", add("c1", "m1", recording("active")), add("c3", "m3", lock("locked")))
			h.advance(delay)
			h.calls("a", add("c4", "m4", recording("active")))
			h.expect(nodeCallsText("a", 4)+synced("a", 0)+before, append([]string{"cms_node_calls", "cms_events_synced"}, counterNames...)...)
			h.sync("a", 0)
			h.expect(nodeCallsText("a", 3)+synced("a", 1)+before+clusterText(3, 3, 2, 0, 1),
				append(append([]string{"cms_node_calls", "cms_events_synced"}, counterNames...), clusterNames...)...)

			// After the snapshot, adds are live: a meeting start.
			h.calls("a", add("c5", "m5"))
			h.expect(nodeCallsText("a", 4)+counters(1, 0, 0, 0, 0, 0, 0, 0), append([]string{"cms_node_calls"}, counterNames...)...)
		})
	}
}

// A snapshot swept early (here by the fallback timeout; in the field also
// a snapshot split by a long pause) and completed later: the late adds are
// calls the model dropped without being told they ended, so they come back
// silently. A late add of a call never seen is a start.
func TestLateAddOfDroppedCallIsNoStart(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1", recording("active")), add("c2", "m2", lock("locked")))
	h.advance(DefaultLockSettle)
	h.disconnect("a", cmsws.DisconnectReadError)
	h.connect("a")
	h.advance(DefaultSnapshotTimeout)
	h.expect(nodeCallsText("a", 0)+synced("a", 1)+clusterText(0, 0, 0, 0, 0)+counters(0, 0, 0, 0, 0, 0, 0, 0),
		append(append([]string{"cms_node_calls", "cms_events_synced"}, clusterNames...), counterNames...)...)
	h.calls("a", add("c1", "m1", recording("active")), add("c2", "m2", lock("locked")))
	h.advance(DefaultLockSettle)
	h.expect(nodeCallsText("a", 2)+clusterText(2, 2, 1, 0, 1)+counters(0, 0, 0, 0, 0, 0, 0, 0),
		append(append([]string{"cms_node_calls"}, clusterNames...), counterNames...)...)
	h.calls("a", add("c3", "m3"))
	h.expect(counters(1, 0, 0, 0, 0, 0, 0, 0), counterNames...)
	// Forgotten after forgetFor: an id is never reused by CMS, so that only
	// bounds the memory.
	h.calls("a", rm("c1"))
	h.disconnect("a", cmsws.DisconnectReadError)
	h.synced("a", add("c3", "m3"))
	if !h.c.nodes["a"].forgotten.has("c2") {
		t.Fatal("c2, swept by the snapshot, is not remembered")
	}
	h.advance(forgetFor)
	if h.c.nodes["a"].forgotten.has("c2") {
		t.Fatal("c2 still remembered after forgetFor")
	}
}

func TestEmptySnapshotSweepsEverything(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1", recording("active")))
	h.disconnect("a", cmsws.DisconnectServerClose)
	h.connect("a")
	h.advance(time.Second)
	h.sync("a", 0)
	// The meeting ended while we were not listening: gone, but no end, no
	// recording stop counted.
	h.expect(callsText()+nodeCallsText("a", 0)+counters(0, 0, 0, 0, 0, 0, 0, 0)+
		"# TYPE cms_cluster_meetings_recording gauge\ncms_cluster_meetings_recording 0\n",
		append([]string{"cms_node_calls", "cms_cluster_meetings_recording"}, append(callFamilies, counterNames...)...)...)
}

func TestProbeResendIsNotANewSnapshot(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"))
	// The liveness probe re-sends the unchanged subscribeRequest: CMS
	// reports pending, then active again, and replays nothing.
	h.subState("a", subCalls, cmsws.StatePending)
	h.expect("# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n", "cms_up")
	h.subState("a", subCalls, cmsws.StateActive)
	h.advance(5 * time.Second)
	h.expect(nodeCallsText("a", 1)+synced("a", 1)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n", "cms_node_calls", "cms_events_synced", "cms_up")
}

// A calls subscription deactivated, then active again on the same index.
// The Events Guide says nothing of it; whether CMS then replays the calls
// is unknown. Without a replay the calls are kept (nothing says they
// ended) and the node is not synced until a real snapshot; with one, the
// replay replaces them like any snapshot. Nothing is counted either way.
func TestCallsReactivated(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h := newHarness(t, perCall)
		h.c.AddNode("a")
		h.synced("a", add("c1", "m1"), add("c2", "m2", recording("active")))
		h.subState("a", subCalls, cmsws.StateDeactivated)
		h.expect(nodeCallsText("a", 2)+synced("a", 0)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 0\n",
			"cms_node_calls", "cms_events_synced", "cms_up")
		h.subState("a", subCalls, cmsws.StateActive)
		return h
	}
	t.Run("without replay", func(t *testing.T) {
		h := setup(t)
		h.advance(30 * time.Second)
		h.sync("a", 0)
		h.expect(nodeCallsText("a", 2)+synced("a", 0)+counters(0, 0, 0, 0, 0, 0, 0, 0)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n",
			append([]string{"cms_node_calls", "cms_events_synced", "cms_up"}, counterNames...)...)
		// Live updates go on being applied.
		h.calls("a", upd("c2", recording("inactive")))
		h.expect(counters(0, 0, 0, 1, 0, 0, 0, 0), counterNames...)
	})
	t.Run("with replay", func(t *testing.T) {
		h := setup(t)
		h.calls("a", add("c2", "m2", recording("active")))
		h.sync("a", 0)
		h.expect(nodeCallsText("a", 1)+synced("a", 1)+counters(0, 0, 0, 0, 0, 0, 0, 0),
			append([]string{"cms_node_calls", "cms_events_synced"}, counterNames...)...)
	})
}

func TestStaleConnectionEventsIgnored(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"))
	old := h.sessions["a"]
	h.disconnect("a", cmsws.DisconnectReadError)

	// A message of the ended session must not touch the model.
	sub := subCalls
	idx := idxCalls
	h.ev("a", cmsws.Event{Kind: cmsws.EventMessage, Session: old, Subscription: &sub,
		Message: &cmsws.Message{MessageID: 99, Type: cmsws.TypeCallListUpdate, SubscriptionIndex: &idx,
			CallUpdates: []cmsws.CallUpdate{rm("c1")}}})
	h.connect("a")
	h.ev("a", cmsws.Event{Kind: cmsws.EventSubscriptionState, Session: old, Subscription: &sub, State: cmsws.StateDeactivated})
	h.expect(nodeCallsText("a", 1)+counters(0, 0, 0, 0, 0, 0, 0, 0)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n",
		append([]string{"cms_node_calls", "cms_up"}, counterNames...)...)
}

func TestCallListUpdateOnWrongResource(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	sub := subRoster
	h.msg("a", &cmsws.Message{Type: cmsws.TypeCallListUpdate, CallUpdates: []cmsws.CallUpdate{add("c1", "m1")}}, &sub)
	h.expect(nodeCallsText("a", 0), "cms_node_calls")
	if got := h.errors("a", "wrong_resource"); got != 1 {
		t.Errorf("wrong_resource errors = %v, want 1", got)
	}
}

// Roster messages feed the roster model (see the roster tests), callInfo
// messages are counted only; neither touches the calls.
func TestRosterAndCallInfoMessagesLeaveCallsAlone(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"))
	r, i := rosterSub(idxRoster, "c1"), subInfo
	h.ev("a", cmsws.Event{Kind: cmsws.EventSubscriptionState, Subscription: &r, State: cmsws.StateActive})
	h.msg("a", &cmsws.Message{Type: cmsws.TypeRosterUpdate, RosterUpdates: []cmsws.RosterUpdate{{Participant: "p1", UpdateType: "add"}}}, &r)
	h.msg("a", &cmsws.Message{Type: cmsws.TypeCallInfoUpdate, CallInfo: &cmsws.CallInfo{CallElements: cmsws.CallElements{Participants: cmsws.Set(5)}}}, &i)
	h.expect(nodeCallsText("a", 1)+callsText(callRow{node: "a", id: "c1", correlator: "m1", name: "Space c1", callType: "coSpace", participants: 1}),
		append([]string{"cms_node_calls"}, callFamilies...)...)
	for _, typ := range []string{cmsws.TypeRosterUpdate, cmsws.TypeCallInfoUpdate} {
		if got := h.value("cms_events_messages_total", "node", "a", "message_type", typ); got != 1 {
			t.Errorf("messages{message_type=%s} = %v, want 1", typ, got)
		}
	}
	for _, reason := range knownErrorReasons {
		if got := h.errors("a", reason); got != 0 {
			t.Errorf("errors{reason=%s} = %v, want 0", reason, got)
		}
	}
}

func TestCallWithoutCorrelatorIsItsOwnMeeting(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	meetings := func(coSpace, adHoc int) string {
		return fmt.Sprintf(`# TYPE cms_cluster_meetings gauge
cms_cluster_meetings{call_type="coSpace"} %d
cms_cluster_meetings{call_type="adHoc"} %d
cms_cluster_meetings{call_type="lyncConferencing"} 0
cms_cluster_meetings{call_type="forwarding"} 0
`, coSpace, adHoc)
	}
	h.calls("a", add("c1", ""), add("c2", ""), add("c3", "m", callType("adHoc")))
	h.expect(meetings(2, 1)+counters(3, 0, 0, 0, 0, 0, 0, 0), append([]string{"cms_cluster_meetings"}, counterNames...)...)
	// A correlator arriving later moves c2 into meeting m: one meeting
	// fewer, which is not a meeting ending.
	h.calls("a", upd("c2", correlator("m")))
	h.expect(meetings(1, 1)+counters(3, 0, 0, 0, 0, 0, 0, 0), append([]string{"cms_cluster_meetings"}, counterNames...)...)
}

func TestBadLabelValuesAreCleaned(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	long := strings.Repeat("é", 300) // 600 bytes
	h.calls("a", add("c\xff1", "m\xfe", name(long)))
	h.calls("a", upd("c\xff1", participants(4)))
	// Ids (call, correlator) keep their identity: cleaned, plus a hash of
	// the raw bytes (see labelValue); a name is only cleaned.
	want := callRow{node: "a", id: "c\uFFFD1~38bda03dc03d9e84", correlator: "m\uFFFD~5f93d34a55485487", name: strings.Repeat("é", maxLabelLen/2),
		callType: "coSpace", participants: 4}
	h.expect(callsText(want), callFamilies...)
	if got := h.errors("a", "unknown_call"); got != 0 {
		t.Errorf("unknown_call = %v: the update did not find the call by its raw id", got)
	}
}
