package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// maxConnections bounds the connection numbers the model accepts. CMS
// allows 5 event connections per node (one is Cisco Meeting Management's),
// so the configuration never uses more than 4; the margin costs nothing.
const maxConnections = 16

// Handle applies one event of a node's client. Each client calls it from
// its own goroutine, in order; events of different nodes (and of different
// connections of one node) may interleave. It only takes the model lock and
// does O(updates) work, so it never stalls a client's read loop (and thereby
// its acks) for long.
//
// Events of a node that is not (or no longer) added are ignored: after a
// config reload removed a node, its client may still deliver a few.
func (c *Collector) Handle(ev cmsws.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[ev.Node]
	if !ok {
		level.Debug(c.logger).Log("msg", "event for a node not in the model ignored", "node", ev.Node, "connection", ev.Connection, "kind", ev.Kind)
		return
	}
	if ev.Connection < 0 || ev.Connection >= maxConnections {
		c.warn(n, "impossible_connection", "msg", "event of an impossible connection number ignored", "connection", ev.Connection, "kind", ev.Kind)
		return
	}
	conn, ok := n.connections[ev.Connection]
	if !ok {
		conn = newConnection(ev.Connection)
		n.connections[ev.Connection] = conn
	}
	switch ev.Kind {
	case cmsws.EventConnecting:
		// Nothing to model: the outcome follows as Connected or ConnectFailed.
	case cmsws.EventConnectFailed:
		n.stats.connectFailures[knownOrOther(ev.Reason, knownConnectFailures)]++
		n.noteError(&ev, knownOrOther(ev.Reason, knownConnectFailures))
	case cmsws.EventConnected:
		n.stats.connects++
		c.resetConnection(n, conn)
		conn.session = ev.Session
		conn.connected = true
		if conn.number != 0 {
			level.Info(c.logger).Log("msg", "extra events connection up", "node", n.name, "connection", conn.number, "session", conn.session)
		}
	case cmsws.EventDisconnected:
		n.stats.disconnects[knownOrOther(ev.Reason, knownDisconnects)]++
		n.noteError(&ev, knownOrOther(ev.Reason, knownDisconnects))
		if ev.Session == conn.session {
			c.resetConnection(n, conn)
			if conn.number != 0 && conn.connected {
				level.Info(c.logger).Log("msg", "extra events connection down", "node", n.name, "connection", conn.number, "session", conn.session)
			}
			conn.connected = false
		}
	case cmsws.EventSubscriptionState:
		if c.isCurrentSession(n, conn, ev) {
			c.applySubscriptionState(n, conn, ev)
		}
	case cmsws.EventMessage:
		c.handleMessage(n, conn, ev)
	case cmsws.EventMessageError:
		n.stats.errors[knownOrOther(ev.Reason, knownErrorReasons)]++
	case cmsws.EventRequestFailed:
		n.stats.errors[reasonRequestFailed]++
		// Reason is the server's ack status, not a secret.
		c.warn(n, "request_refused", "msg", "CMS refused a request", "status", cleanLabel(ev.Reason), "err", ev.Err, "connection", conn.number)
	case cmsws.EventProbe:
		n.stats.probes++
		n.stats.probeLatency = ev.Latency
	default:
		level.Debug(c.logger).Log("msg", "unknown event kind ignored", "node", n.name, "connection", conn.number, "kind", ev.Kind)
	}
	c.updateUp(n)
}

// isCurrentSession reports whether ev belongs to the connection's live
// session. Anything else is a leftover of an older session and must not
// touch the model.
func (c *Collector) isCurrentSession(n *node, conn *connection, ev cmsws.Event) bool {
	if conn.connected && ev.Session == conn.session {
		return true
	}
	level.Debug(c.logger).Log("msg", "event of a stale session ignored", "node", n.name, "connection", conn.number, "kind", ev.Kind, "session", ev.Session, "current_session", conn.session)
	return false
}

