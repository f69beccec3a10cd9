package collector

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
	"github.com/cms-exporter/cms_exporter/planner"
)

func TestSelfMetrics(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.ev("a", cmsws.Event{Kind: cmsws.EventConnecting})
	h.ev("a", cmsws.Event{Kind: cmsws.EventConnectFailed, Reason: cmsws.ConnectFailureAuth})
	h.ev("a", cmsws.Event{Kind: cmsws.EventConnectFailed, Reason: "solar flare"})
	h.connect("a") // two subscriptionUpdate messages
	h.subState("a", subRoster, cmsws.StatePending)
	h.subState("a", subInfo, cmsws.StateDeactivated)
	h.subState("a", cmsws.Subscription{Index: 9, Type: "meetings"}, "sleeping")
	h.calls("a", add("c1", "m1"))
	r := subRoster
	h.msg("a", &cmsws.Message{Type: cmsws.TypeRosterUpdate}, &r)
	h.msg("a", &cmsws.Message{Type: "pollResult"}, nil)
	h.ev("a", cmsws.Event{Kind: cmsws.EventMessageError, Reason: cmsws.MessageErrorUnknownType})
	h.ev("a", cmsws.Event{Kind: cmsws.EventMessageError, Reason: cmsws.MessageErrorSequence})
	h.ev("a", cmsws.Event{Kind: cmsws.EventMessageError, Reason: "gremlins"})
	h.ev("a", cmsws.Event{Kind: cmsws.EventRequestFailed, Reason: "failure", Err: errors.New("ack status failure")})
	h.ev("a", cmsws.Event{Kind: cmsws.EventProbe, Latency: 80 * time.Millisecond})
	h.advance(2 * time.Second)
	h.ev("a", cmsws.Event{Kind: cmsws.EventProbe, Latency: 120 * time.Millisecond})
	h.calls("a", upd("ghost"))
	last := h.now()
	h.advance(10 * time.Second)

	h.expect(`# TYPE cms_events_connects_total counter
cms_events_connects_total{node="a"} 1
# TYPE cms_events_connect_failures_total counter
cms_events_connect_failures_total{node="a",reason="auth"} 1
cms_events_connect_failures_total{node="a",reason="token"} 0
cms_events_connect_failures_total{node="a",reason="network"} 0
cms_events_connect_failures_total{node="a",reason="tls"} 0
cms_events_connect_failures_total{node="a",reason="handshake"} 0
cms_events_connect_failures_total{node="a",reason="other"} 1
# TYPE cms_events_disconnects_total counter
cms_events_disconnects_total{node="a",reason="probe_timeout"} 0
cms_events_disconnects_total{node="a",reason="read_error"} 0
cms_events_disconnects_total{node="a",reason="server_close"} 0
cms_events_disconnects_total{node="a",reason="write_error"} 0
cms_events_disconnects_total{node="a",reason="shutdown"} 0
cms_events_disconnects_total{node="a",reason="message_too_large"} 0
# TYPE cms_events_messages_total counter
cms_events_messages_total{node="a",message_type="subscriptionUpdate"} 5
cms_events_messages_total{node="a",message_type="callListUpdate"} 2
cms_events_messages_total{node="a",message_type="rosterUpdate"} 1
cms_events_messages_total{node="a",message_type="callInfoUpdate"} 0
cms_events_messages_total{node="a",message_type="other"} 1
# TYPE cms_events_message_errors_total counter
cms_events_message_errors_total{node="a",reason="malformed_json"} 0
cms_events_message_errors_total{node="a",reason="unknown_envelope"} 0
cms_events_message_errors_total{node="a",reason="missing_message_id"} 0
cms_events_message_errors_total{node="a",reason="bad_updates"} 0
cms_events_message_errors_total{node="a",reason="bad_entry"} 0
cms_events_message_errors_total{node="a",reason="unknown_type"} 1
cms_events_message_errors_total{node="a",reason="unknown_subscription"} 0
cms_events_message_errors_total{node="a",reason="unexpected_ack"} 0
cms_events_message_errors_total{node="a",reason="sequence"} 1
cms_events_message_errors_total{node="a",reason="ping"} 0
cms_events_message_errors_total{node="a",reason="unknown_call"} 1
cms_events_message_errors_total{node="a",reason="invalid_value"} 0
cms_events_message_errors_total{node="a",reason="request_failed"} 1
cms_events_message_errors_total{node="a",reason="wrong_resource"} 0
cms_events_message_errors_total{node="a",reason="unknown_participant"} 0
cms_events_message_errors_total{node="a",reason="other"} 1
# TYPE cms_events_subscriptions gauge
cms_events_subscriptions{node="a",resource="calls",state="pending"} 0
cms_events_subscriptions{node="a",resource="calls",state="active"} 1
cms_events_subscriptions{node="a",resource="calls",state="deactivated"} 0
cms_events_subscriptions{node="a",resource="callRoster",state="pending"} 1
cms_events_subscriptions{node="a",resource="callRoster",state="active"} 0
cms_events_subscriptions{node="a",resource="callRoster",state="deactivated"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="pending"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="active"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="deactivated"} 1
cms_events_subscriptions{node="a",resource="other",state="other"} 1
# TYPE cms_events_probes_total counter
cms_events_probes_total{node="a"} 2
# TYPE cms_events_probe_latency_seconds gauge
cms_events_probe_latency_seconds{node="a"} 0.12
# TYPE cms_events_synced gauge
cms_events_synced{node="a"} 1
# TYPE cms_events_connected gauge
cms_events_connected{node="a"} 1
# TYPE cms_up gauge
cms_up{node="a"} 1
`, "cms_events_connects_total", "cms_events_connect_failures_total", "cms_events_disconnects_total",
		"cms_events_messages_total", "cms_events_message_errors_total", "cms_events_subscriptions",
		"cms_events_probes_total", "cms_events_probe_latency_seconds", "cms_events_synced",
		"cms_events_connected", "cms_up")
	if got, want := h.value("cms_events_last_message_timestamp_seconds", "node", "a"), float64(last.Unix()); got != want {
		t.Errorf("last message timestamp = %v, want %v", got, want)
	}

	h.disconnect("a", cmsws.DisconnectProbeTimeout)
	h.expect(`# TYPE cms_events_disconnects_total counter
cms_events_disconnects_total{node="a",reason="probe_timeout"} 1
cms_events_disconnects_total{node="a",reason="read_error"} 0
cms_events_disconnects_total{node="a",reason="server_close"} 0
cms_events_disconnects_total{node="a",reason="write_error"} 0
cms_events_disconnects_total{node="a",reason="shutdown"} 0
cms_events_disconnects_total{node="a",reason="message_too_large"} 0
# TYPE cms_events_synced gauge
cms_events_synced{node="a"} 0
# TYPE cms_events_connected gauge
cms_events_connected{node="a"} 0
# TYPE cms_up gauge
cms_up{node="a"} 0
`, "cms_events_disconnects_total", "cms_events_synced", "cms_events_connected", "cms_up")
	if got := h.value("cms_events_subscriptions", "node", "a", "resource", "calls", "state", "active"); got != 0 {
		t.Errorf("subscriptions of a closed connection = %v, want 0", got)
	}
}

