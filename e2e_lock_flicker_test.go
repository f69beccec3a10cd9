package main

import (
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/collector"
)

// TestLockFlickerWhenSettledInstanceEnds is the chaos soak's lock flicker,
// end to end: a meeting locked live on cms1 is distributed to cms2 (whose
// new instance CMS announces locked, and being really locked, never
// corrects), then its cms1 instance ends. The meeting stays locked
// throughout: the exporter must neither show it unlocked while cms2's
// instance settles nor count an unlock and a second lock.
func TestLockFlickerWhenSettledInstanceEnds(t *testing.T) {
	h := newHarness(t, cmswstest.Options{NodeNames: []string{"cms1", "cms2"}, Seed: 5}, nil)
	h.eventuallyTruth("cms1", "cms2")
	start := must[string](t)
	m := start(h.cluster.StartMeeting("cms1", cmswstest.MeetingOptions{Name: "locked one"}))
	p1 := start(h.cluster.AddParticipant(m, "cms1", cmswstest.ParticipantOptions{Name: "a"}))
	ok(t, h.cluster.SetLocked(m, true))
	h.eventuallyTruth("cms1", "cms2")
	ok(t, h.cluster.DistributeMeeting(m, "cms2"))
	start(h.cluster.AddParticipant(m, "cms2", cmswstest.ParticipantOptions{Name: "b"}))
	// cms2's new instance and the end of cms1's arrive on different
	// connections, in no set order. Without this wait the exporter may see
	// cms1's instance end first and (rightly, for what it saw) count an end
	// and a new start; the test is about locks, so the order is fixed here.
	h.eventuallyTruth("cms1", "cms2")
	ok(t, h.cluster.RemoveParticipant(p1, "remoteTeardown"))
	if tx := h.cluster.Transitions(); tx.MeetingsLocked != 1 || tx.MeetingsUnlocked != 0 {
		t.Fatalf("truth transitions %+v: want one lock, no unlock", tx)
	}
	// Within LockSettle of cms2's add: the meeting must already be locked.
	h.eventuallyTruth("cms1", "cms2")
	// Past it: settling cms2's instance must count nothing.
	time.Sleep(collector.DefaultLockSettle + time.Second)
	got := h.eventuallyTruth("cms1", "cms2")
	if got[key("cms_meetings_locked_total")] != 1 || got[key("cms_meetings_unlocked_total")] != 0 || got[key("cms_cluster_meetings_locked")] != 1 {
		t.Fatalf("after settling: locked_total %v unlocked_total %v locked %v; want 1 0 1",
			got[key("cms_meetings_locked_total")], got[key("cms_meetings_unlocked_total")], got[key("cms_cluster_meetings_locked")])
	}
}
