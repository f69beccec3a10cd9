package collector

import (
	"time"

	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// applyCallList applies one callListUpdate of a node's calls subscription.
//
// While the node is in its snapshot phase, a message made only of adds is
// part of the snapshot. The first message with anything else ends the phase
// before it is applied: CMS sends no end-of-snapshot marker, and an update
// or remove can only be live.
func (c *Collector) applyCallList(n *node, index int, updates []cmsws.CallUpdate) {
	snapshot := n.phase.active && n.phase.index == index
	if snapshot {
		for i := range updates {
			if updates[i].UpdateType != cmsws.UpdateAdd {
				c.endSnapshot(n, snapshotEndLiveUpdate)
				snapshot = false
				break
			}
		}
	}
	if snapshot {
		n.phase.last = c.now()
		n.phase.messages++
	}
	for i := range updates {
		c.applyCallUpdate(n, &updates[i], snapshot)
	}
}

// applyCallUpdate applies one update of a callListUpdate; snapshot says
// that it is part of the calls snapshot, whose adds count nothing.
func (c *Collector) applyCallUpdate(n *node, u *cmsws.CallUpdate, snapshot bool) {
	if u.Call == "" {
		c.reportInvalidCallValue(n, "", "call", `""`)
		return
	}
	// The raw id is the key: ids that would clean to the same label value
	// are still different calls (see labelValue).
	id := u.Call
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		c.addCall(n, id, u, snapshot)
	case cmsws.UpdateUpdate:
		cl, ok := n.calls[id]
		if !ok {
			c.reportUnknownCall(n, u)
			return
		}
		next := cl.st
		lockTouched := c.applyCallFields(n, u, &next)
		c.applyLive(cl.meeting.key, keyFor(n.name, cl.id, &next), func() {
			c.setState(cl, next)
			if lockTouched {
				c.markSettled(cl)
			}
		})
	case cmsws.UpdateRemove:
		cl, ok := n.calls[id]
		if !ok {
			c.reportUnknownCall(n, u)
			return
		}
		c.keepEnded(cl)
		c.applyLive(cl.meeting.key, cl.meeting.key, func() { c.dropCall(cl) })
	default:
		c.reportInvalidCallValue(n, id, "updateType", u.UpdateType)
	}
}

// addCall defines a call from an add: a replace, since an add carries every
// subscribed element. A snapshot add changes meeting state silently (the
// meeting did not just start, we just learnt of it); so does an add of a
// call the model holds or dropped without being told it ended: CMS ids are
// never reused, so that is a late or repeated report, not a start, however
// late it comes. Only the add of a call never seen counts.
func (c *Collector) addCall(n *node, id string, u *cmsws.CallUpdate, snapshot bool) {
	// An add's lockState is the announcement, not an update: it does not
	// settle the call (see settleLock).
	var next callState
	c.applyCallFields(n, u, &next)
	cl, existed := n.calls[id]
	restored := !existed && n.forgotten.has(id)
	known := existed || restored
	if !existed {
		cl = &call{node: n, id: id, label: labelValue(id), addedAt: c.now(), liveAdded: !snapshot && !known}
		delete(n.forgotten, id)
	}
	// A re-added call keeps its settle status: a snapshot after a reconnect
	// repeats a lock that was already believed (or not yet).
	apply := func() {
		if !existed {
			n.calls[cl.id] = cl
			c.unsettled[cl] = struct{}{}
		}
		c.setState(cl, next)
		if restored {
			c.unstashRoster(cl.meeting)
		}
	}
	if snapshot {
		apply()
		cl.snapGen = n.phase.gen
		return
	}
	if known {
		if !existed {
			level.Debug(c.logger).Log("msg", "late add of a call dropped without an end restored, not counted", "node", n.name, "call", labelValue(id))
		}
		apply()
		return
	}
	newKey := keyFor(n.name, cl.id, &next)
	c.applyLive(newKey, newKey, apply)
}

// applyLive applies a change caused by a live event and counts the
// meeting-level transitions it causes. When the change moves the call to
// another meeting (its correlator changed), the two meetings are compared
// as one: the call went on, so re-keying it is neither an end of the old
// meeting nor a start of the new one; only changes of the values themselves
// count.
func (c *Collector) applyLive(oldKey, newKey meetingKey, apply func()) {
	state := func() meetingState {
		s := c.meetings[oldKey].state()
		if newKey != oldKey {
			s = s.merge(c.meetings[newKey].state())
		}
		return s
	}
	before := state()
	apply()
	c.totals.count(before, state())
}

// setState installs a call's new state and moves it to the meeting its
// correlator now names.
func (c *Collector) setState(cl *call, st callState) {
	if cl.st != st {
		cl.st = st
		cl.rendered = nil
	}
	key := keyFor(cl.node.name, cl.id, &cl.st)
	if cl.meeting != nil && cl.meeting.key == key {
		return
	}
	old := cl.meeting
	c.detach(cl)
	m, ok := c.meetings[key]
	if !ok {
		m = &meeting{key: key, planKey: key.planKey()}
		c.meetings[key] = m
		// A call re-keyed out of a meeting it was the last instance of
		// starts its new meeting with the lock held there: the meeting
		// went on under another key.
		if old != nil && len(old.instances) == 0 {
			m.heldLock = old.heldLock
		}
	}
	m.instances = append(m.instances, cl)
	cl.meeting = m
	// A call re-keyed out of a meeting it was the last instance of (its
	// correlator arrived late) takes the roster along: the participants did
	// not go anywhere.
	if old != nil && len(old.instances) == 0 && old.roster != nil && m.roster == nil {
		m.roster, old.roster = old.roster, nil
		m.roster.rendered = nil
	}
}