func TestNewNodeIsDownUntilSynced(t *testing.T) {
	h := newHarness(t, perCall)
	if !h.c.AllSynced() {
		t.Error("AllSynced with no nodes = false, want true")
	}
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.expect("# TYPE cms_up gauge\ncms_up{node=\"a\"} 0\ncms_up{node=\"b\"} 0\n"+
		"# TYPE cms_events_synced gauge\ncms_events_synced{node=\"a\"} 0\ncms_events_synced{node=\"b\"} 0\n",
		"cms_up", "cms_events_synced")
	h.synced("a")
	if h.c.AllSynced() {
		t.Fatal("AllSynced with b never connected")
	}
	h.connect("b")
	if h.c.AllSynced() {
		t.Fatal("AllSynced before b's snapshot ended")
	}
	h.calls("b", add("b1", "M"))
	h.calls("b", upd("b1", participants(3)))
	if !h.c.AllSynced() {
		t.Fatal("AllSynced = false after both snapshots ended")
	}
	// Synced means "once": a reconnect does not make the exporter unready.
	h.disconnect("a", cmsws.DisconnectReadError)
	if !h.c.AllSynced() {
		t.Error("AllSynced = false after a disconnect, want true (a synced once)")
	}
}

func TestRemoveNodeDropsEverything(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
		h.synced(n)
	}
	h.calls("a", add("a1", "M", participants(3)))
	h.calls("b", add("b1", "M", participants(3), recording("active")))
	h.calls("b", add("b2", "N"))
	h.ev("b", cmsws.Event{Kind: cmsws.EventProbe, Latency: time.Millisecond})
	h.ev("b", cmsws.Event{Kind: cmsws.EventConnectFailed, Reason: cmsws.ConnectFailureTLS})
	h.expect(clusterText(2, 4, 1, 0, 0)+counters(2, 0, 1, 0, 0, 0, 0, 0), clusterAndCounters...)

	h.c.RemoveNode("b")
	mfs, err := gatherAll(h.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if hasLabel(m, "node", "b") {
				t.Errorf("series of removed node left: %s %v", mf.GetName(), m.GetLabel())
			}
		}
	}
	// Its instances left silently; counters never go back.
	h.expect(clusterText(1, 3, 0, 0, 0)+counters(2, 0, 1, 0, 0, 0, 0, 0)+nodeCallsText("a", 1),
		append([]string{"cms_node_calls"}, clusterAndCounters...)...)
	if !h.c.AllSynced() {
		t.Error("AllSynced = false; the removed node must not count")
	}

	// Its client may still deliver events: they must not resurrect it.
	h.calls("b", add("b3", "O"))
	h.ev("b", cmsws.Event{Kind: cmsws.EventConnected, Session: 7})
	h.expect(clusterText(1, 3, 0, 0, 0)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\n", append([]string{"cms_up"}, clusterNames...)...)

	// Re-adding starts from scratch.
	h.c.AddNode("b")
	if h.c.AllSynced() {
		t.Error("AllSynced with the re-added node before any snapshot")
	}
	if got := h.value("cms_events_probes_total", "node", "b"); got != 0 {
		t.Errorf("probes of re-added node = %v, want 0", got)
	}
}

