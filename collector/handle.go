package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Handle applies one event of a node's client. Each client calls it from
// its own goroutine, in order; events of different nodes may interleave. It
// only takes the model lock and does O(updates) work, so it never stalls a
// client's read loop (and thereby its acks) for long.
//
// Events of a node that is not (or no longer) added are ignored: after a
// config reload removed a node, its client may still deliver a few.
func (c *Collector) Handle(ev cmsws.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[ev.Node]
	if !ok {
		level.Debug(c.logger).Log("msg", "event for a node not in the model ignored", "node", ev.Node, "kind", ev.Kind)
		return
	}
	switch ev.Kind {
	case cmsws.EventConnecting:
		// Nothing to model: the outcome follows as Connected or ConnectFailed.
	case cmsws.EventConnectFailed:
		n.stats.connectFailures[bounded(ev.Reason, knownConnectFailures)]++
	case cmsws.EventConnected:
		n.stats.connects++
		c.resetConnection(n)
		n.conn = ev.Conn
		n.connected = true
	case cmsws.EventDisconnected:
		n.stats.disconnects[bounded(ev.Reason, knownDisconnects)]++
		if ev.Conn == n.conn {
			c.resetConnection(n)
			n.connected = false
		}
	case cmsws.EventSubscriptionState:
		if c.current(n, ev) {
			c.subscriptionState(n, ev)
		}
	case cmsws.EventMessage:
		c.message(n, ev)
	case cmsws.EventMessageError:
		n.stats.errors[bounded(ev.Reason, knownErrorReasons)]++
	case cmsws.EventRequestFailed:
		n.stats.errors[reasonRequestFailed]++
		// Reason is the server's ack status, not a secret.
		level.Warn(c.logger).Log("msg", "CMS refused a request", "node", n.name, "status", cleanLabel(ev.Reason), "err", ev.Err)
	case cmsws.EventProbe:
		n.stats.probes++
		n.stats.probeLatency = ev.Latency
	default:
		level.Debug(c.logger).Log("msg", "unknown event kind ignored", "node", n.name, "kind", ev.Kind)
	}
	c.updateUp(n)
}

// current reports whether ev belongs to the node's live connection. Anything
// else is a leftover of an older connection and must not touch the model.
func (c *Collector) current(n *node, ev cmsws.Event) bool {
	if n.connected && ev.Conn == n.conn {
		return true
	}
	level.Debug(c.logger).Log("msg", "event of a stale connection ignored", "node", n.name, "kind", ev.Kind, "conn", ev.Conn, "current_conn", n.conn)
	return false
}

// resetConnection forgets what belonged to the previous connection: its
// subscriptions and an unfinished snapshot. Calls stay until the next
// snapshot replaces them, so a brief blip leaves no gaps in the series.
func (c *Collector) resetConnection(n *node) {
	clear(n.subs)
	n.phase.active = false
	n.synced = false
}

// updateUp recomputes cms_up and logs the change, never the steady state.
func (c *Collector) updateUp(n *node) {
	up := n.callsLive()
	if up == n.up {
		return
	}
	n.up = up
	if up {
		level.Info(c.logger).Log("msg", "node events stream up", "node", n.name, "conn", n.conn)
	} else {
		level.Info(c.logger).Log("msg", "node events stream down", "node", n.name, "conn", n.conn, "calls_kept", len(n.calls))
	}
}

func (c *Collector) subscriptionState(n *node, ev cmsws.Event) {
	sub := ev.Subscription
	if sub == nil {
		level.Debug(c.logger).Log("msg", "subscription state without subscription ignored", "node", n.name)
		return
	}
	s, ok := n.subs[sub.Index]
	if !ok || s.resource != sub.Type || s.call != sub.Call {
		// A new target under this index is a new subscription.
		if ok && n.phase.active && n.phase.index == sub.Index {
			n.phase.active = false
		}
		s = &subscription{resource: sub.Type, call: sub.Call}
		n.subs[sub.Index] = s
	}
	s.state = bounded(ev.State, knownSubStates)
	wasLive := s.live
	switch s.state {
	case cmsws.StateActive:
		s.live = true
	case cmsws.StateDeactivated:
		s.live = false
	}
	if s.resource != cmsws.ResourceCalls {
		return
	}
	switch {
	case s.live && !wasLive:
		c.startSnapshot(n, sub.Index)
	case !s.live && wasLive && n.phase.active && n.phase.index == sub.Index:
		// Deactivated mid-snapshot: what arrived is kept, nothing is swept.
		n.phase.active = false
		n.synced = false
	}
}

func (c *Collector) message(n *node, ev cmsws.Event) {
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
	if m.Type != cmsws.TypeCallListUpdate || !c.current(n, ev) {
		// subscriptionUpdate is modelled from EventSubscriptionState;
		// rosterUpdate and callInfoUpdate are counted only, for now.
		return
	}
	if ev.Subscription != nil && ev.Subscription.Type != cmsws.ResourceCalls {
		n.stats.errors[reasonWrongResource]++
		level.Warn(c.logger).Log("msg", "callListUpdate on a non-calls subscription ignored", "node", n.name,
			"index", ev.Subscription.Index, "resource", cleanLabel(string(ev.Subscription.Type)))
		return
	}
	index := -1
	if m.SubscriptionIndex != nil {
		index = *m.SubscriptionIndex
	}
	c.applyCallList(n, index, m.CallUpdates)
}
