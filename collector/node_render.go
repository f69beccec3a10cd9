package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

func (c *Collector) renderNode(r *renderer, n *node) {
	d := &c.d
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
	types.each(func(ct string, v float64) { r.gauge(d.nodeCalls, v, n.name, ct) })

	primary := n.primary()
	r.gauge(d.up, b2f(n.callsLive()), n.name)
	r.gauge(d.eventsConnected, b2f(primary.connected), n.name)
	r.gauge(d.eventsSynced, b2f(n.synced && primary.connected), n.name)

	s := &n.stats
	r.counter(d.eventsConnects, s.connects, n.name)
	renderBounded(r, d.eventsConnectFailures, s.connectFailures, knownConnectFailures, n.name)
	renderBounded(r, d.eventsDisconnects, s.disconnects, knownDisconnects, n.name)
	renderBounded(r, d.eventsMessages, s.messages, knownMessageTypes, n.name)
	renderBounded(r, d.eventsMessageErrors, s.errors, knownErrorReasons, n.name)
	r.counter(d.eventsProbes, s.probes, n.name)
	if s.probes > 0 {
		r.gauge(d.eventsProbeLatency, s.probeLatency.Seconds(), n.name)
	}
	if !s.lastMessage.IsZero() {
		r.gauge(d.eventsLastMessage, float64(s.lastMessage.UnixNano())/1e9, n.name)
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
			subs = make(map[pair]float64, 9)
		}
		for _, sub := range conn.subs {
			subs[pair{knownOrOther(string(sub.resource), knownResources), sub.state}]++
		}
	}
	for _, res := range knownResources {
		for _, state := range knownSubStates {
			p := pair{res, state}
			r.gauge(d.eventsSubscriptions, subs[p], n.name, res, state)
			delete(subs, p)
		}
	}
	for p, v := range subs {
		r.gauge(d.eventsSubscriptions, v, n.name, p.resource, p.state)
	}
}

// renderBounded renders a counter vector over a bounded label: the known
// values always, "other" when it occurred.
func renderBounded(r *renderer, d *prometheus.Desc, m map[string]float64, known []string, nodeName string) {
	for _, k := range known {
		r.counter(d, m[k], nodeName, k)
	}
	if v := m[labelOther]; v > 0 {
		r.counter(d, v, nodeName, labelOther)
	}
}