func TestPerCallMetricsOff(t *testing.T) {
	h := newHarness(t, Options{})
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"), add("c2", "m1"))
	mfs, err := gatherAll(h.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "cms_call_") {
			t.Errorf("per-call family %s rendered with PerCallMetrics off", mf.GetName())
		}
	}
	h.expect(nodeCallsText("a", 2)+clusterText(1, 1, 0, 0, 0), append([]string{"cms_node_calls"}, clusterNames...)...)

	// Switched on at run time (config reload), they appear, and off again,
	// they go.
	row := func(id string) callRow {
		return callRow{node: "a", id: id, correlator: "m1", name: "Space " + id, callType: "coSpace", participants: 1}
	}
	h.c.SetPerCallMetrics(true)
	h.expect(callsText(row("c1"), row("c2")), callFamilies...)
	h.c.SetPerCallMetrics(false)
	h.calls("a", upd("c1", participants(3)))
	h.c.SetPerCallMetrics(true)
	r1 := row("c1")
	r1.participants = 3
	h.expect(callsText(r1, row("c2")), callFamilies...)
}

func TestLogsStateChangesOnlyAtInfo(t *testing.T) {
	var buf testutil.SyncBuffer
	h := newHarness(t, Options{PerCallMetrics: true, Logger: log.NewLogfmtLogger(&buf)})
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"))
	for i := range 50 {
		h.calls("a", upd("c1", participants(i)))
	}
	h.calls("a", upd("c1", recording("bogus")))
	h.calls("a", upd("ghost", participants(1)))
	h.disconnect("a", cmsws.DisconnectReadError)
	h.synced("a", add("c1", "m1"))

	info := buf.Lines("level=info")
	var msgs []string
	for _, l := range info {
		switch {
		case strings.Contains(l, "stream up"):
			msgs = append(msgs, "up")
		case strings.Contains(l, "stream down"):
			msgs = append(msgs, "down")
		case strings.Contains(l, "synced"):
			msgs = append(msgs, "synced")
		default:
			msgs = append(msgs, l)
		}
	}
	if got, want := strings.Join(msgs, ","), "up,synced,down,up,synced"; got != want {
		t.Errorf("info log lines = %s, want %s\n%s", got, want, strings.Join(info, "\n"))
	}
	warn := buf.Lines("level=warn")
	if len(warn) != 2 {
		t.Fatalf("warn lines = %d, want 2 (invalid value, unknown call):\n%s", len(warn), strings.Join(warn, "\n"))
	}
	for _, want := range []string{`call=c1 element=recording value="\"bogus\""`, "call=ghost"} {
		if l := buf.Lines(want); len(l) != 1 || !strings.Contains(l[0], "node=a") {
			t.Errorf("no log line naming %s", want)
		}
	}
}

