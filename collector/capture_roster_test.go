package collector

import (
	"slices"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// rosterOracle is the test's own roster of one meeting, fed with a
// capture's roster updates as plain JSON maps; it shares no code with the
// model. An add defines a participant (every element), an update merges
// (null included), a remove deletes.
type rosterOracle struct {
	participants map[string]map[string]any
	joined       int
	left         map[string]int
}

func newRosterOracle() *rosterOracle {
	return &rosterOracle{participants: map[string]map[string]any{}, left: map[string]int{}}
}

func (o *rosterOracle) reset() { o.participants = map[string]map[string]any{} }

// apply applies one update; live says it is not part of a snapshot.
func (o *rosterOracle) apply(u map[string]any, live bool) {
	id, _ := u["participant"].(string)
	switch u["updateType"] {
	case "add":
		if _, known := o.participants[id]; !known && live {
			o.joined++
		}
		o.participants[id] = map[string]any{}
		fallthrough
	case "update":
		for k, v := range u {
			o.participants[id][k] = v
		}
	case "remove":
		delete(o.participants, id)
		// The Events Guide's reasons as seen in real traffic; CMS gives
		// none for participants hosted on another node.
		r, ok := u["reason"].(string)
		switch {
		case !ok:
			o.left["none"]++
		case slices.Contains([]string{"timeout", "noAnswer", "notFound", "remoteTeardown", "callEnded", "unknownDestination"}, r):
			o.left[r]++
		default:
			o.left["other"]++
		}
	}
}

// expected is the roster row the oracle's participants make.
func (o *rosterOracle) expected(node, call string) rosterRow {
	r := rosterRow{node: node, call: call}
	on := func(v any) int {
		if v == true || v == "active" {
			return 1
		}
		return 0
	}
	for _, p := range o.participants {
		switch p["state"] {
		case "initial":
			r.states[0]++
		case "ringing":
			r.states[1]++
		case "connected":
			r.states[2]++
		case "onHold":
			r.states[3]++
		default:
			r.states[4]++
		}
		r.audio += on(p["audioMuted"])
		r.video += on(p["videoMuted"])
		r.txAudio += on(p["txAudioMuted"])
		r.txVideo += on(p["txVideoMuted"])
		r.pres += on(p["presenter"])
		r.spk += on(p["activeSpeaker"])
		r.rec += on(p["endpointRecording"])
	}
	return r
}

// rosterCallOf finds the call a capture session's roster subscription
// followed, from the session's own data: the one call of its calls
// snapshot, or, when the snapshot holds several, the one whose correlator
// the first callInfo message names.
func rosterCallOf(t *testing.T, session []captureLine) (call, correlator string) {
	t.Helper()
	snapshot := map[string]string{}
	infoCorr := ""
	for _, l := range session {
		if l.typ == cmsws.TypeCallListUpdate && len(snapshot) == 0 {
			for _, u := range l.updates {
				id, _ := u["call"].(string)
				corr, _ := u["callCorrelator"].(string)
				snapshot[id] = corr
			}
		}
		if l.typ == cmsws.TypeCallInfoUpdate && infoCorr == "" {
			infoCorr, _ = l.callInfo["callCorrelator"].(string)
		}
	}
	for id, corr := range snapshot {
		if len(snapshot) == 1 || corr == infoCorr {
			return id, corr
		}
	}
	t.Fatalf("session at messageId %d: cannot tell which call its roster followed (%v, callInfo %q)", session[0].id, snapshot, infoCorr)
	return "", ""
}

// TestCaptureSingleCallRoster replays the single-call capture (roster on
// index 1, callInfo on index 2 of one call) and compares the roster and
// the counters at its end with what the capture's own messages imply. The
// capture has no calls subscription: the call's add is synthesized. Its
// messages carry no receive time, so the snapshot is exactly the leading
// messages of only adds on the roster subscription.
func TestCaptureSingleCallRoster(t *testing.T) {
	const node, callID, corr = "bridge1", "call-1", "corr-1"
	lines := readCapture(t, "single-call.jsonl")
	h := newHarness(t, perCall)
	h.c.AddNode(node)
	h.synced(node, add(callID, corr))
	h.place(corr, node, 0)
	subs := map[int]cmsws.Subscription{
		idxRoster: rosterSub(idxRoster, callID),
		idxInfo:   {Index: idxInfo, Type: cmsws.ResourceCallInfo, Call: callID, Elements: callInfoElements},
	}
	h.activate(node, 0, subs[idxRoster])
	h.activate(node, 0, subs[idxInfo])

	o := newRosterOracle()
	snapshot := true
	for i, l := range lines {
		fr, err := cmsws.DecodeFrame(l.raw)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		sub, ok := subs[l.index]
		if !ok {
			t.Fatalf("line %d: index %d", i+1, l.index)
		}
		h.ev(node, cmsws.Event{Kind: cmsws.EventMessage, Message: fr.Message, Subscription: &sub})
		if l.typ != cmsws.TypeRosterUpdate {
			continue
		}
		for _, u := range l.updates {
			if u["updateType"] != "add" {
				snapshot = false
			}
		}
		for _, u := range l.updates {
			o.apply(u, !snapshot)
		}
	}

	want := o.expected(node, callID)
	t.Logf("capture ends with %d participants %+v; joined %d, left %v", len(o.participants), want, o.joined, o.left)
	if len(o.participants) == 0 || o.joined == 0 || len(o.left) == 0 {
		t.Fatal("the oracle saw no participants, joins or leaves: the replay would prove little")
	}
	h.expect(rosterText(want)+participantTotalsText(o.joined, 0, o.left)+
		clusterRosterText(want.audio, want.video, want.txAudio, want.txVideo, want.pres)+coverageText(1, 1, 0, 0, 0),
		append(append(append(rosterFamilies, participantTotalNames...), clusterRosterNames...), coverageNames...)...)
	for _, reason := range knownErrorReasons {
		if got := h.errors(node, reason); got != 0 {
			t.Errorf("errors{reason=%s} = %v, want 0", reason, got)
		}
	}
}

// callInfoElements are the elements a callInfo subscription of the tests
// asks for (the exporter itself does not subscribe to callInfo).
var callInfoElements = []string{"name", "participants", "distributedInstances", "recording",
	"endpointRecording", "streaming", "lockState", "callType", "callCorrelator", "joinAudioMuteOverride"}
