package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// maxParticipantIDLen bounds participant ids used as map keys. CMS sends
// GUIDs (36 bytes); anything much longer is garbage, not a participant.
const maxParticipantIDLen = 128

// applyRosterSubscriptionState follows a callRoster subscription's server
// state: becoming active starts its snapshot, being listed again ends it
// (see applySubscriptionState); deactivation ends the phase without a sweep
// and marks the call refused, so that the planner avoids its node for the
// meeting while that call is the instance there (see call.rosterRefused). The roster
// itself stays (no leaves counted): a deactivation says the node stopped
// reporting, not that anybody left.
func (c *Collector) applyRosterSubscriptionState(n *node, conn *connection, s *subscription, wasLive, relisted bool) {
	switch {
	case relisted:
		if s.feed.snapshot {
			c.endRosterSnapshot(n, conn, s, snapshotEndSync)
		}
	case s.live && !wasLive:
		c.startRosterSnapshot(n, conn, s)
		if cl := n.calls[s.call]; cl != nil {
			// The node serves the call's roster again.
			cl.rosterRefused = false
		}
	case !s.live && s.state == cmsws.StateDeactivated:
		s.feed.snapshot = false
		cl := n.calls[s.call]
		if cl == nil {
			// CMS deactivates the roster subscriptions of a call that
			// ended, after the last leaves: nothing more can come.
			c.dropEnded(n, s.call)
			return
		}
		cl.rosterRefused = true
		level.Debug(c.logger).Log("msg", "roster subscription deactivated", "node", n.name, "connection", conn.number,
			"call", labelValue(s.call), "meeting", labelValue(cl.meeting.planKey), "was_live", wasLive)
	}
}

// startRosterSnapshot opens a subscription's snapshot phase. If its call is
// known, the snapshot is bound to the meeting's roster at once, so that
// even an empty snapshot replaces it.
func (c *Collector) startRosterSnapshot(n *node, conn *connection, s *subscription) {
	f := s.feed
	f.snapshot = true
	f.last = c.now()
	f.r = nil
	f.gen = 0
	if cl := n.calls[s.call]; cl != nil {
		c.bindSnapshot(f, cl.meeting.ensureRoster())
	}
	level.Debug(c.logger).Log("msg", "roster snapshot started", "node", n.name, "connection", conn.number, "call", labelValue(s.call))
}

// bindSnapshot makes f's snapshot the newest generation of r: what r holds
// that this snapshot does not confirm (and no live add touches meanwhile)
// goes when the snapshot ends.
func (c *Collector) bindSnapshot(f *rosterFeed, r *roster) {
	r.gen++
	f.gen = r.gen
	f.r = r
}

// endRosterSnapshot closes a subscription's snapshot phase and replaces the
// roster by what the snapshot said: participants it did not confirm are
// dropped silently (they left while nobody was listening, or another
// subscription's view was stale). Nothing is counted.
func (c *Collector) endRosterSnapshot(n *node, conn *connection, s *subscription, why string) {
	f := s.feed
	f.snapshot = false
	if f.r == nil {
		cl := n.calls[s.call]
		if cl == nil {
			return
		}
		c.bindSnapshot(f, cl.meeting.ensureRoster())
	}
	r := f.r
	if r.gen != f.gen {
		// A newer snapshot (of another subscription) owns the roster now.
		return
	}
	dropped := 0
	for id, p := range r.participants {
		if p.gen != f.gen {
			r.drop(id)
			r.forgotten.add(id, maxForgottenParticipants)
			dropped++
		}
	}
	level.Debug(c.logger).Log("msg", "roster synced", "node", n.name, "connection", conn.number, "call", labelValue(s.call),
		"participants", len(r.participants), "stale_dropped", dropped, "snapshot_end", why)
}

// applyRosterMessage applies one rosterUpdate. Like a calls snapshot, a
// subscription's snapshot is its first messages made only of adds; the
// first message with anything else ends the phase before it is applied.
func (c *Collector) applyRosterMessage(n *node, conn *connection, ev cmsws.Event) {
	sub := ev.Subscription
	if sub == nil {
		return // the client reported the unknown index already
	}
	if sub.Type != cmsws.ResourceCallRoster {
		c.reportWrongResource(n, conn, ev)
		return
	}
	updates := ev.Message.RosterUpdates
	if len(updates) == 0 {
		return
	}
	s, ok := conn.subs[sub.Index]
	if !ok || s.resource != sub.Type || s.call != sub.Call {
		// The client reports a subscription's state before its updates;
		// without one, it was dropped from the plan and pruned here.
		level.Debug(c.logger).Log("msg", "rosterUpdate of a subscription no longer modelled ignored",
			"node", n.name, "connection", conn.number, "index", sub.Index)
		return
	}
	r := c.rosterOf(n, conn, s, len(updates))
	if r == nil {
		return
	}
	f := s.feed
	if f.snapshot {
		for i := range updates {
			if updates[i].UpdateType != cmsws.UpdateAdd {
				c.endRosterSnapshot(n, conn, s, snapshotEndLiveUpdate)
				break
			}
		}
	}
	// gen is the generation the updates confirm their participants for:
	// the snapshot's, or the roster's current one for live updates.
	var gen uint32
	if f.snapshot {
		if f.r != r {
			c.bindSnapshot(f, r)
		}
		f.last = c.now()
		gen = f.gen
	} else {
		f.r = r
		gen = r.gen
	}
	a := participantApplier{c: c, n: n, conn: conn, callID: s.call}
	for i := range updates {
		c.applyRosterUpdate(a, r, &updates[i], f.snapshot, gen)
	}
}