func (c *Collector) detach(cl *call) {
	m := cl.meeting
	if m == nil {
		return
	}
	// Should cl be the last settled instance, the meeting keeps the lock
	// it is believed to have now (see meeting.heldLock).
	m.heldLock = m.state().locked
	for i, x := range m.instances {
		if x == cl {
			last := len(m.instances) - 1
			m.instances[i] = m.instances[last]
			m.instances[last] = nil
			m.instances = m.instances[:last]
			break
		}
	}
	if len(m.instances) == 0 {
		// The meeting ended (or lost its key): its roster goes with it.
		delete(c.meetings, m.key)
	}
	cl.meeting = nil
}

// dropCall removes a call from the model without counting anything; callers
// that must count wrap it in applyLive.
func (c *Collector) dropCall(cl *call) {
	c.detach(cl)
	delete(cl.node.calls, cl.id)
	delete(c.unsettled, cl)
}

// forgetCall drops a call without counting anything, because the model
// was not told it ended: its id is remembered until until (zero: until the
// node's next snapshot ends), and if its meeting goes with it, the
// meeting's roster is stashed for forgetFor, so that should the call come
// back (a late snapshot), nothing was lost and nothing counts.
func (c *Collector) forgetCall(cl *call, until time.Time) {
	if m := cl.meeting; m != nil && m.roster != nil && len(m.instances) == 1 {
		c.stashed[m.key] = stashedRoster{r: m.roster, until: c.now().Add(forgetFor)}
	}
	c.dropCall(cl)
	cl.node.forgotten.add(cl.id, until)
}

// keepEnded remembers the roster of a call CMS says ended, if a roster
// subscription of the call is live on another connection than the primary
// one: the call's remove comes on the calls subscription (connection 0),
// the last participants' leaves on the roster subscription, and across
// connections nothing orders the two. Leaves that come after the remove
// still count, once, with their reason (see rosterOf). On connection 0
// itself CMS sends the leaves before the remove, so nothing is kept for
// it. The entry goes when no such subscription is live any more (see
// dropEnded), at the latest after forgetFor.
//
// Nothing is counted for the participants still in the roster: if their
// removes never come (the roster connection dropped), no client was told
// they left, and a leave without its reason would be a guess.
func (c *Collector) keepEnded(cl *call) {
	n := cl.node
	if cl.meeting.roster == nil || !n.rosterLiveBeyondPrimary(cl.id) {
		return
	}
	if n.ended == nil {
		n.ended = make(map[string]endedCall, 1)
	}
	n.ended[cl.id] = endedCall{r: cl.meeting.roster, until: c.now().Add(forgetFor)}
}

// dropEnded forgets the ended calls of n (only call, if not empty) that no
// live roster subscription can report on any more: their deactivation or
// their connection's end was the last word.
func (c *Collector) dropEnded(n *node, call string) {
	for id := range n.ended {
		if (call == "" || id == call) && !n.rosterLiveBeyondPrimary(id) {
			delete(n.ended, id)
		}
	}
}

// unstashRoster gives a meeting that came back with a restored call the
// roster it had.
func (c *Collector) unstashRoster(m *meeting) {
	st, ok := c.stashed[m.key]
	if !ok {
		return
	}
	delete(c.stashed, m.key)
	if m.roster == nil {
		m.roster = st.r
		m.roster.rendered = nil
	}
}

// markSettled: the call's lockState is now believable.
func (c *Collector) markSettled(cl *call) {
	cl.settled = true
	delete(c.unsettled, cl)
}

// settleLock is the LockSettle timer firing for a call that got no lockState
// update since its add. CMS announces every new call "locked" and corrects
// it milliseconds later, so until now its lock did not count. A call that is
// still locked really is: for a live-added call that is a lock the meeting
// gained live, so it counts; for a snapshot-added one it is not news.
func (c *Collector) settleLock(cl *call) {
	if !cl.liveAdded {
		c.markSettled(cl)
		return
	}
	k := cl.meeting.key
	c.applyLive(k, k, func() { c.markSettled(cl) })
}

// reportUnknownCall counts and logs an update or remove of a call the model
// does not hold.
func (c *Collector) reportUnknownCall(n *node, u *cmsws.CallUpdate) {
	n.stats.errors[reasonUnknownCall]++
	c.warn(n, reasonUnknownCall, "msg", "callListUpdate for a call the model does not hold ignored",
		"call", labelValue(u.Call), "update_type", cleanLabel(u.UpdateType))
}

// reportInvalidCallValue counts and logs an element of a call update that
// is left unchanged because its value is invalid.
func (c *Collector) reportInvalidCallValue(n *node, callID, element, raw string) {
	n.stats.errors[reasonInvalidValue]++
	c.warn(n, reasonInvalidValue, "msg", "invalid value in callListUpdate left unchanged",
		"call", labelValue(callID), "element", element, "value", logValue(raw))
}