// resetConnection forgets what belonged to the connection's previous
// session: its subscriptions (and the ended calls only they could still
// report on) and, on the primary connection, an unfinished calls snapshot.
// Calls and rosters stay until the next snapshot replaces them, so a brief
// blip leaves no gaps in the series (and counts no leaves).
func (c *Collector) resetConnection(n *node, conn *connection) {
	clear(conn.subs)
	clear(conn.rosters)
	clear(conn.callSubs)
	c.dropEnded(n, "")
	if conn.number == 0 {
		n.phase.active = false
		n.synced = false
	}
}

// applySubscriptionState follows the server-reported state of one
// subscription: a new target under an index is a new subscription, and a
// calls subscription of the primary connection starts and ends the node's
// calls snapshot (a callRoster one its roster snapshot).
func (c *Collector) applySubscriptionState(n *node, conn *connection, ev cmsws.Event) {
	sub := ev.Subscription
	if sub == nil {
		level.Debug(c.logger).Log("msg", "subscription state without subscription ignored", "node", n.name, "connection", conn.number)
		return
	}
	s, ok := conn.subs[sub.Index]
	if !ok || s.resource != sub.Type || s.call != sub.Call {
		// A new target under this index is a new subscription.
		if ok && conn.number == 0 && n.phase.active && n.phase.index == sub.Index {
			n.phase.active = false
		}
		if ok && s.feed != nil && conn.rosters[s.call] == s {
			delete(conn.rosters, s.call)
		}
		delete(conn.callSubs, sub.Index)
		s = c.newSubscription(conn, sub)
		conn.subs[sub.Index] = s
		if s.resource == cmsws.ResourceCalls {
			conn.callSubs[sub.Index] = s
		}
	}
	wasDeactivated := s.state == cmsws.StateDeactivated
	s.state = knownOrOther(ev.State, knownSubStates)
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
		c.applyRosterSubscriptionState(n, conn, s, wasLive, relisted)
		return
	}
	if s.resource != cmsws.ResourceCalls || conn.number != 0 {
		// Only the primary connection's calls subscription defines the calls.
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
func (c *Collector) newSubscription(conn *connection, sub *cmsws.Subscription) *subscription {
	s := &subscription{resource: sub.Type, call: sub.Call}
	if sub.Type == cmsws.ResourceCallRoster {
		s.feed = &rosterFeed{}
		conn.rosters[s.call] = s
	}
	return s
}

// handleMessage counts a message and applies the call and roster updates
// it carries, if it belongs to the connection's current session.
func (c *Collector) handleMessage(n *node, conn *connection, ev cmsws.Event) {
	m := ev.Message
	if m == nil {
		return
	}
	n.stats.messages[knownOrOther(m.Type, knownMessageTypes)]++
	if !ev.Time.IsZero() {
		n.stats.lastMessage = ev.Time
	} else {
		n.stats.lastMessage = c.now()
	}
	switch m.Type {
	case cmsws.TypeCallListUpdate:
		if !c.isCurrentSession(n, conn, ev) {
			return
		}
		if conn.number != 0 || (ev.Subscription != nil && ev.Subscription.Type != cmsws.ResourceCalls) {
			c.reportWrongResource(n, conn, ev)
			return
		}
		index := -1
		if m.SubscriptionIndex != nil {
			index = *m.SubscriptionIndex
		}
		c.applyCallList(n, index, m.CallUpdates)
	case cmsws.TypeRosterUpdate:
		if !c.isCurrentSession(n, conn, ev) {
			return
		}
		c.applyRosterMessage(n, conn, ev)
	}
	// subscriptionUpdate is modelled from EventSubscriptionState;
	// callInfoUpdate is counted only: the calls subscription carries all of
	// callInfo but joinAudioMuteOverride.
}

// reportWrongResource counts and logs an update of one resource that
// arrived on a subscription of another (or a calls update on a roster-only
// connection).
func (c *Collector) reportWrongResource(n *node, conn *connection, ev cmsws.Event) {
	n.stats.errors[reasonWrongResource]++
	index, resource := -1, ""
	if ev.Subscription != nil {
		index, resource = ev.Subscription.Index, string(ev.Subscription.Type)
	}
	c.warn(n, "wrong_resource", "msg", ev.Message.Type+" on a subscription of another resource ignored",
		"index", index, "resource", cleanLabel(resource), "connection", conn.number)
}
