package collector

import (
	"fmt"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// clusterText renders the cluster gauges: coSpace meetings, participants,
// meetings recording, streaming and locked.
func clusterText(meetings, participants, recording, streaming, locked int) string {
	return fmt.Sprintf(`# TYPE cms_cluster_meetings gauge
cms_cluster_meetings{call_type="coSpace"} %d
cms_cluster_meetings{call_type="adHoc"} 0
cms_cluster_meetings{call_type="lyncConferencing"} 0
cms_cluster_meetings{call_type="forwarding"} 0
# TYPE cms_cluster_participants gauge
cms_cluster_participants %d
# TYPE cms_cluster_meetings_recording gauge
cms_cluster_meetings_recording %d
# TYPE cms_cluster_meetings_streaming gauge
cms_cluster_meetings_streaming %d
# TYPE cms_cluster_meetings_locked gauge
cms_cluster_meetings_locked %d
`, meetings, participants, recording, streaming, locked)
}

var clusterNames = []string{"cms_cluster_meetings", "cms_cluster_participants", "cms_cluster_meetings_recording",
	"cms_cluster_meetings_streaming", "cms_cluster_meetings_locked"}

var clusterAndCounters = append(append([]string{}, clusterNames...), counterNames...)

func lockedText(node, call string, v int) string {
	return fmt.Sprintf("# TYPE cms_call_locked gauge\ncms_call_locked{node=%q,call=%q} %d\n", node, call, v)
}

func TestLockArtifactOfNewCallsIsNotALock(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")

	// CMS announces a new call locked and corrects it milliseconds later.
	h.calls("a", add("c1", "m1", lock("locked"), participants(0)))
	h.expect(lockedText("a", "c1", 1)+clusterText(1, 0, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0),
		append([]string{"cms_call_locked"}, clusterAndCounters...)...)
	h.advance(150 * time.Millisecond)
	h.calls("a", upd("c1", lock("notLocked"), func(u *cmsws.CallUpdate) { u.DistributedInstances = cmsws.Set(3) }))
	h.advance(10 * time.Second)
	h.expect(lockedText("a", "c1", 0)+clusterText(1, 0, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0),
		append([]string{"cms_call_locked"}, clusterAndCounters...)...)
}

func TestLockThatOutlastsSettleIsCounted(t *testing.T) {
	h := newHarness(t, Options{PerCallMetrics: true, LockSettle: 2 * time.Second})
	h.c.AddNode("a")
	h.synced("a")

	h.calls("a", add("c1", "m1", lock("locked")))
	h.advance(1999 * time.Millisecond)
	// Other updates do not settle the lock; only a lockState update does.
	h.calls("a", upd("c1", participants(2)))
	h.expect(clusterText(1, 2, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
	h.advance(time.Millisecond)
	h.expect(clusterText(1, 2, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)

	h.calls("a", upd("c1", lock("notLocked")))
	h.expect(clusterText(1, 2, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
	h.calls("a", upd("c1", lock("locked")))
	h.expect(clusterText(1, 2, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 2, 1), clusterAndCounters...)
	// A locked meeting that ends counts an unlock.
	h.calls("a", rm("c1"))
	h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 0, 0, 0, 0, 2, 2), clusterAndCounters...)
}

func TestLockInSnapshot(t *testing.T) {
	t.Run("artifact of a call created just before the connection", func(t *testing.T) {
		// Seen in the capture: the snapshot holds a call only
		// milliseconds old, still announced locked.
		h := newHarness(t, perCall)
		h.c.AddNode("a")
		h.connect("a")
		h.calls("a", add("c1", "m1", lock("locked"), participants(0)))
		h.advance(160 * time.Millisecond)
		h.calls("a", upd("c1", lock("notLocked")))
		h.advance(10 * time.Second)
		h.expect(clusterText(1, 0, 0, 0, 0)+counters(0, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
	})
	t.Run("a locked meeting found by a snapshot shows, silently", func(t *testing.T) {
		h := newHarness(t, Options{PerCallMetrics: true, LockSettle: 2 * time.Second})
		h.c.AddNode("a")
		h.synced("a", add("c1", "m1", lock("locked")))
		// Not yet believed: it might be the creation artifact.
		h.expect(clusterText(1, 1, 0, 0, 0), clusterNames...)
		h.advance(2 * time.Second) // LockSettle since the add
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(0, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
		// A reconnect snapshot repeating the lock keeps it, silently.
		h.disconnect("a", cmsws.DisconnectReadError)
		h.synced("a", add("c1", "m1", lock("locked")))
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(0, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
		// Unlocking it live counts.
		h.calls("a", upd("c1", lock("notLocked")))
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(0, 0, 0, 0, 0, 0, 0, 1), clusterAndCounters...)
	})
}

func TestDistributedMeetingCountedOnce(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
		h.synced(n)
	}
	h.calls("a", add("a1", "M", participants(2)))
	h.calls("b", add("b1", "M", participants(2)))
	// Participants are the cluster-wide count on each instance: never summed.
	h.expect(clusterText(1, 2, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0)+nodeCallsText("a", 1, "b", 1),
		append([]string{"cms_node_calls"}, clusterAndCounters...)...)

	// Recording reported by both instances is one recording start.
	h.calls("a", upd("a1", recording("active"), participants(3)))
	h.calls("b", upd("b1", recording("active"), participants(3)))
	h.expect(clusterText(1, 3, 1, 0, 0)+counters(1, 0, 1, 0, 0, 0, 0, 0), clusterAndCounters...)

	// allLeft on one node ends that instance, not the meeting.
	h.calls("b", rm("b1"))
	h.expect(clusterText(1, 3, 1, 0, 0)+counters(1, 0, 1, 0, 0, 0, 0, 0)+nodeCallsText("a", 1, "b", 0),
		append([]string{"cms_node_calls"}, clusterAndCounters...)...)

	// A new instance of the running meeting is not a start.
	h.calls("b", add("b2", "M", participants(3), recording("active")))
	h.expect(clusterText(1, 3, 1, 0, 0)+counters(1, 0, 1, 0, 0, 0, 0, 0), clusterAndCounters...)

	h.calls("a", rm("a1"))
	h.calls("b", rm("b2"))
	// The last instance leaving ends the meeting, while recording.
	h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 1, 1, 0, 0, 0, 0), clusterAndCounters...)
}

func TestMeetingEndingWhileRecordingAndStreaming(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	h.calls("a", add("c1", "m1", recording("active"), streaming("active"), participants(4)))
	h.expect(clusterText(1, 4, 1, 1, 0)+counters(1, 0, 1, 0, 1, 0, 0, 0), clusterAndCounters...)
	h.calls("a", rm("c1"))
	h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 1, 1, 1, 1, 0, 0), clusterAndCounters...)
}

func TestSnapshotAddsAreNotStarts(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.synced("a", add("a1", "M", recording("active"), streaming("active"), participants(5)))
	h.synced("b", add("b1", "N"))
	h.expect(clusterText(2, 6, 1, 1, 0)+counters(0, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)

	// A live instance of a meeting known from a snapshot: no start either.
	h.calls("b", add("b2", "M", recording("active"), streaming("active"), participants(5)))
	h.expect(clusterText(2, 6, 1, 1, 0)+counters(0, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)

	// Streaming stops live on both instances: one stop.
	h.calls("a", upd("a1", streaming("inactive")))
	h.calls("b", upd("b2", streaming("inactive")))
	h.expect(clusterText(2, 6, 1, 0, 0)+counters(0, 0, 0, 0, 0, 1, 0, 0), clusterAndCounters...)
}
