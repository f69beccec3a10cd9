package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// maxParticipantIDLen bounds participant ids used as map keys. CMS sends
// GUIDs (36 bytes); anything much longer is garbage, not a participant.
const maxParticipantIDLen = 128

// rosterSubscriptionState follows a callRoster subscription's server state:
// becoming active starts its snapshot, being listed again ends it (see
// subscriptionState); deactivation ends the phase without a sweep and tells
// the planner to avoid the node for that meeting. The roster itself stays
// (no leaves counted): a deactivation says the node stopped reporting, not
// that anybody left.
func (c *Collector) rosterSubscriptionState(n *node, l *link, s *subscription, wasLive, relisted bool) {
	switch {
	case relisted:
		if s.feed.snapshot {
			c.endRosterSnapshot(n, l, s, snapshotEndSync)
		}
	case s.live && !wasLive:
		c.startRosterSnapshot(n, l, s)
		if cl := n.calls[s.callID]; cl != nil {
			// The node serves the meeting's roster again.
			delete(cl.meeting.avoid, n.name)
		}
	case !s.live && s.state == cmsws.StateDeactivated:
		s.feed.snapshot = false
		cl := n.calls[s.callID]
		if cl == nil {
			return
		}
		m := cl.meeting
		if m.avoid == nil {
			m.avoid = make(map[string]bool, 1)
		}
		m.avoid[n.name] = true
		level.Debug(c.logger).Log("msg", "roster subscription deactivated", "node", n.name, "link", l.id,
			"call", s.callID, "meeting", m.planKey, "was_live", wasLive)
	}
}

// startRosterSnapshot opens a subscription's snapshot phase. If its call is
// known, the snapshot is bound to the meeting's roster at once, so that
// even an empty snapshot replaces it.
func (c *Collector) startRosterSnapshot(n *node, l *link, s *subscription) {
	f := s.feed
	f.snapshot = true
	f.last = c.now()
	f.r = nil
	f.gen = 0
	if cl := n.calls[s.callID]; cl != nil {
		c.bindSnapshot(f, cl.meeting.ensureRoster())
	}
	level.Debug(c.logger).Log("msg", "roster snapshot started", "node", n.name, "link", l.id, "call", s.callID)
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
func (c *Collector) endRosterSnapshot(n *node, l *link, s *subscription, why string) {
	f := s.feed
	f.snapshot = false
	if f.r == nil {
		cl := n.calls[s.callID]
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
	for id, p := range r.parts {
		if p.gen != f.gen {
			r.drop(id)
			r.forgotten.add(id, maxForgottenParts)
			dropped++
		}
	}
	level.Debug(c.logger).Log("msg", "roster synced", "node", n.name, "link", l.id, "call", s.callID,
		"participants", len(r.parts), "stale_dropped", dropped, "snapshot_end", why)
}

// rosterMessage applies one rosterUpdate. Like a calls snapshot, a
// subscription's snapshot is its first messages made only of adds; the
// first message with anything else ends the phase before it is applied.
func (c *Collector) rosterMessage(n *node, l *link, ev cmsws.Event) {
	sub := ev.Subscription
	if sub == nil {
		return // the client reported the unknown index already
	}
	if sub.Type != cmsws.ResourceCallRoster {
		c.wrongResource(n, l, ev)
		return
	}
	updates := ev.Message.RosterUpdates
	if len(updates) == 0 {
		return
	}
	s, ok := l.subs[sub.Index]
	if !ok || s.resource != sub.Type || s.call != sub.Call {
		// The client reports a subscription's state before its updates;
		// without one, it was dropped from the plan and pruned here.
		level.Debug(c.logger).Log("msg", "rosterUpdate of a subscription no longer modelled ignored",
			"node", n.name, "link", l.id, "index", sub.Index)
		return
	}
	cl := n.calls[s.callID]
	if cl == nil {
		n.stats.errors[reasonUnknownCall]++
		level.Warn(c.logger).Log("msg", "rosterUpdate for a call the model does not hold ignored",
			"node", n.name, "call", s.callID, "updates", len(updates), "link", l.id)
		return
	}
	f := s.feed
	if f.snapshot {
		for i := range updates {
			if updates[i].UpdateType != cmsws.UpdateAdd {
				c.endRosterSnapshot(n, l, s, snapshotEndLiveUpdate)
				break
			}
		}
	}
	r := cl.meeting.ensureRoster()
	gen := r.gen
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
	a := partApplier{c: c, n: n, l: l, callID: s.callID}
	for i := range updates {
		c.applyRosterUpdate(a, r, &updates[i], f.snapshot, gen)
	}
}

// applyRosterUpdate applies one participant update to r. gen is the
// generation that the update confirms the participant for.
func (c *Collector) applyRosterUpdate(a partApplier, r *roster, u *cmsws.RosterUpdate, snapshot bool, gen uint32) {
	id := u.Participant
	a.participant = id
	if id == "" || len(id) > maxParticipantIDLen {
		a.invalid("participant", id)
		return
	}
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		if r.leavers.has(id) {
			// A lagging subscription (or a snapshot taken before the leave)
			// reports someone who already left: an echo, not a rejoin.
			c.echo(a, u)
			return
		}
		st := partState{state: stateOther}
		c.applyParticipantFields(a, u, &st)
		// Known: in the roster, or dropped by a snapshot that did not
		// confirm it. Participant ids are never reused, so an add of
		// either is a repeated or late report, not a join.
		_, known := r.parts[id]
		known = known || r.forgotten.has(id)
		r.put(id, participant{st: st, gen: gen})
		if known || snapshot {
			return
		}
		c.partTotals.joined++
		if st.moved {
			c.partTotals.moved++
		}
	case cmsws.UpdateUpdate:
		p, ok := r.parts[id]
		if !ok {
			c.unknownParticipant(a, r, u)
			return
		}
		c.applyParticipantFields(a, u, &p.st)
		p.gen = gen
		r.put(id, p)
	case cmsws.UpdateRemove:
		if _, ok := r.parts[id]; !ok {
			c.unknownParticipant(a, r, u)
			return
		}
		r.drop(id)
		r.leavers.add(id, maxRecentLeavers)
		c.partTotals.left[leaveReasonIndex(u.Reason)]++
		if u.Reason.State == cmsws.Invalid {
			a.invalid("reason", u.Reason.Raw)
		}
	default:
		a.invalid("updateType", u.UpdateType)
	}
}

// unknownParticipant: an update or remove for an id the roster lacks. For
// a recent leaver it is the echo of a second subscription, not an error.
func (c *Collector) unknownParticipant(a partApplier, r *roster, u *cmsws.RosterUpdate) {
	if r.leavers.has(u.Participant) {
		c.echo(a, u)
		return
	}
	a.n.stats.errors[reasonUnknownParticipant]++
	level.Warn(c.logger).Log("msg", "rosterUpdate for a participant the roster does not hold ignored",
		"node", a.n.name, "call", cleanLabel(a.callID), "participant", cleanLabel(u.Participant),
		"update_type", cleanLabel(u.UpdateType), "link", a.l.id)
}

func (c *Collector) echo(a partApplier, u *cmsws.RosterUpdate) {
	level.Debug(c.logger).Log("msg", "roster report of a participant who already left ignored",
		"node", a.n.name, "call", cleanLabel(a.callID), "participant", cleanLabel(u.Participant),
		"update_type", cleanLabel(u.UpdateType), "link", a.l.id)
}