// rosterOf returns the roster that s's updates apply to: its call's
// meeting's, or, for a call that CMS said ended, the roster it had (see
// keepEnded): the last leaves come on the roster subscription, which on
// another connection than the call's remove may come after it. nil: the
// call is unknown, and that is logged.
func (c *Collector) rosterOf(n *node, conn *connection, s *subscription, updates int) *roster {
	if cl := n.calls[s.call]; cl != nil {
		return cl.meeting.ensureRoster()
	}
	if e, ok := n.ended[s.call]; ok && conn.number != 0 {
		level.Debug(c.logger).Log("msg", "rosterUpdate for a call that ended applied to its last roster",
			"node", n.name, "call", labelValue(s.call), "updates", updates, "connection", conn.number)
		return e.r
	}
	n.stats.errors[reasonUnknownCall]++
	c.warn(n, reasonUnknownCall, "msg", "rosterUpdate for a call the model does not hold ignored",
		"call", labelValue(s.call), "updates", updates, "connection", conn.number)
	return nil
}

// applyRosterUpdate applies one participant update to r. gen is the
// generation that the update confirms the participant for.
func (c *Collector) applyRosterUpdate(a participantApplier, r *roster, u *cmsws.RosterUpdate, snapshot bool, gen uint32) {
	id := u.Participant
	a.participant = id
	if id == "" || len(id) > maxParticipantIDLen {
		a.reportInvalid("participant", id)
		return
	}
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		if r.leavers.has(id) {
			// A lagging subscription (or a snapshot taken before the leave)
			// reports someone who already left: an echo, not a rejoin.
			c.logLeaverEcho(a, u)
			return
		}
		st := participantState{state: stateOther}
		c.applyParticipantFields(a, u, &st)
		// Known: in the roster, or dropped by a snapshot that did not
		// confirm it. Participant ids are never reused, so an add of
		// either is a repeated or late report, not a join.
		_, known := r.participants[id]
		known = known || r.forgotten.has(id)
		r.put(id, participant{st: st, gen: gen})
		if known || snapshot {
			return
		}
		c.participantTotals.joined++
		if st.movedFrom.ok {
			c.participantTotals.moved++
		}
	case cmsws.UpdateUpdate:
		p, ok := r.participants[id]
		if !ok {
			c.reportUnknownParticipant(a, r, u)
			return
		}
		c.applyParticipantFields(a, u, &p.st)
		p.gen = gen
		r.put(id, p)
	case cmsws.UpdateRemove:
		if _, ok := r.participants[id]; !ok {
			c.reportUnknownParticipant(a, r, u)
			return
		}
		r.drop(id)
		r.leavers.add(id, maxRecentLeavers)
		c.participantTotals.left[leaveReasonIndex(u.Reason)]++
		if u.Reason.State == cmsws.Invalid {
			a.reportInvalid("reason", u.Reason.Raw)
		}
	default:
		a.reportInvalid("updateType", u.UpdateType)
	}
}

// reportUnknownParticipant counts and logs an update or remove for an id
// the roster lacks, unless the id is a recent leaver's: then it is the echo
// of a second subscription, not an error.
func (c *Collector) reportUnknownParticipant(a participantApplier, r *roster, u *cmsws.RosterUpdate) {
	if r.leavers.has(u.Participant) {
		c.logLeaverEcho(a, u)
		return
	}
	a.n.stats.errors[reasonUnknownParticipant]++
	c.warn(a.n, reasonUnknownParticipant, "msg", "rosterUpdate for a participant the roster does not hold ignored",
		"call", labelValue(a.callID), "participant", cleanLabel(u.Participant),
		"update_type", cleanLabel(u.UpdateType), "connection", a.conn.number)
}

// logLeaverEcho logs, at debug, the ignored report of a participant who
// already left: a second subscription's echo of the leave, not an error.
func (c *Collector) logLeaverEcho(a participantApplier, u *cmsws.RosterUpdate) {
	level.Debug(c.logger).Log("msg", "roster report of a participant who already left ignored",
		"node", a.n.name, "call", labelValue(a.callID), "participant", cleanLabel(u.Participant),
		"update_type", cleanLabel(u.UpdateType), "connection", a.conn.number)
}
