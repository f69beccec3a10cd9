package cmswstest

import (
	"maps"
	"slices"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// This file turns model changes into messages on the connections that
// subscribed to them. Everything here runs under Cluster.mu.

// reasonAllLeft is the only call removal reason seen in the captures.
const reasonAllLeft = "allLeft"

// changeMeeting runs fn, which may change m's call-level state, add or drop
// instances, and publishes the differences on every node: updates for
// instances that stay, the add sequence for new ones, the end sequence for
// dropped ones. A meeting left without instances is forgotten.
func (c *Cluster) changeMeeting(m *meeting, fn func()) {
	before := m.view()
	prev := maps.Clone(m.instances)
	fn()
	c.legsChanged(m, prev)
	after := m.view()
	var t told
	for _, inst := range sortedValues(prev) {
		if m.instances[inst.node.name] != inst {
			c.publishEnd(inst, &t)
		}
	}
	var added []*instance
	for _, inst := range sortedValues(m.instances) {
		if prev[inst.node.name] == inst {
			c.publishCallChange(inst, &before, after, &t)
		} else {
			added = append(added, inst)
		}
	}
	for _, inst := range added {
		c.publishNewCall(inst, after, &t)
	}
	c.ledger.meetingChanged(m, t)
	if len(m.instances) == 0 {
		delete(c.meetings, m.correlator)
	}
}

// publishCallChange sends the changed elements to calls and callInfo
// subscribers of inst's node.
func (c *Cluster) publishCallChange(inst *instance, before *callView, after callView, t *told) {
	for _, cn := range inst.node.conns {
		for _, s := range cn.subList {
			if !s.active {
				continue
			}
			switch {
			case s.typ == cmsws.ResourceCalls:
				if u, ok := callUpdate(s.el, inst.id, before, after); ok {
					c.sendCallList(cn, s.index, []cmsws.CallUpdate{u})
					t.note(cn, s)
				}
			case s.typ == cmsws.ResourceCallInfo && s.call == inst.id:
				if ci, ok := callInfo(s.el, before, after); ok {
					c.sendCallInfo(cn, s.index, ci)
				}
			}
		}
	}
}

// publishNewCall announces a new instance the way CMS does: an add that
// says lockState "locked" (and name "" when the meeting asks for it), then
// in a separate message an update to the real values. Clients must not take
// the first lockState for a lock.
func (c *Cluster) publishNewCall(inst *instance, cur callView, t *told) {
	first := cur
	first.locked = true
	if inst.meeting.emptyNameFirst {
		first.name = ""
	}
	for _, cn := range inst.node.conns {
		for _, s := range cn.subList {
			if s.active && s.typ == cmsws.ResourceCalls {
				u, _ := callUpdate(s.el, inst.id, nil, first)
				c.sendCallList(cn, s.index, []cmsws.CallUpdate{u})
				// Only the add tells that the call exists; the correction
				// below repeats its values.
				t.note(cn, s)
			}
		}
	}
	for _, cn := range inst.node.conns {
		for _, s := range cn.subList {
			if s.active && s.typ == cmsws.ResourceCalls {
				if u, ok := callUpdate(s.el, inst.id, &first, cur); ok {
					c.sendCallList(cn, s.index, []cmsws.CallUpdate{u})
				}
			}
		}
	}
}

// publishEnd ends inst on its node: first a subscriptionUpdate deactivating
// the connection's callRoster/callInfo subscriptions of that call, then the
// callListUpdate remove with reason allLeft.
func (c *Cluster) publishEnd(inst *instance, t *told) {
	for _, cn := range inst.node.conns {
		var deact []cmsws.SubscriptionStatus
		for _, s := range cn.subList {
			if s.active && s.typ != cmsws.ResourceCalls && s.call == inst.id {
				s.active = false
				deact = append(deact, cmsws.SubscriptionStatus{Index: s.index, State: cmsws.StateDeactivated})
			}
		}
		if len(deact) > 0 {
			c.sendSubscriptionUpdate(cn, deact)
		}
		for _, s := range cn.subList {
			if s.active && s.typ == cmsws.ResourceCalls {
				c.sendCallList(cn, s.index, []cmsws.CallUpdate{{
					Call: inst.id, UpdateType: cmsws.UpdateRemove, Reason: cmsws.Set(reasonAllLeft),
				}})
				t.note(cn, s)
			}
		}
	}
}

// rosterChange is one roster entry change to publish.
type rosterChange struct {
	p          *participant
	updateType string           // add, update or remove
	old        *participantView // for update: the view before
	reason     string           // for remove: "" = no reason
}

// publishRoster sends changes of m's roster to every callRoster
// subscription of every instance of m, one message per subscription. A
// remove carries its reason only on the node hosting the participant, as
// the Events Guide says.
func (c *Cluster) publishRoster(m *meeting, changes []rosterChange) {
	var t told
	defer func() {
		for _, ch := range changes {
			c.ledger.rosterChanged(m, ch, t)
		}
	}()
	for _, inst := range sortedValues(m.instances) {
		for _, cn := range inst.node.conns {
			for _, s := range cn.subList {
				if !s.active || s.typ != cmsws.ResourceCallRoster || s.call != inst.id {
					continue
				}
				var ups []cmsws.RosterUpdate
				for _, ch := range changes {
					switch ch.updateType {
					case cmsws.UpdateRemove:
						u := cmsws.RosterUpdate{Participant: ch.p.id, UpdateType: cmsws.UpdateRemove}
						if ch.reason != "" && ch.p.node == inst.node {
							u.Reason = cmsws.Set(ch.reason)
						}
						ups = append(ups, u)
					case cmsws.UpdateAdd:
						u, _ := rosterUpdate(s.el, ch.p.id, nil, ch.p.view)
						ups = append(ups, u)
					default:
						if u, ok := rosterUpdate(s.el, ch.p.id, ch.old, ch.p.view); ok {
							ups = append(ups, u)
						}
					}
				}
				if len(ups) > 0 {
					c.sendRoster(cn, s.index, ups)
					t.note(cn, s)
				}
			}
		}
	}
}

func (c *Cluster) sendCallList(cn *conn, index int, ups []cmsws.CallUpdate) {
	if slices.ContainsFunc(ups, func(u cmsws.CallUpdate) bool { return u.UpdateType != cmsws.UpdateAdd }) {
		endWindow(cn, index)
	}
	c.enqueue(cn, &cmsws.Message{Type: cmsws.TypeCallListUpdate, SubscriptionIndex: &index, CallUpdates: ups})
}

func (c *Cluster) sendRoster(cn *conn, index int, ups []cmsws.RosterUpdate) {
	if slices.ContainsFunc(ups, func(u cmsws.RosterUpdate) bool { return u.UpdateType != cmsws.UpdateAdd }) {
		endWindow(cn, index)
	}
	c.enqueue(cn, &cmsws.Message{Type: cmsws.TypeRosterUpdate, SubscriptionIndex: &index, RosterUpdates: ups})
}

// endWindow ends the snapshot window of subscription index on cn: a
// message that is not all adds cannot belong to a snapshot, so from it on
// the client can tell what it is sent from the snapshot, as after the
// subscription is listed again (see Transitions).
func endWindow(cn *conn, index int) {
	if s := cn.subs[index]; s != nil {
		s.window = false
	}
}

func (c *Cluster) sendCallInfo(cn *conn, index int, ci cmsws.CallInfo) {
	c.enqueue(cn, &cmsws.Message{Type: cmsws.TypeCallInfoUpdate, SubscriptionIndex: &index, CallInfo: &ci})
}

func (c *Cluster) sendSubscriptionUpdate(cn *conn, st []cmsws.SubscriptionStatus) {
	if st == nil {
		st = []cmsws.SubscriptionStatus{}
	}
	for _, x := range st {
		// Listed after its snapshot: the client can now tell what follows
		// from the snapshot (see Transitions).
		if s := cn.subs[x.Index]; s != nil {
			s.window = false
		}
	}
	c.enqueue(cn, &cmsws.Message{Type: cmsws.TypeSubscriptionUpdate, Statuses: st})
}
