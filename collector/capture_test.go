package collector

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// captureDir holds the recorded CMS traffic (see its README.md). It lives in
// the repository's top-level testdata so one copy serves every package.
const captureDir = "../testdata/cms-capture"

// captureLine is one line of a capture as the test's own plain JSON reading
// sees it, independent of cmsws's decoder.
type captureLine struct {
	raw      []byte
	date     time.Time
	id       int64
	typ      string
	index    int
	updates  []map[string]any
	callInfo map[string]any
}

func readCapture(t testing.TB, file string) []captureLine {
	t.Helper()
	f, err := os.Open(filepath.Join(captureDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captureLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := append([]byte(nil), sc.Bytes()...)
		var env struct {
			Date    string `json:"date"`
			Message struct {
				MessageID         int64            `json:"messageId"`
				Type              string           `json:"type"`
				SubscriptionIndex int              `json:"subscriptionIndex"`
				Updates           []map[string]any `json:"updates"`
				CallInfo          map[string]any   `json:"callInfo"`
			} `json:"message"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("%s line %d: %v", file, len(out)+1, err)
		}
		l := captureLine{raw: raw, id: env.Message.MessageID, typ: env.Message.Type,
			index: env.Message.SubscriptionIndex, updates: env.Message.Updates, callInfo: env.Message.CallInfo}
		if env.Date != "" {
			if l.date, err = time.Parse("2006-01-02T15:04:05.999999", env.Date); err != nil {
				t.Fatalf("%s line %d: date: %v", file, len(out)+1, err)
			}
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCaptureDecodes: every recorded message decodes, with every element of
// every update valid, and the decoder sees what a plain JSON reading sees.
func TestCaptureDecodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", captureDir, err)
	}
	for _, path := range files {
		file := filepath.Base(path)
		for i, l := range readCapture(t, file) {
			fr, err := cmsws.DecodeFrame(l.raw)
			if err != nil {
				t.Errorf("%s line %d: %v", file, i+1, err)
				continue
			}
			m := fr.Message
			if m == nil || m.MessageID != l.id || m.Type != l.typ {
				t.Errorf("%s line %d: decoded %+v, plain JSON says id %d type %s", file, i+1, fr, l.id, l.typ)
				continue
			}
			switch m.Type {
			case cmsws.TypeCallListUpdate:
				if len(m.CallUpdates) != len(l.updates) {
					t.Errorf("%s line %d: %d call updates, want %d", file, i+1, len(m.CallUpdates), len(l.updates))
				}
				for _, u := range m.CallUpdates {
					for el, st := range map[string]cmsws.FieldState{"name": u.Name.State, "participants": u.Participants.State,
						"distributedInstances": u.DistributedInstances.State, "recording": u.Recording.State,
						"endpointRecording": u.EndpointRecording.State, "streaming": u.Streaming.State,
						"lockState": u.LockState.State, "callType": u.CallType.State, "callCorrelator": u.CallCorrelator.State,
						"reason": u.Reason.State} {
						if st == cmsws.Invalid {
							t.Errorf("%s line %d: call %s element %s invalid", file, i+1, u.Call, el)
						}
					}
				}
			case cmsws.TypeRosterUpdate:
				if len(m.RosterUpdates) != len(l.updates) {
					t.Errorf("%s line %d: %d roster updates, want %d", file, i+1, len(m.RosterUpdates), len(l.updates))
				}
			case cmsws.TypeCallInfoUpdate:
				if m.CallInfo == nil {
					t.Errorf("%s line %d: callInfoUpdate without callInfo", file, i+1)
				}
			default:
				t.Errorf("%s line %d: unexpected message type %q", file, i+1, m.Type)
			}
		}
	}
}

// oracle is the test's own model of one node's calls, fed by a session's
// add/update/remove lines as plain JSON maps; it knows nothing of the code
// under test. Each session's first callListUpdate is its snapshot
// (README: every connection begins with a calls snapshot of adds).
type oracle struct {
	calls map[string]map[string]any
	// transition counts, in counterNames order (locks excluded: see below)
	started, ended, recStarted, recStopped, strStarted, strStopped int
}

type oracleMeeting struct{ present, recording, streaming bool }

func (o *oracle) meeting(correlator string) oracleMeeting {
	var m oracleMeeting
	for _, c := range o.calls {
		if c["callCorrelator"] == correlator {
			m.present = true
			m.recording = m.recording || c["recording"] == "active"
			m.streaming = m.streaming || c["streaming"] == "active"
		}
	}
	return m
}

func (o *oracle) apply(u map[string]any, live bool) {
	id := u["call"].(string)
	corr := func() string {
		if c, ok := o.calls[id]; ok {
			s, _ := c["callCorrelator"].(string)
			return s
		}
		s, _ := u["callCorrelator"].(string)
		return s
	}()
	before := o.meeting(corr)
	switch u["updateType"] {
	case "add":
		o.calls[id] = map[string]any{}
		fallthrough
	case "update":
		for k, v := range u {
			o.calls[id][k] = v
		}
	case "remove":
		delete(o.calls, id)
	}
	if !live {
		return
	}
	after := o.meeting(corr)
	edge := func(b, a bool, on, off *int) {
		if !b && a {
			*on++
		}
		if b && !a {
			*off++
		}
	}
	edge(before.present, after.present, &o.started, &o.ended)
	edge(before.recording, after.recording, &o.recStarted, &o.recStopped)
	edge(before.streaming, after.streaming, &o.strStarted, &o.strStopped)
}

// expected renders the oracle's calls as per-call series plus the counters.
func (o *oracle) expected(node string) string {
	onOff := func(v any, on string) int {
		if v == on {
			return 1
		}
		return 0
	}
	num := func(v any) int { f, _ := v.(float64); return int(f) }
	str := func(v any) string { s, _ := v.(string); return s }
	var rows []callRow
	for id, c := range o.calls {
		rows = append(rows, callRow{node: node, id: id, correlator: str(c["callCorrelator"]), name: str(c["name"]),
			callType: str(c["callType"]), participants: num(c["participants"]), distributed: num(c["distributedInstances"]),
			recording: onOff(c["recording"], "active"), streaming: onOff(c["streaming"], "active"),
			epRec: onOff(c["endpointRecording"], "active"), locked: onOff(c["lockState"], "locked")})
	}
	return callsText(rows...) + counters(o.started, o.ended, o.recStarted, o.recStopped, o.strStarted, o.strStopped, 0, 0)
}

// splitSessions cuts the capture into sessions where messageId does not increase.
func splitSessions(lines []captureLine) [][]captureLine {
	var sessions [][]captureLine
	for i, l := range lines {
		if i == 0 || l.id <= lines[i-1].id {
			sessions = append(sessions, nil)
		}
		sessions[len(sessions)-1] = append(sessions[len(sessions)-1], l)
	}
	return sessions
}

// maxLockArtifact measures, from the capture alone, the longest time a call
// announced "locked" took to be updated to notLocked, and reports whether
// every such call was unlocked within its session.
func maxLockArtifact(sessions [][]captureLine) (time.Duration, bool) {
	var longest time.Duration
	for _, session := range sessions {
		lockedSince := map[string]time.Time{}
		for _, l := range session {
			for _, u := range l.updates {
				id, _ := u["call"].(string)
				switch u["lockState"] {
				case "locked":
					lockedSince[id] = l.date
				case "notLocked":
					if t0, ok := lockedSince[id]; ok {
						longest = max(longest, l.date.Sub(t0))
						delete(lockedSince, id)
					}
				}
			}
		}
		if len(lockedSince) > 0 {
			return longest, false
		}
	}
	return longest, true
}

func TestCaptureReplay(t *testing.T) {
	const node = "bridge1"
	lines := readCapture(t, "one-bridge-81-connections.jsonl")
	sessions := splitSessions(lines)
	if len(sessions) != 81 {
		t.Fatalf("capture splits into %d sessions, README says 81 connections", len(sessions))
	}

	// Every lock in this capture is CMS's creation artifact; LockSettle
	// must outlast the longest one for it not to count, so derive it.
	artifact, allUnlocked := maxLockArtifact(sessions)
	if !allUnlocked {
		t.Fatal("the capture holds a call that stays locked; the lock expectations below assume none")
	}
	settle := artifact + time.Second
	t.Logf("longest lock artifact in the capture: %v; LockSettle %v", artifact, settle)

	var clock time.Time
	c := New(Options{PerCallMetrics: true, LockSettle: settle, Now: func() time.Time { return clock }})
	c.AddNode(node)
	subs := map[int]cmsws.Subscription{idxCalls: subCalls, idxRoster: subRoster, idxInfo: subInfo}
	handle := func(ev cmsws.Event) {
		ev.Node = node
		ev.Time = clock
		c.Handle(ev)
	}
	o := &oracle{calls: map[string]map[string]any{}}
	ro := newRosterOracle()
	var followed, followedCorr string
	msgTypes := map[string]int{}

	check := func(when string) {
		t.Helper()
		extra := fmt.Sprintf("# TYPE cms_up gauge\ncms_up{node=%q} 1\n# TYPE cms_events_synced gauge\ncms_events_synced{node=%q} 1\n"+
			"# TYPE cms_cluster_meetings_locked gauge\ncms_cluster_meetings_locked 0\n", node, node)
		if err := collectAndCompare(c, o.expected(node)+extra,
			append([]string{"cms_up", "cms_events_synced", "cms_cluster_meetings_locked"}, append(callFamilies, counterNames...)...)...); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}

	for k, session := range sessions {
		if k > 0 {
			// The session lasted until just before the next one began.
			clock = session[0].date.Add(-time.Millisecond)
			c.Tick(clock)
			check(fmt.Sprintf("end of session %d", k))
			handle(cmsws.Event{Kind: cmsws.EventDisconnected, Session: uint64(k), Reason: cmsws.DisconnectReadError})
		}
		// The capture lacks subscriptionUpdate frames; their messageIds are
		// the gaps. Messages 1 and 2 listed the calls subscription pending,
		// then active; the first gap after the calls snapshot is the
		// listing of the client's second request, which added roster and
		// callInfo subscriptions for one call of that snapshot and listed
		// the calls subscription again (which ends its snapshot). Later
		// gaps (deactivation notices) are left out: their content is lost.
		followed, followedCorr = rosterCallOf(t, session)
		subs[idxRoster] = rosterSub(idxRoster, followed)
		subs[idxInfo] = cmsws.Subscription{Index: idxInfo, Type: cmsws.ResourceCallInfo, Call: followed}
		ro.reset() // each session's roster snapshot replaces the roster
		clock = session[0].date
		handle(cmsws.Event{Kind: cmsws.EventConnected, Session: uint64(k + 1)})
		list := func(state string, idxs ...int) {
			for _, idx := range idxs {
				sub := subs[idx]
				handle(cmsws.Event{Kind: cmsws.EventSubscriptionState, Session: uint64(k + 1), Subscription: &sub, State: state})
			}
		}
		list(cmsws.StatePending, idxCalls)
		list(cmsws.StateActive, idxCalls)
		sawSnapshot, secondListing := false, false
		prevID := int64(2)
		for _, l := range session {
			clock = l.date
			c.Tick(clock)
			if sawSnapshot && !secondListing && l.id > prevID+1 {
				list(cmsws.StatePending, idxCalls, idxRoster, idxInfo)
				list(cmsws.StateActive, idxCalls, idxRoster, idxInfo)
				secondListing = true
			}
			prevID = l.id
			fr, err := cmsws.DecodeFrame(l.raw)
			if err != nil {
				t.Fatalf("session %d message %d: %v", k+1, l.id, err)
			}
			sub, ok := subs[l.index]
			if !ok {
				t.Fatalf("session %d message %d: index %d", k+1, l.id, l.index)
			}
			handle(cmsws.Event{Kind: cmsws.EventMessage, Session: uint64(k + 1), Message: fr.Message, Subscription: &sub})
			msgTypes[l.typ]++
			if l.typ == cmsws.TypeCallListUpdate {
				if !sawSnapshot {
					o.calls = map[string]map[string]any{} // replace on relist
				}
				for _, u := range l.updates {
					o.apply(u, sawSnapshot)
					if u["call"] == followed && u["updateType"] == "remove" {
						ro.reset() // the meeting ended: its roster goes
					}
				}
				sawSnapshot = true
			}
			if l.typ == cmsws.TypeRosterUpdate {
				// Joins depend on when a quiet snapshot ended, so this
				// replay only checks what does not: the roster and leaves.
				for _, u := range l.updates {
					ro.apply(u, true)
				}
			}
		}
	}
	clock = clock.Add(time.Minute)
	c.Tick(clock)
	check("end of capture")

	// The roster of the meeting followed last, and every leave, as the
	// capture itself says.
	conn := planner.Connection{Node: node}
	setTestPlan(c, map[string]planner.Connection{followedCorr: conn}, nil, nil, map[planner.Connection]int{conn: 3}, nil)
	want := ro.expected(node, followed)
	if err := collectAndCompare(c, rosterText(want)+participantTotalsText(0, 0, ro.left)+
		clusterRosterText(want.audio, want.video, want.txAudio, want.txVideo, want.pres)+coverageText(1, 1, 0, 0, 0),
		append(append(append(append([]string{}, rosterFamilies...), "cms_participants_left_total"), clusterRosterNames...), coverageNames...)...); err != nil {
		t.Errorf("roster at the end of the capture: %v", err)
	}
	t.Logf("roster at the end: %+v; leaves %v", want, ro.left)
	if len(ro.participants) == 0 || len(ro.left) < 3 {
		t.Errorf("the roster oracle ends with %d participants and %d leave reasons: the replay would prove little", len(ro.participants), len(ro.left))
	}

	// Every message counted by type; no errors at all.
	for typ, n := range msgTypes {
		v, ok, err := value(c, "cms_events_messages_total", map[string]string{"node": node, "message_type": typ})
		if err != nil || !ok || v != float64(n) {
			t.Errorf("messages{type=%s} = %v (found %v, %v), want %d", typ, v, ok, err, n)
		}
	}
	mfs, err := gatherAll(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cms_events_message_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("message errors %v = %v, want 0", m.GetLabel(), v)
			}
		}
	}
	ids := slices.Sorted(maps.Keys(o.calls))
	t.Logf("replayed %d messages over %d sessions; calls at the end: %s; starts %d ends %d recording +%d/-%d streaming +%d/-%d",
		len(lines), len(sessions), strings.Join(ids, ","), o.started, o.ended, o.recStarted, o.recStopped, o.strStarted, o.strStopped)
	if o.started == 0 || o.ended == 0 {
		t.Error("the oracle saw no live start or end: the replay would prove little")
	}
}
