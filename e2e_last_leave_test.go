package main

import (
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// The last participant of a node's call leaves: the fake removes the call
// on the calls subscription (connection 0) and the participant on the
// roster subscription, on another connection, and nothing orders the two.
// Whichever comes first, every leave counts once, with its own reason. With
// one connection the order is fixed; with three, the call's remove
// overtakes the roster's within a few rounds.
func TestE2ELastLeaveCountedWhateverTheOrder(t *testing.T) {
	for _, conns := range []int{1, 3} {
		t.Run(map[int]string{1: "one connection", 3: "three connections"}[conns], func(t *testing.T) {
			h := newHarnessConnections(t, conns, cmswstest.Options{NodeNames: []string{"cms1"}, Seed: 5}, nil)
			h.eventuallyTruth("cms1")
			start := must[string](t)
			const rounds = 8
			for i := range rounds {
				m := start(h.cluster.StartMeeting("cms1", cmswstest.MeetingOptions{Name: "m"}))
				p := start(h.cluster.AddParticipant(m, "cms1", cmswstest.ParticipantOptions{Name: "a"}))
				h.eventuallyRoster("cms1")
				q := start(h.cluster.AddParticipant(m, "cms1", cmswstest.ParticipantOptions{Name: "b"}))
				h.eventuallyRoster("cms1")
				ok(t, h.cluster.RemoveParticipant(q, "remoteTeardown"))
				ok(t, h.cluster.RemoveParticipant(p, "timeout")) // the last one: the call ends
				got := h.eventuallyTruthWithin(5*time.Second, "cms1")
				for _, why := range []string{"remoteTeardown", "timeout"} {
					if v := got[key("cms_participants_left_total", "reason", why)]; v != float64(i+1) {
						t.Fatalf("round %d: left{reason=%q} = %v, want %d", i, why, v, i+1)
					}
				}
			}
			if tx := h.cluster.Transitions(); tx.ParticipantsLeft != 2*rounds {
				t.Errorf("truth: %d leaves, want %d", tx.ParticipantsLeft, 2*rounds)
			}
		})
	}
}
