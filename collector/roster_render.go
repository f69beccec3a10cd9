package collector

import (
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// rosterSnap is what renderRosters shows: the coverage, the cluster
// participant totals and the participant transition counters.
type rosterSnap struct {
	cv      coverage
	cluster [numFlags]int64
	totals  participantTotals
}

// snapRosters copies the participant metrics into s, and the coverage it
// counts on the way. It reads each meeting's aggregates, never its
// participants: O(meetings). Callers hold c.mu.
//
// A meeting's per-call roster series sit on the instance of the node its
// roster subscription is placed on, so they move with a re-home; a meeting
// that is not placed (skipped, excluded) shows none, since nothing keeps
// its roster current. The cluster totals cover only covered meetings.
func (c *Collector) snapRosters(s *modelSnapshot) rosterSnap {
	rs := rosterSnap{totals: c.participantTotals}
	for _, m := range c.meetings {
		state := c.meetingCoverage(m)
		rs.cv.count(state)
		ro := m.roster
		if ro == nil {
			continue
		}
		if state == coverCovered {
			for f, v := range ro.agg.flags {
				rs.cluster[f] += int64(v)
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
			s.rosters = append(s.rosters, rosterCopy{ro: ro, inst: inst, node: inst.node.name, id: inst.label, agg: ro.agg})
			continue
		}
		s.cached = append(s.cached, ro.rendered)
	}
	return rs
}

// renderRosters renders the cluster participant totals, the participant
// transition counters and the coverage.
func renderRosters(r *renderer, s *rosterSnap) {
	for f, m := range participantFlagMetrics {
		if m.cluster != noMetric {
			r.gauge(m.cluster, float64(s.cluster[f]))
		}
	}

	t := &s.totals
	r.counter(mParticipantsJoined, t.joined)
	r.counter(mParticipantsMoved, t.moved)
	for i, reason := range leaveReasons {
		r.counter(mParticipantsLeft, t.left[i], reason)
	}

	renderCoverage(r, s.cv)
}

// renderRoster builds a meeting's per-call roster series from its row (a
// copy: it runs without the lock).
func (c *Collector) renderRoster(cl *rosterCopy) []prometheus.Metric {
	nodeName, agg := cl.node, &cl.agg
	r := renderer{d: c.d, out: make([]prometheus.Metric, 0, numStates+numFlags)}
	for i, st := range participantStates {
		r.gauge(mCallRosterParticipants, float64(agg.states[i]), nodeName, cl.id, st)
	}
	for f, v := range agg.flags {
		r.gauge(participantFlagMetrics[f].call, float64(v), nodeName, cl.id)
	}
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "roster series dropped from the scrape", "node", nodeName, "call", cl.id, "err", r.err)
	}
	return r.out
}
