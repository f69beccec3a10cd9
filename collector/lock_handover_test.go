package collector

import (
	"testing"
	"time"
)

// A meeting's lock is meeting-wide in CMS, but every new call instance is
// announced "locked" and not believed until it settles (LockSettle). These
// tests cover the hand-over: a meeting whose only settled instance ends
// while another instance is still unsettled keeps the lock state it was
// last believed to have, until an instance settles. The chaos soak found
// the meeting flickering to "unlocked" (an unlock and a lock counted) in
// that window.
func TestLockHandoverToUnsettledInstance(t *testing.T) {
	const settle = 2 * time.Second
	start := func(t *testing.T) *harness {
		t.Helper()
		h := newHarness(t, Options{LockSettle: settle})
		for _, n := range []string{"a", "b"} {
			h.c.AddNode(n)
			h.synced(n)
		}
		return h
	}

	t.Run("a locked meeting stays locked while its new instance settles", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M", lock("locked")))
		h.calls("a", upd("a1", lock("notLocked")))
		h.calls("a", upd("a1", lock("locked"))) // locked live
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)

		// Distributed to b: announced locked, and really locked, so no
		// correction follows. Then a's instance ends.
		h.calls("b", add("b1", "M", lock("locked"), participants(2)))
		h.advance(settle / 4)
		h.calls("a", rm("a1"))
		h.expect(clusterText(1, 2, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
		h.advance(settle) // b1 settles, still locked: nothing new
		h.expect(clusterText(1, 2, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)

		// Unlocking and ending it count as usual.
		h.calls("b", upd("b1", lock("notLocked")))
		h.expect(clusterText(1, 2, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
		h.calls("b", rm("b1"))
		h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
	})

	t.Run("an unlocked meeting stays unlocked across the announcement", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M"))
		h.advance(settle)
		// b's instance is announced locked; a's ends before b's correction.
		h.calls("b", add("b1", "M", lock("locked")))
		h.calls("a", rm("a1"))
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
		h.calls("b", upd("b1", lock("notLocked")))
		h.advance(settle)
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
	})

	t.Run("the new instance's correction unlocks a held lock once", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M", lock("locked")))
		h.advance(settle) // settles locked: a lock gained live
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
		h.calls("b", add("b1", "M", lock("locked")))
		h.calls("a", rm("a1"))
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
		// The meeting was unlocked meanwhile: b's lockState update is
		// believed at once.
		h.calls("b", upd("b1", lock("notLocked")))
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
		h.advance(settle)
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
	})

	t.Run("a held lock ends with the meeting", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M", lock("locked")))
		h.advance(settle)
		h.calls("b", add("b1", "M", lock("locked")))
		h.calls("a", rm("a1"))
		// The last instance ends before it settled: a locked meeting
		// ended, one unlock.
		h.calls("b", rm("b1"))
		h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
		h.advance(settle)
		h.expect(clusterText(0, 0, 0, 0, 0)+counters(1, 1, 0, 0, 0, 0, 1, 1), clusterAndCounters...)
	})

	t.Run("a held lock goes along when the meeting is re-keyed", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M", lock("locked")))
		h.advance(settle)
		h.calls("b", add("b1", "M", lock("locked")))
		h.calls("a", rm("a1"))
		// b1, the meeting's one (unsettled) instance, changes its
		// correlator: the meeting goes on under the new key, still locked.
		h.calls("b", upd("b1", correlator("N")))
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
		h.advance(settle)
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
	})

	t.Run("a new meeting's announced lock still waits for settling", func(t *testing.T) {
		h := start(t)
		h.calls("a", add("a1", "M", lock("locked")))
		h.calls("b", add("b1", "M", lock("locked")))
		h.calls("a", rm("a1"))
		h.expect(clusterText(1, 1, 0, 0, 0)+counters(1, 0, 0, 0, 0, 0, 0, 0), clusterAndCounters...)
		h.advance(settle)
		h.expect(clusterText(1, 1, 0, 0, 1)+counters(1, 0, 0, 0, 0, 0, 1, 0), clusterAndCounters...)
	})
}
