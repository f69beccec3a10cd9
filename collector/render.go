package collector

import (
	"slices"

	"github.com/go-kit/log/level"

	"github.com/prometheus/client_golang/prometheus"
)

// Describe sends every descriptor the Collector may emit, the per-call ones
// included even while PerCallMetrics is off: the registry only accepts
// series of described descriptors, and SetPerCallMetrics can switch them on
// after registration.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect renders the model. It builds the metrics under the lock, in
// O(calls), and sends them after releasing it, so a slow scrape consumer
// never holds up the clients feeding Handle.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ms := c.render(nil)
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// render appends the model's metrics to out. Callers hold c.mu.
func (c *Collector) render(out []prometheus.Metric) []prometheus.Metric {
	size := 60
	for _, n := range c.nodes {
		size += 60 + 2*len(n.links)
		if c.perCall {
			size += 7 * len(n.calls)
		}
	}
	if c.perCall {
		size += (numStates + numFlags) * len(c.meetings)
	}
	r := renderer{out: slices.Grow(out, size)}
	for _, n := range c.nodes {
		c.renderNode(&r, n)
	}
	c.renderCluster(&r)
	c.renderRosters(&r)
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "series dropped from the scrape", "count", r.errs, "err", r.err)
	}
	return r.out
}

// renderer collects const metrics. A metric that cannot be built (which
// cleanLabel should make impossible) is dropped and remembered, never a
// panic in the middle of a scrape.
type renderer struct {
	out  []prometheus.Metric
	errs int
	err  error
}

func (r *renderer) add(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		r.errs++
		r.err = err
		return
	}
	r.out = append(r.out, m)
}

func (r *renderer) gauge(d *prometheus.Desc, v float64, labels ...string) {
	r.add(d, prometheus.GaugeValue, v, labels)
}

func (r *renderer) counter(d *prometheus.Desc, v float64, labels ...string) {
	r.add(d, prometheus.CounterValue, v, labels)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func callTypeLabel(t string) string {
	if t == "" {
		return callTypeUnknown
	}
	return t
}

// callTypeCounts counts by call type label: the known four always (zero rows
// keep dashboards and rate() continuous), "unknown" when present.
type callTypeCounts [5]float64

func (t *callTypeCounts) inc(callType string) {
	i := slices.Index(knownCallTypes, callType)
	if i < 0 {
		i = len(knownCallTypes)
	}
	t[i]++
}

func (t *callTypeCounts) each(f func(label string, v float64)) {
	for i, ct := range knownCallTypes {
		f(ct, t[i])
	}
	if v := t[len(knownCallTypes)]; v > 0 {
		f(callTypeUnknown, v)
	}
}

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
	for _, l := range n.links {
		if len(l.subs) == 0 {
			continue
		}
		if subs == nil {
			subs = make(map[pair]float64, 9)
		}
		for _, sub := range l.subs {
			subs[pair{bounded(string(sub.resource), knownResources), sub.state}]++
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

// renderCall builds a call's per-call series.
func (c *Collector) renderCall(nodeName string, cl *call) []prometheus.Metric {
	d := &c.d
	st := &cl.st
	r := renderer{out: make([]prometheus.Metric, 0, 7)}
	r.gauge(d.callInfo, 1, nodeName, cl.id, st.correlator, st.name, callTypeLabel(st.callType))
	r.gauge(d.callParticipants, float64(st.participants), nodeName, cl.id)
	r.gauge(d.callDistributedInstances, float64(st.distributedInstances), nodeName, cl.id)
	r.gauge(d.callRecording, b2f(st.recording), nodeName, cl.id)
	r.gauge(d.callStreaming, b2f(st.streaming), nodeName, cl.id)
	r.gauge(d.callEndpointRecording, b2f(st.endpointRecording), nodeName, cl.id)
	r.gauge(d.callLocked, b2f(st.locked), nodeName, cl.id)
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "call series dropped from the scrape", "node", nodeName, "call", cl.id, "err", r.err)
	}
	return r.out
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

func (c *Collector) renderCluster(r *renderer) {
	d := &c.d
	var (
		types                        callTypeCounts
		participants                 int
		recording, streaming, locked int
	)
	for _, m := range c.meetings {
		st := m.state()
		types.inc(m.callType())
		participants += st.participants
		if st.recording {
			recording++
		}
		if st.streaming {
			streaming++
		}
		if st.locked {
			locked++
		}
	}
	types.each(func(ct string, v float64) { r.gauge(d.clusterMeetings, v, ct) })
	r.gauge(d.clusterParticipants, float64(participants))
	r.gauge(d.clusterMeetingsRecording, float64(recording))
	r.gauge(d.clusterMeetingsStreaming, float64(streaming))
	r.gauge(d.clusterMeetingsLocked, float64(locked))

	t := &c.totals
	r.counter(d.meetingsStartedTotal, t.meetingsStarted)
	r.counter(d.meetingsEndedTotal, t.meetingsEnded)
	r.counter(d.recordingsStartedTotal, t.recordingsStarted)
	r.counter(d.recordingsStoppedTotal, t.recordingsStopped)
	r.counter(d.streamsStartedTotal, t.streamsStarted)
	r.counter(d.streamsStoppedTotal, t.streamsStopped)
	r.counter(d.meetingsLockedTotal, t.meetingsLocked)
	r.counter(d.meetingsUnlockedTotal, t.meetingsUnlocked)
}
