package collector

import (
	"slices"

	"github.com/go-kit/log/level"

	"github.com/prometheus/client_golang/prometheus"
)

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
