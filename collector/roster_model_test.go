package collector

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// recount computes a roster's aggregates from its participants, the slow
// way the incremental ones must always equal.
func recount(r *roster) rosterAgg {
	var a rosterAgg
	for _, p := range r.participants {
		a.add(&p.st, 1)
	}
	return a
}

// toMap turns an update into the plain JSON map a capture line would hold.
func toMap(t *testing.T, u cmsws.RosterUpdate) map[string]any {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRosterAggregatesMatchRecount applies a long pseudo-random sequence of
// joins, updates (values and nulls) and leaves, and checks after every
// message that the incremental aggregates equal a recount, and at the end
// that the metrics equal an independent oracle fed with the same updates.
func TestRosterAggregatesMatchRecount(t *testing.T) {
	h, sub := rosterHarness(t, perCall)
	o := newRosterOracle()
	o.apply(toMap(t, padd("p1")), false)
	o.apply(toMap(t, padd("p2")), false)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{"p1", "p2"}
	next := 3
	boolField := func() cmsws.Field[bool] {
		switch rng.IntN(4) {
		case 0:
			return cmsws.Field[bool]{} // absent
		case 1:
			return cmsws.NullField[bool]()
		default:
			return cmsws.Set(rng.IntN(2) == 0)
		}
	}
	states := []string{"initial", "ringing", "connected", "onHold", "inLobby"}
	randomize := func(u *cmsws.RosterUpdate) {
		u.AudioMuted, u.VideoMuted = boolField(), boolField()
		u.TxAudioMuted, u.TxVideoMuted = boolField(), boolField()
		u.Presenter, u.ActiveSpeaker = boolField(), boolField()
		switch rng.IntN(4) {
		case 0:
			u.State = cmsws.Set(states[rng.IntN(len(states))])
		case 1:
			u.State = cmsws.NullField[string]()
		}
		switch rng.IntN(4) {
		case 0:
			u.EndpointRecording = cmsws.Set("active")
		case 1:
			u.EndpointRecording = cmsws.Set("inactive")
		case 2:
			u.EndpointRecording = cmsws.NullField[string]()
		}
	}
	for step := range 3000 {
		var msg []cmsws.RosterUpdate
		for range 1 + rng.IntN(3) {
			var u cmsws.RosterUpdate
			switch op := rng.IntN(10); {
			case op < 2 || len(ids) == 0:
				u = padd(fmt.Sprintf("p%d", next))
				randomize(&u)
				ids = append(ids, u.Participant)
				next++
			case op < 3:
				i := rng.IntN(len(ids))
				u = prm(ids[i])
				if rng.IntN(2) == 0 {
					u.Reason = cmsws.Set("timeout")
				}
				ids = append(ids[:i], ids[i+1:]...)
			default:
				u = pupd(ids[rng.IntN(len(ids))])
				randomize(&u)
			}
			msg = append(msg, u)
		}
		h.roster("a", 0, sub, msg...)
		for _, u := range msg {
			o.apply(toMap(t, u), true)
		}
		h.c.mu.Lock()
		r := h.c.meetings[meetingKey{correlator: "M"}].roster
		got, want := r.agg, recount(r)
		h.c.mu.Unlock()
		if got != want {
			t.Fatalf("step %d: incremental %+v, recount %+v", step, got, want)
		}
	}
	want := o.expected("a", "c1")
	h.expect(rosterText(want)+participantTotalsText(o.joined, 0, o.left), append(rosterFamilies, participantTotalNames...)...)
	t.Logf("after 3000 messages: %d participants %+v", len(o.participants), want)
}

// TestScrapeReadsAggregatesOnly proves that a scrape costs O(meetings): it
// empties every roster's participant map behind the model's back (keeping
// the aggregates) and the scrape still shows every count. Were the
// renderer to count participants, it would now see none.
func TestScrapeReadsAggregatesOnly(t *testing.T) {
	h, sub := rosterHarness(t, perCall)
	h.roster("a", 0, sub, pupd("p1", audioMuted(true), presenter(true)), padd("p3", pstate("ringing"), videoMuted(true)))
	want := rosterText(rosterRow{node: "a", call: "c1", states: [numStates]int{0, 1, 2, 0, 0}, audio: 1, video: 1, pres: 1}) +
		clusterRosterText(1, 1, 0, 0, 1)
	names := append(rosterFamilies, clusterRosterNames...)
	h.expect(want, names...)

	h.c.mu.Lock()
	for _, m := range h.c.meetings {
		if m.roster != nil {
			m.roster.participants = map[string]participant{}
			m.roster.rendered = nil
		}
	}
	h.c.mu.Unlock()
	h.expect(want, names...)
}

// The named indexes into the label sets name what they say.
func TestRosterLabelSetsIndexes(t *testing.T) {
	if participantStates[stateOther] != labelOther {
		t.Errorf("stateOther indexes %q", participantStates[stateOther])
	}
	if leaveReasons[leaveOther] != labelOther || leaveReasons[leaveNone] != leaveReasonNone {
		t.Errorf("leaveOther indexes %q, leaveNone %q", leaveReasons[leaveOther], leaveReasons[leaveNone])
	}
}
