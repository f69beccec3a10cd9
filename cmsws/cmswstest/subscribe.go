package cmswstest

import (
	"maps"
	"slices"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// subscribe applies a subscribeRequest with replace-all semantics. Caller
// holds c.mu.
//
// The request is the complete set. An index whose (type, call) is unchanged
// is kept and replays nothing; a new index, or an index pointed at another
// resource, is a new subscription; an index absent from the request is
// cancelled; within one request the last entry of an index wins. A request
// over the limit is refused with a non-success ack and changes nothing.
//
// The request is acked at once ("received, being processed", as the Events
// Guide says) and processed at once too, unless the node is busy (see
// DelayRequests).
func (c *Cluster) subscribe(cn *conn, m *cmsws.Message) {
	st := &cn.node.stats
	st.subscribeRequests++
	if len(m.Subscriptions) > c.opts.MaxSubscriptions {
		st.refusedSubscribes++
		st.violations[ViolationSubscribeFailed]++
		c.logf("cmswstest: %s: connection %d: subscribeRequest %d refused: %d subscriptions (limit %d)",
			cn.node.name, cn.id, m.MessageID, len(m.Subscriptions), c.opts.MaxSubscriptions)
		c.enqueueAck(cn, m.MessageID, "failure")
		return
	}
	c.enqueueAck(cn, m.MessageID, cmsws.AckSuccess)
	if d := cn.node.requestDelay; d > 0 || len(cn.deferred) > 0 {
		c.deferRequest(cn, m, time.Now().Add(d))
		return
	}
	c.applySubscribe(cn, m)
}

// deferRequest processes m at due, after every request deferred before it.
// Caller holds c.mu.
func (c *Cluster) deferRequest(cn *conn, m *cmsws.Message, due time.Time) {
	if n := len(cn.deferred); n > 0 && due.Before(cn.deferred[n-1].due) {
		due = cn.deferred[n-1].due // in order, whatever the delays
	}
	cn.deferred = append(cn.deferred, deferredRequest{due: due, m: m})
	if len(cn.deferred) == 1 {
		c.scheduleDeferred(cn)
	}
}

func (c *Cluster) scheduleDeferred(cn *conn) {
	time.AfterFunc(time.Until(cn.deferred[0].due), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cn.closed {
			cn.deferred = nil
			return
		}
		now := time.Now()
		for len(cn.deferred) > 0 && !now.Before(cn.deferred[0].due) {
			m := cn.deferred[0].m
			cn.deferred = cn.deferred[1:]
			c.applySubscribe(cn, m)
		}
		if len(cn.deferred) > 0 {
			c.scheduleDeferred(cn)
		}
	})
}

// applySubscribe processes an accepted subscribeRequest. Caller holds c.mu.
func (c *Cluster) applySubscribe(cn *conn, m *cmsws.Message) {
	st := &cn.node.stats

	next := make(map[int]*sub, len(m.Subscriptions))
	for _, s := range m.Subscriptions {
		next[s.Index] = &sub{index: s.Index, typ: s.Type, call: s.Call, el: newElements(s.Elements)}
	}
	var fresh []*sub
	if len(next) == len(cn.subs) {
		unchanged := true
		for idx, ns := range next {
			if old := cn.subs[idx]; old == nil || old.typ != ns.typ || old.call != ns.call || !maps.Equal(old.el, ns.el) {
				unchanged = false
				break
			}
		}
		if unchanged {
			st.unchangedRequests++
		}
	}
	for idx, ns := range next {
		if old := cn.subs[idx]; old != nil && old.typ == ns.typ && old.call == ns.call {
			old.el = ns.el // kept: no replay, but later updates follow the new element list
			next[idx] = old
			continue
		}
		ns.active = c.resolve(cn.node, ns)
		fresh = append(fresh, ns)
	}
	var cancelled []cmsws.SubscriptionStatus
	for idx, old := range cn.subs {
		if _, ok := next[idx]; !ok && c.opts.ReportCancelled {
			cancelled = append(cancelled, cmsws.SubscriptionStatus{Index: old.index, State: cmsws.StateDeactivated})
		}
	}
	slices.SortFunc(cancelled, func(a, b cmsws.SubscriptionStatus) int { return a.Index - b.Index })
	slices.SortFunc(fresh, func(a, b *sub) int { return a.index - b.index })

	cn.subs = next
	cn.subList = cn.subList[:0]
	for _, s := range next {
		cn.subList = append(cn.subList, s)
	}
	slices.SortFunc(cn.subList, func(a, b *sub) int { return a.index - b.index })

	pending := make([]cmsws.SubscriptionStatus, 0, len(cn.subList))
	final := make([]cmsws.SubscriptionStatus, 0, len(cn.subList)+len(cancelled))
	for _, s := range cn.subList {
		pending = append(pending, cmsws.SubscriptionStatus{Index: s.index, State: cmsws.StatePending})
		state := cmsws.StateActive
		if !s.active {
			state = cmsws.StateDeactivated
		}
		final = append(final, cmsws.SubscriptionStatus{Index: s.index, State: state})
	}
	final = append(final, cancelled...)
	c.sendSubscriptionUpdate(cn, pending)
	c.sendSubscriptionUpdate(cn, final)

	for _, s := range fresh {
		if s.active {
			if d := cn.node.snapshotDelay(s.typ); d > 0 && cn.holdNext.IsZero() {
				cn.holdNext = time.Now().Add(d)
			}
		}
	}
	for _, s := range fresh {
		if s.active {
			c.sendSnapshot(cn, s)
		}
	}
}

// snapshotDelay is how long the node holds back a snapshot of resource
// (see DelaySnapshots). Caller holds c.mu.
func (n *node) snapshotDelay(resource cmsws.Resource) time.Duration {
	if d, ok := n.delays[resource]; ok {
		return d
	}
	return n.delays[""]
}

// resolve says whether a new subscription can be active on n: calls always,
// callRoster and callInfo only for a call id of an instance on n.
func (c *Cluster) resolve(n *node, s *sub) bool {
	switch s.typ {
	case cmsws.ResourceCalls:
		return true
	case cmsws.ResourceCallRoster, cmsws.ResourceCallInfo:
		return n.instances[s.call] != nil
	}
	return false
}

// sendSnapshot sends the current state of a newly active subscription: adds
// for every call or participant, split into messages of SnapshotChunk, or
// one full callInfoUpdate.
func (c *Cluster) sendSnapshot(cn *conn, s *sub) {
	chunk := c.opts.SnapshotChunk
	s.window = true
	switch s.typ {
	case cmsws.ResourceCalls:
		var ups []cmsws.CallUpdate
		for _, inst := range sortedValues(cn.node.instances) {
			u, _ := callUpdate(s.el, inst.id, nil, inst.meeting.view())
			ups = append(ups, u)
			c.ledger.learnt(inst.meeting)
		}
		for part := range slices.Chunk(ups, chunk) {
			c.sendCallList(cn, s.index, part)
		}
	case cmsws.ResourceCallRoster:
		m := cn.node.instances[s.call].meeting
		c.ledger.learntRoster(m)
		var ups []cmsws.RosterUpdate
		for _, p := range sortedValues(m.participants) {
			u, _ := rosterUpdate(s.el, p.id, nil, p.view)
			ups = append(ups, u)
		}
		for part := range slices.Chunk(ups, chunk) {
			c.sendRoster(cn, s.index, part)
		}
	case cmsws.ResourceCallInfo:
		ci, _ := callInfo(s.el, nil, cn.node.instances[s.call].meeting.view())
		c.sendCallInfo(cn, s.index, ci)
	}
}