// Connections: each keeps its own sessions and subscriptions; connection 0
// alone drives cms_up and the calls; the self-metrics add the connections up.
func TestConnectionsAreIndependent(t *testing.T) {
	h, _ := rosterHarness(t, perCall)
	h.connectOn("a", 1)
	sub := rosterSub(1, "c1")
	h.activate("a", 1, sub)
	h.expect(`# TYPE cms_events_subscriptions gauge
cms_events_subscriptions{node="a",resource="calls",state="pending"} 0
cms_events_subscriptions{node="a",resource="calls",state="active"} 1
cms_events_subscriptions{node="a",resource="calls",state="deactivated"} 0
cms_events_subscriptions{node="a",resource="callRoster",state="pending"} 0
cms_events_subscriptions{node="a",resource="callRoster",state="active"} 2
cms_events_subscriptions{node="a",resource="callRoster",state="deactivated"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="pending"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="active"} 0
cms_events_subscriptions{node="a",resource="callInfo",state="deactivated"} 0
# TYPE cms_events_connects_total counter
cms_events_connects_total{node="a"} 2
`, "cms_events_subscriptions", "cms_events_connects_total")

	// The extra connection drops: its subscription goes, connection 0 stays
	// up.
	h.disconnectOn("a", 1, cmsws.DisconnectProbeTimeout)
	h.expect(`# TYPE cms_events_connected gauge
cms_events_connected{node="a"} 1
# TYPE cms_up gauge
cms_up{node="a"} 1
# TYPE cms_events_disconnects_total counter
cms_events_disconnects_total{node="a",reason="probe_timeout"} 1
cms_events_disconnects_total{node="a",reason="read_error"} 0
cms_events_disconnects_total{node="a",reason="server_close"} 0
cms_events_disconnects_total{node="a",reason="write_error"} 0
cms_events_disconnects_total{node="a",reason="shutdown"} 0
cms_events_disconnects_total{node="a",reason="message_too_large"} 0
`+coverageText(1, 1, 0, 0, 0), append(coverageNames, "cms_events_connected", "cms_up", "cms_events_disconnects_total")...)
	if got := h.value("cms_events_subscriptions", "node", "a", "resource", "callRoster", "state", "active"); got != 1 {
		t.Errorf("roster subscriptions after conn 1 dropped = %v, want 1 (conn 0's)", got)
	}
	// A message of connection 1's old session is stale and ignored.
	h.roster("a", 1, sub, padd("p7"))
	// Connection 0 drops: the roster stays, connection 1 (reconnected) is
	// untouched.
	h.connectOn("a", 1)
	h.activate("a", 1, sub)
	h.disconnect("a", cmsws.DisconnectReadError)
	h.expect(rosterText(baseRow)+participantTotalsText(0, 0, nil)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 0\n"+
		"# TYPE cms_events_connected gauge\ncms_events_connected{node=\"a\"} 0\n",
		append(append(rosterFamilies, participantTotalNames...), "cms_up", "cms_events_connected")...)
	if got := h.value("cms_events_subscriptions", "node", "a", "resource", "callRoster", "state", "active"); got != 1 {
		t.Errorf("roster subscriptions after conn 0 dropped = %v, want 1 (conn 1's)", got)
	}
	// Calls are connection 0's alone: a calls update on connection 1 is refused.
	calls := subCalls
	h.msgOn("a", 1, &cmsws.Message{Type: cmsws.TypeCallListUpdate, CallUpdates: []cmsws.CallUpdate{add("x", "X")}}, &calls)
	if got := h.errors("a", "wrong_resource"); got != 1 {
		t.Errorf("wrong_resource = %v, want 1", got)
	}
	// Connection numbers outside any configuration are refused, not modelled.
	h.evOn("a", 99, cmsws.Event{Kind: cmsws.EventConnected, Session: 1})
	if _, _, connected := h.c.PlanInput(); !reflect.DeepEqual(connected, []planner.Connection{{Node: "a", Number: 1}}) {
		t.Errorf("connected = %v, want only a/1", connected)
	}
}

// The stated capacity is a node attribute: absent when not stated (or 0),
// replaced by each SetCapacity, shown only for nodes in the model, and gone
// with its node.
func TestNodeCapacity(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.c.AddNode("c")
	h.expect("# TYPE cms_node_capacity_participants gauge\n", "cms_node_capacity_participants")
	h.c.SetCapacity(map[string]int{"a": 120, "b": 0, "c": -1, "unknown": 40})
	h.expect(`# TYPE cms_node_capacity_participants gauge
cms_node_capacity_participants{node="a"} 120
`, "cms_node_capacity_participants")
	h.c.SetCapacity(map[string]int{"b": 60, "c": 30})
	h.c.RemoveNode("c")
	h.expect(`# TYPE cms_node_capacity_participants gauge
cms_node_capacity_participants{node="b"} 60
`, "cms_node_capacity_participants")
}
