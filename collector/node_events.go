package collector

import (
	"time"

	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// maxLinks bounds the link numbers the model accepts. CMS allows 5 event
// connections per node (one is Cisco Meeting Management's), so the
// configuration never uses more than 4; the margin costs nothing.
const maxLinks = 16

// Handle applies one event of a node's client. Each client calls it from
// its own goroutine, in order; events of different nodes (and of different
// links of one node) may interleave. It only takes the model lock and does
// O(updates) work, so it never stalls a client's read loop (and thereby its
// acks) for long.
//
// Events of a node that is not (or no longer) added are ignored: after a
// config reload removed a node, its client may still deliver a few.
func (c *Collector) Handle(ev cmsws.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[ev.Node]
	if !ok {
		level.Debug(c.logger).Log("msg", "event for a node not in the model ignored", "node", ev.Node, "link", ev.Connection, "kind", ev.Kind)
		return
	}
	if ev.Connection < 0 || ev.Connection >= maxLinks {
		level.Warn(c.logger).Log("msg", "event of an impossible link number ignored", "node", n.name, "link", ev.Connection, "kind", ev.Kind)
		return
	}
	l, ok := n.links[ev.Connection]
	if !ok {
		l = newLink(ev.Connection)
		n.links[ev.Connection] = l
	}
	switch ev.Kind {
	case cmsws.EventConnecting:
		// Nothing to model: the outcome follows as Connected or ConnectFailed.
	case cmsws.EventConnectFailed:
		n.stats.connectFailures[bounded(ev.Reason, knownConnectFailures)]++
	case cmsws.EventConnected:
		n.stats.connects++
		c.resetConnection(n, l)
		l.conn = ev.Session
		l.connected = true
		if l.id != 0 {
			level.Info(c.logger).Log("msg", "extra events connection up", "node", n.name, "link", l.id, "conn", l.conn)
		}
	case cmsws.EventDisconnected:
		n.stats.disconnects[bounded(ev.Reason, knownDisconnects)]++
		if ev.Session == l.conn {
			c.resetConnection(n, l)
			if l.id != 0 && l.connected {
				level.Info(c.logger).Log("msg", "extra events connection down", "node", n.name, "link", l.id, "conn", l.conn)
			}
			l.connected = false
		}
	case cmsws.EventSubscriptionState:
		if c.current(n, l, ev) {
			c.subscriptionState(n, l, ev)
		}
	case cmsws.EventMessage:
		c.message(n, l, ev)
	case cmsws.EventMessageError:
		n.stats.errors[bounded(ev.Reason, knownErrorReasons)]++
	case cmsws.EventRequestFailed:
		n.stats.errors[reasonRequestFailed]++
		// Reason is the server's ack status, not a secret.
		level.Warn(c.logger).Log("msg", "CMS refused a request", "node", n.name, "status", cleanLabel(ev.Reason), "err", ev.Err, "link", l.id)
	case cmsws.EventProbe:
		n.stats.probes++
		n.stats.probeLatency = ev.Latency
	default:
		level.Debug(c.logger).Log("msg", "unknown event kind ignored", "node", n.name, "link", l.id, "kind", ev.Kind)
	}
	c.updateUp(n)
}

// current reports whether ev belongs to the link's live connection. Anything
// else is a leftover of an older connection and must not touch the model.
func (c *Collector) current(n *node, l *link, ev cmsws.Event) bool {
	if l.connected && ev.Session == l.conn {
		return true
	}
	level.Debug(c.logger).Log("msg", "event of a stale connection ignored", "node", n.name, "link", l.id, "kind", ev.Kind, "conn", ev.Session, "current_conn", l.conn)
	return false
}

// resetConnection forgets what belonged to the link's previous connection:
// its subscriptions and, on the primary link, an unfinished calls snapshot.
// Calls and rosters stay until the next snapshot replaces them, so a brief
// blip leaves no gaps in the series (and counts no leaves).
func (c *Collector) resetConnection(n *node, l *link) {
	clear(l.subs)
	clear(l.rosters)
	clear(l.callSubs)
	if l.id == 0 {
		n.phase.active = false
		n.synced = false
	}
}

// updateUp recomputes cms_up and logs the change, never the steady state.
func (c *Collector) updateUp(n *node) {
	up := n.callsLive()
	if up == n.up {
		return
	}
	n.up = up
	if up {
		n.downSince = time.Time{}
		n.expired = false
	} else {
		n.downSince = c.now()
	}
	conn := n.primary().conn
	if up {
		level.Info(c.logger).Log("msg", "node events stream up", "node", n.name, "conn", conn)
	} else {
		level.Info(c.logger).Log("msg", "node events stream down", "node", n.name, "conn", conn, "calls_kept", len(n.calls))
	}
}

func (c *Collector) subscriptionState(n *node, l *link, ev cmsws.Event) {
	sub := ev.Subscription
	if sub == nil {
		level.Debug(c.logger).Log("msg", "subscription state without subscription ignored", "node", n.name, "link", l.id)
		return
	}
	s, ok := l.subs[sub.Index]
	if !ok || s.resource != sub.Type || s.call != sub.Call {
		// A new target under this index is a new subscription.
		if ok && l.id == 0 && n.phase.active && n.phase.index == sub.Index {
			n.phase.active = false
		}
		if ok && s.feed != nil && l.rosters[s.callID] == s {
			delete(l.rosters, s.callID)
		}
		delete(l.callSubs, sub.Index)
		s = c.newSubscription(l, sub)
		l.subs[sub.Index] = s
		if s.resource == cmsws.ResourceCalls {
			l.callSubs[sub.Index] = s
		}
	}
	wasDeactivated := s.state == cmsws.StateDeactivated
	s.state = bounded(ev.State, knownSubStates)
	wasLive := s.live
	switch s.state {
	case cmsws.StateActive:
		s.live = true
	case cmsws.StateDeactivated:
		s.live = false
	}
	// A live subscription listed again (pending or active) is the answer to
	// a request sent after its activation, which CMS queued behind its
	// snapshot: the snapshot is complete (see cmsws: the sync request).
	relisted := s.live && wasLive
	if s.resource == cmsws.ResourceCallRoster {
		c.rosterSubscriptionState(n, l, s, wasLive, relisted)
		return
	}
	if s.resource != cmsws.ResourceCalls || l.id != 0 {
		// Only the primary link's calls subscription defines the calls.
		return
	}
	inPhase := n.phase.active && n.phase.index == sub.Index
	switch {
	case s.live && !wasLive:
		c.startSnapshot(n, sub.Index, wasDeactivated)
	case relisted && inPhase:
		c.endSnapshot(n, snapshotEndSync)
	case !s.live && wasLive:
		// Deactivated: the calls are no longer followed. They stay as last
		// seen (cms_up 0 says so); mid-snapshot, what arrived is kept and
		// nothing is swept.
		if inPhase {
			n.phase.active = false
		}
		n.synced = false
	}
}

// newSubscription creates the record of a subscription the server told us
// about; a callRoster one gets its roster feed and is indexed by call.
func (c *Collector) newSubscription(l *link, sub *cmsws.Subscription) *subscription {
	s := &subscription{resource: sub.Type, call: sub.Call}
	if sub.Type == cmsws.ResourceCallRoster {
		s.callID = cleanLabel(sub.Call)
		s.feed = &rosterFeed{}
		l.rosters[s.callID] = s
	}
	return s
}

func (c *Collector) message(n *node, l *link, ev cmsws.Event) {
	m := ev.Message
	if m == nil {
		return
	}
	n.stats.messages[bounded(m.Type, knownMessageTypes)]++
	if !ev.Time.IsZero() {
		n.stats.lastMessage = ev.Time
	} else {
		n.stats.lastMessage = c.now()
	}
	switch m.Type {
	case cmsws.TypeCallListUpdate:
		if !c.current(n, l, ev) {
			return
		}
		if l.id != 0 || (ev.Subscription != nil && ev.Subscription.Type != cmsws.ResourceCalls) {
			c.wrongResource(n, l, ev)
			return
		}
		index := -1
		if m.SubscriptionIndex != nil {
			index = *m.SubscriptionIndex
		}
		c.applyCallList(n, index, m.CallUpdates)
	case cmsws.TypeRosterUpdate:
		if !c.current(n, l, ev) {
			return
		}
		c.rosterMessage(n, l, ev)
	}
	// subscriptionUpdate is modelled from EventSubscriptionState;
	// callInfoUpdate is counted only: the calls subscription carries all of
	// callInfo but joinAudioMuteOverride.
}

// wrongResource: an update of one resource arrived on a subscription of
// another (or a calls update on a roster-only link).
func (c *Collector) wrongResource(n *node, l *link, ev cmsws.Event) {
	n.stats.errors[reasonWrongResource]++
	index, resource := -1, ""
	if ev.Subscription != nil {
		index, resource = ev.Subscription.Index, string(ev.Subscription.Type)
	}
	level.Warn(c.logger).Log("msg", ev.Message.Type+" on a subscription of another resource ignored", "node", n.name,
		"index", index, "resource", cleanLabel(resource), "link", l.id)
}
