package cmswstest

import (
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// RestartNode simulates a Call Bridge restart: its event connections drop,
// its tokens are forgotten, and all its instances end (their participants
// leave without reason; the meetings go on on other nodes). Its REST
// counters start again: uptime, callLegsMaxActive, callLegsCompleted, and
// the legs of ExtraCallLegs end.
func (c *Cluster) RestartNode(name string) error {
	return c.withNode(name, func(n *node) {
		for _, cn := range append([]*conn(nil), n.conns...) {
			c.closeConnLocked(cn, CloseRestart)
		}
		n.expireTokens()
		for _, inst := range sortedValues(n.instances) {
			c.endInstance(inst, "")
		}
		n.rest.restart(c.opts.Now())
		c.logf("cmswstest: %s: restarted", n.name)
	})
}

// withNode runs fn on the named node under the cluster lock: the prologue
// of every fault that acts on a node.
func (c *Cluster) withNode(name string, fn func(n *node)) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node(name)
	if err != nil {
		return err
	}
	fn(n)
	return nil
}

// DropConnections closes the TCP connection of every events connection of
// node, without close frame; the model is unchanged. It returns how many.
func (c *Cluster) DropConnections(node string) int {
	return c.eachConn(node, func(cn *conn) { c.closeConnLocked(cn, CloseDropped) })
}

// eachConn runs fn, under the cluster lock, on every open events
// connection of node (a copy of the list, so fn may close them) and
// returns how many there were; 0 for an unknown node.
func (c *Cluster) eachConn(node string, fn func(cn *conn)) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byName[node]
	if n == nil {
		return 0
	}
	conns := append([]*conn(nil), n.conns...)
	for _, cn := range conns {
		fn(cn)
	}
	return len(conns)
}

// StallConnections makes every open events connection of node stop
// reading, acking and sending while the TCP connection stays open, until
// DropConnections or Close. Updates keep queueing. It returns how many.
func (c *Cluster) StallConnections(node string) int {
	return c.eachConn(node, func(cn *conn) { cn.stalled = true })
}

// ExpireTokens invalidates every token node has issued so far. Open
// connections stay open.
func (c *Cluster) ExpireTokens(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.byName[node]; n != nil {
		n.expireTokens()
	}
}

// InjectRaw sends frame, as-is, as one text frame to every open events
// connection of node, in order with the queued messages but without a
// messageId of its own or a window slot. A client's ack of a messageId the
// frame carries is accepted silently. It returns how many connections.
func (c *Cluster) InjectRaw(node string, frame []byte) int {
	return c.InjectFrame(node, OpText, true, frame)
}

// InjectFrame is InjectRaw for any opcode and FIN bit, to test a client
// against server frames CMS should never send (binary, ping, fragments).
func (c *Cluster) InjectFrame(node string, opcode byte, fin bool, payload []byte) int {
	return c.eachConn(node, func(cn *conn) {
		if opcode == OpText {
			cn.noteInjected(payload)
		}
		c.enqueueFrame(cn, outMsg{outFrame: outFrame{opcode: opcode, fin: fin, payload: append([]byte(nil), payload...)}})
	})
}

// DelaySnapshots makes the named node hold back every later snapshot of resource (""
// for every resource) by d, as a busy Call Bridge or a slow path might:
// after the subscriptionUpdate that reports a subscription active, the
// connection sends no numbered message for d; then the snapshot follows,
// taken at activation, and everything queued behind it, in order. Acks of
// the client's requests are not held. CMS bounds nothing here, so neither
// may a client: a snapshot that comes late must not be mistaken for an
// empty one followed by live starts. d = 0 ends the delay for resource.
func (c *Cluster) DelaySnapshots(name string, resource cmsws.Resource, d time.Duration) error {
	return c.withNode(name, func(n *node) {
		if n.delays == nil {
			n.delays = map[cmsws.Resource]time.Duration{}
		}
		if d <= 0 {
			delete(n.delays, resource)
		} else {
			n.delays[resource] = d
		}
	})
}

// DeactivateCalls reports every active calls subscription of node as
// deactivated and stops its updates; it returns how many. The Events Guide
// documents deactivation only for callRoster and callInfo (the call ended,
// or never existed) and says nothing of a calls subscription coming back.
// The fake does the strictest plausible thing: the subscription stays
// deactivated, also when the client sends it again under the same index
// (CMS keeps an index it already holds); only a new index is a new
// subscription, answered with a fresh snapshot. ReactivateCalls brings it
// back, with or without replaying the calls.
func (c *Cluster) DeactivateCalls(node string) int {
	count := 0
	c.eachConn(node, func(cn *conn) {
		var st []cmsws.SubscriptionStatus
		for _, s := range cn.subList {
			if s.active && s.typ == cmsws.ResourceCalls {
				s.active = false
				st = append(st, cmsws.SubscriptionStatus{Index: s.index, State: cmsws.StateDeactivated})
			}
		}
		if len(st) > 0 {
			count += len(st)
			c.sendSubscriptionUpdate(cn, st)
		}
	})
	return count
}

// ReactivateCalls reports node's deactivated calls subscriptions active
// again and resumes their updates; with replay it first sends their
// snapshot, without it the client hears nothing of the calls that ran
// meanwhile (the strict case a client must survive). It returns how many.
func (c *Cluster) ReactivateCalls(node string, replay bool) int {
	count := 0
	c.eachConn(node, func(cn *conn) {
		var subs []*sub
		var st []cmsws.SubscriptionStatus
		for _, s := range cn.subList {
			if !s.active && s.typ == cmsws.ResourceCalls {
				s.active = true
				subs = append(subs, s)
				st = append(st, cmsws.SubscriptionStatus{Index: s.index, State: cmsws.StateActive})
			}
		}
		if len(st) == 0 {
			return
		}
		count += len(st)
		c.sendSubscriptionUpdate(cn, st)
		for _, s := range subs {
			if replay {
				c.sendSnapshot(cn, s)
			}
			// Replayed or not, a client cannot tell what follows from a
			// snapshot until the subscription is listed again.
			s.window = true
		}
	})
	return count
}

// RefuseEvents closes the named node's events connections and refuses new
// ones with 503 (on), or accepts them again (off), while its REST API goes
// on answering: a client then meets a node whose events are down and whose
// books are not, as when the node's 5 event connections are taken.
func (c *Cluster) RefuseEvents(name string, on bool) error {
	return c.withNode(name, func(n *node) {
		n.eventsRefused = on
		if on {
			for _, cn := range append([]*conn(nil), n.conns...) {
				c.closeConnLocked(cn, CloseDropped)
			}
		}
	})
}

// SetUnreachable cuts the named node off from its clients (on) or restores it (off).
// While cut off, its open event connections are dropped and every request
// to it is answered 503, as by a proxy in front of a node it cannot reach;
// the node itself goes on hosting its calls, which change as the scenario
// says. It is how a client meets a node that stays down.
func (c *Cluster) SetUnreachable(name string, on bool) error {
	return c.withNode(name, func(n *node) {
		n.unreachable = on
		if on {
			for _, cn := range append([]*conn(nil), n.conns...) {
				c.closeConnLocked(cn, CloseDropped)
			}
		}
	})
}

// DelayRequests makes the named node a busy Call Bridge: it acks every later
// subscribeRequest at once ("received, being processed") but processes it
// (its subscriptionUpdates, snapshots and what follows them) only d later,
// in order. d = 0 ends it for requests received from then on.
func (c *Cluster) DelayRequests(name string, d time.Duration) error {
	return c.withNode(name, func(n *node) { n.requestDelay = max(d, 0) })
}
