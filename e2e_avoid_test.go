package main

import (
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// A meeting whose roster subscription CMS deactivated on a node (the
// re-subscribed call had ended there, but the model, waiting for the
// node's delayed calls snapshot, still held it) must be placed on that node
// again once the node hosts a new instance of it: here the only instance
// left. Found by the chaos soak: the meeting stayed pending, then skipped,
// and its roster series missing, forever.
func TestE2ERosterAvoidEndsWithTheRefusedCall(t *testing.T) {
	h := newHarnessBatch(t, 2, 3*time.Second, cmswstest.Options{NodeNames: []string{"cms1", "cms2"}, Seed: 5}, nil)
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	start := must[string](t)
	m := start(h.cluster.StartMeeting("cms1", cmswstest.MeetingOptions{Name: "M"}))
	ok(t, h.cluster.DistributeMeeting(m, "cms2"))
	parts := map[string]string{}
	for _, n := range nodes {
		parts[n] = start(h.cluster.AddParticipant(m, n, cmswstest.ParticipantOptions{Name: "first on " + n}))
	}
	got := h.eventuallyRoster(nodes...)
	x := rosterHome(got, h.cluster.Truth().Meetings[m])
	if x == "" {
		t.Fatal("no roster home")
	}
	y := "cms1"
	if x == "cms1" {
		y = "cms2"
	}
	// x's calls snapshot comes late: its extra connection re-subscribes the
	// old call first, which has ended by then, and CMS deactivates that.
	ok(t, h.cluster.DelaySnapshots(x, cmsws.ResourceCalls, 2*time.Second))
	h.cluster.DropConnections(x)
	ok(t, h.cluster.RemoveParticipant(parts[x], ""))
	start(h.cluster.AddParticipant(m, x, cmswstest.ParticipantOptions{Name: "second on " + x}))
	h.eventuallyTruth(nodes...)
	// The meeting is now hosted on x alone, by a call never refused.
	ok(t, h.cluster.RemoveParticipant(parts[y], ""))
	got = h.eventuallyRosterWithin(30*time.Second, nodes...)
	if home := rosterHome(got, h.cluster.Truth().Meetings[m]); home != x {
		t.Fatalf("roster home %q, want %q", home, x)
	}
}
