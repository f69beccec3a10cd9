package collector

// renderNode renders a node's series: its calls (per call, cached between
// scrapes, and by type), whether it is up, its stated capacity and the
// self-metrics of its events connections. Every per-node series renders
// here, so a node removed from the model takes them all along.
func (c *Collector) renderNode(r *renderer, n *node) {
	var types callTypeCounts
	for _, cl := range n.calls {
		types.inc(cl.st.callType)
		if !c.perCall {
			continue
		}
		if cl.rendered == nil {
			cl.rendered = c.renderCall(n.name, cl)
		}
		r.out = append(r.out, cl.rendered...)
	}
	types.each(func(ct string, v float64) { r.gauge(mNodeCalls, v, n.name, ct) })

	primary := n.primary()
	r.gauge(mUp, b2f(n.callsLive()), n.name)
	r.gauge(mEventsConnected, b2f(primary.connected), n.name)
	r.gauge(mEventsSynced, b2f(n.synced && primary.connected), n.name)
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
	type pair struct{ resource, state string }
	var subs map[pair]float64
	for _, conn := range n.connections {
		if len(conn.subs) == 0 {
			continue
		}
		if subs == nil {
			subs = make(map[pair]float64, len(knownResources)*len(knownSubStates))
		}
		for _, sub := range conn.subs {
			subs[pair{knownOrOther(string(sub.resource), knownResources), sub.state}]++
		}
	}
	for _, res := range knownResources {
		for _, state := range knownSubStates {
			p := pair{res, state}
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
