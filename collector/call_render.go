package collector

import (
	"slices"

	"github.com/go-kit/log/level"

	"github.com/prometheus/client_golang/prometheus"
)

// callTypeLabel is the call_type label of a call type: "unknown" for a
// call whose type CMS has not (validly) set.
func callTypeLabel(t string) string {
	if t == "" {
		return callTypeUnknown
	}
	return t
}

// callTypeCounts counts by call type label: the known ones always (zero
// rows keep dashboards and rate() continuous), "unknown" when present. The
// count of unknown is the last, at callTypeUnknownIndex.
type callTypeCounts [len(knownCallTypes) + 1]float64

const callTypeUnknownIndex = len(knownCallTypes)

func (t *callTypeCounts) inc(callType string) {
	i := slices.Index(knownCallTypes[:], callType)
	if i < 0 {
		i = callTypeUnknownIndex
	}
	t[i]++
}

func (t *callTypeCounts) each(f func(label string, v float64)) {
	for i, ct := range knownCallTypes {
		f(ct, t[i])
	}
	if v := t[callTypeUnknownIndex]; v > 0 {
		f(callTypeUnknown, v)
	}
}

// renderCall builds a call's per-call series from its row (a copy of the
// call: it runs without the lock).
func (c *Collector) renderCall(cl *callCopy) []prometheus.Metric {
	nodeName, st := cl.node, &cl.st
	r := renderer{d: c.d, out: make([]prometheus.Metric, 0, callSeries)}
	r.gauge(mCallInfo, 1, nodeName, cl.id, labelValue(st.correlator), nameLabel(cl.names, st.name), callTypeLabel(st.callType))
	r.gauge(mCallParticipants, float64(st.participants), nodeName, cl.id)
	r.gauge(mCallDistributedInstances, float64(st.distributedInstances), nodeName, cl.id)
	r.gauge(mCallRecording, b2f(st.recording), nodeName, cl.id)
	r.gauge(mCallStreaming, b2f(st.streaming), nodeName, cl.id)
	r.gauge(mCallEndpointRecording, b2f(st.endpointRecording), nodeName, cl.id)
	r.gauge(mCallLocked, b2f(st.locked), nodeName, cl.id)
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "call series dropped from the scrape", "node", nodeName, "call", cl.id, "err", r.err)
	}
	return r.out
}

// clusterSnap is what renderCluster shows: the meetings of the cluster
// (call instances deduplicated by meeting), counted by snapCluster, and
// the meeting transition counters.
type clusterSnap struct {
	types                        callTypeCounts
	participants                 int
	recording, streaming, locked int
	sizes                        meetingSizes
	totals                       transitionTotals
}

// snapCluster counts the meetings of the cluster. Callers hold c.mu.
// O(calls), nothing allocated.
func (c *Collector) snapCluster() clusterSnap {
	s := clusterSnap{totals: c.totals}
	for _, m := range c.meetings {
		st := m.state()
		s.types.inc(m.callType())
		s.participants += st.participants
		s.sizes.observe(st.participants)
		if st.recording {
			s.recording++
		}
		if st.streaming {
			s.streaming++
		}
		if st.locked {
			s.locked++
		}
	}
	return s
}

// renderCluster renders the meetings of the cluster and the meeting
// transition counters.
func renderCluster(r *renderer, s *clusterSnap) {
	s.types.each(func(ct string, v float64) { r.gauge(mClusterMeetings, v, ct) })
	r.gauge(mClusterParticipants, float64(s.participants))
	r.gauge(mClusterMeetingsRecording, float64(s.recording))
	r.gauge(mClusterMeetingsStreaming, float64(s.streaming))
	r.gauge(mClusterMeetingsLocked, float64(s.locked))
	s.sizes.render(r)

	t := &s.totals
	r.counter(mMeetingsStartedTotal, t.meetingsStarted)
	r.counter(mMeetingsEndedTotal, t.meetingsEnded)
	r.counter(mRecordingsStartedTotal, t.recordingsStarted)
	r.counter(mRecordingsStoppedTotal, t.recordingsStopped)
	r.counter(mStreamsStartedTotal, t.streamsStarted)
	r.counter(mStreamsStoppedTotal, t.streamsStopped)
	r.counter(mMeetingsLockedTotal, t.meetingsLocked)
	r.counter(mMeetingsUnlockedTotal, t.meetingsUnlocked)
}

// meetingSizeBuckets are the upper bounds of cms_cluster_meeting_participants:
// from a two-party call to the largest meetings a cluster hosts.
var meetingSizeBuckets = [...]float64{2, 3, 5, 10, 20, 50, 100, 200, 500, 1000}

// meetingSizes is the histogram of participants per meeting, built at each
// scrape from the model (so it needs no per-call series).
type meetingSizes struct {
	counts [len(meetingSizeBuckets)]uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

func (h *meetingSizes) observe(participants int) {
	h.count++
	h.sum += float64(participants)
	if i, _ := slices.BinarySearch(meetingSizeBuckets[:], float64(participants)); i < len(h.counts) {
		h.counts[i]++
	}
}

func (h *meetingSizes) render(r *renderer) {
	buckets := make(map[float64]uint64, len(meetingSizeBuckets))
	var cum uint64
	for i, le := range meetingSizeBuckets {
		cum += h.counts[i]
		buckets[le] = cum
	}
	r.histogram(mClusterMeetingParticipants, h.count, h.sum, buckets)
}
