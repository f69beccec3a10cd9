package collector

// nodeSnap is what renderNode shows of a node, copied by snapNode.
type nodeSnap struct {
	name                  string
	types                 callTypeCounts
	up, connected, synced bool
	capacity              int
	rest                  *restState
	stats                 nodeStats
	subs                  map[subPair]float64
}

// subPair is a subscription's resource and state, as
// cms_events_subscriptions counts them.
type subPair struct{ resource, state string }

// snapNode copies a node's series into s: its calls (per call, the cached
// series or a row to build, and by type), whether it is up, its stated
// capacity and the self-metrics of its events connections. Every per-node
// series comes from here, so a node removed from the model takes them all
// along. Callers hold c.mu.
func (c *Collector) snapNode(s *modelSnapshot, n *node) nodeSnap {
	ns := nodeSnap{name: n.name, capacity: n.capacity, rest: cloneREST(n.rest), stats: cloneStats(&n.stats)}
	for _, cl := range n.calls {
		ns.types.inc(cl.st.callType)
		if !c.perCall {
			continue
		}
		if cl.rendered == nil {
			s.calls = append(s.calls, callCopy{cl: cl, node: n.name, id: cl.label, st: cl.st, names: c.names})
			continue
		}
		s.cached = append(s.cached, cl.rendered)
	}
	primary := n.primary()
	ns.up = n.callsLive()
	ns.connected = primary.connected
	ns.synced = n.synced && primary.connected

	// Subscriptions by resource and state.
	for _, conn := range n.connections {
		if len(conn.subs) == 0 {
			continue
		}
		if ns.subs == nil {
			ns.subs = make(map[subPair]float64, len(knownResources)*len(knownSubStates))
		}
		for _, sub := range conn.subs {
			ns.subs[subPair{knownOrOther(string(sub.resource), knownResources), sub.state}]++
		}
	}
	return ns
}

// renderNode renders a node's series from its snapshot, but for its
// per-call series (see build).
func renderNode(r *renderer, n *nodeSnap) {
	n.types.each(func(ct string, v float64) { r.gauge(mNodeCalls, v, n.name, ct) })

	r.gauge(mUp, b2f(n.up), n.name)
	r.gauge(mEventsConnected, b2f(n.connected), n.name)
	r.gauge(mEventsSynced, b2f(n.synced), n.name)
	if n.capacity > 0 {
		r.gauge(mNodeCapacity, float64(n.capacity), n.name)
	}

	if n.rest != nil {
		renderREST(r, n.name, n.rest)
	}

	s := &n.stats
	r.counter(mEventsConnects, s.connects, n.name)
	renderBounded(r, mEventsConnectFailures, s.connectFailures, knownConnectFailures, n.name)
	renderBounded(r, mEventsDisconnects, s.disconnects, knownDisconnects, n.name)
	renderBounded(r, mEventsMessages, s.messages, knownMessageTypes, n.name)
	renderBounded(r, mEventsMessageErrors, s.errors, knownErrorReasons, n.name)
	renderRejected(r, n)
	r.counter(mEventsProbes, s.probes, n.name)
	if s.probes > 0 {
		r.gauge(mEventsProbeLatency, s.probeLatency.Seconds(), n.name)
	}
	if !s.lastMessage.IsZero() {
		r.gauge(mEventsLastMessage, float64(s.lastMessage.UnixNano())/1e9, n.name)
	}

	// Subscriptions by resource and state: every known pair (zeros included),
	// plus any "other" pair that occurs.
	subs := n.subs
	for _, res := range knownResources {
		for _, state := range knownSubStates {
			p := subPair{res, state}
			r.gauge(mEventsSubscriptions, subs[p], n.name, res, state)
			delete(subs, p)
		}
	}
	for p, v := range subs {
		r.gauge(mEventsSubscriptions, v, n.name, p.resource, p.state)
	}
}

// renderBounded renders a counter vector over a bounded label: the known
// values always, "other" when it occurred.
func renderBounded(r *renderer, m metric, counts map[string]float64, known []string, nodeName string) {
	for _, k := range known {
		r.counter(m, counts[k], nodeName, k)
	}
	if v := counts[labelOther]; v > 0 {
		r.counter(m, v, nodeName, labelOther)
	}
}
