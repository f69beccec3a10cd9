package collector

import (
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// renderRosters renders the participant metrics, and the coverage it
// counts on the way. It reads each meeting's aggregates, never its
// participants: O(meetings).
//
// A meeting's per-call roster series sit on the instance of the node its
// roster subscription is placed on, so they move with a re-home; a meeting
// that is not placed (skipped, excluded) shows none, since nothing keeps
// its roster current. The cluster totals cover only covered meetings.
func (c *Collector) renderRosters(r *renderer) {
	var (
		cv      coverage
		cluster [numFlags]int64
	)
	for _, m := range c.meetings {
		state := c.meetingCoverage(m)
		cv.count(state)
		ro := m.roster
		if ro == nil {
			continue
		}
		if state == coverCovered {
			for f, v := range ro.agg.flags {
				cluster[f] += int64(v)
			}
		}
		if !c.perCall {
			continue
		}
		inst, _ := c.placedInstance(m)
		if inst == nil {
			continue
		}
		if ro.rendered == nil || ro.renderedFor != inst {
			ro.rendered = c.renderRoster(inst, ro)
			ro.renderedFor = inst
		}
		r.out = append(r.out, ro.rendered...)
	}
	for f, m := range participantFlagMetrics {
		if m.cluster != noMetric {
			r.gauge(m.cluster, float64(cluster[f]))
		}
	}

	t := &c.participantTotals
	r.counter(mParticipantsJoined, t.joined)
	r.counter(mParticipantsMoved, t.moved)
	for i, reason := range leaveReasons {
		r.counter(mParticipantsLeft, t.left[i], reason)
	}

	renderCoverage(r, cv)
}

// renderRoster builds a meeting's per-call roster series on instance cl.
func (c *Collector) renderRoster(cl *call, ro *roster) []prometheus.Metric {
	nodeName := cl.node.name
	r := renderer{d: c.d, out: make([]prometheus.Metric, 0, numStates+numFlags)}
	for i, st := range participantStates {
		r.gauge(mCallRosterParticipants, float64(ro.agg.states[i]), nodeName, cl.label, st)
	}
	for f, v := range ro.agg.flags {
		r.gauge(participantFlagMetrics[f].call, float64(v), nodeName, cl.label)
	}
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "roster series dropped from the scrape", "node", nodeName, "call", cl.label, "err", r.err)
	}
	return r.out
}
