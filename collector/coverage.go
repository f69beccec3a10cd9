package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/planner"
)

// Coverage states of a meeting (cms_roster_meetings{state}).
const (
	coverCovered  = "covered"
	coverPending  = "pending"
	coverSkipped  = "skipped"
	coverExcluded = "excluded"
)

var coverStates = []string{coverCovered, coverPending, coverSkipped, coverExcluded}

// coverage counts the meetings by coverage state.
type coverage struct {
	covered, pending, skipped, excluded int
}

// ratio is covered / eligible meetings, 1 when none is eligible.
func (cv coverage) ratio() float64 {
	eligible := cv.covered + cv.pending + cv.skipped
	if eligible == 0 {
		return 1
	}
	return float64(cv.covered) / float64(eligible)
}

func (cv *coverage) count(state string) {
	switch state {
	case coverCovered:
		cv.covered++
	case coverPending:
		cv.pending++
	case coverSkipped:
		cv.skipped++
	case coverExcluded:
		cv.excluded++
	}
}

func (cv coverage) of(state string) int {
	switch state {
	case coverCovered:
		return cv.covered
	case coverPending:
		return cv.pending
	case coverSkipped:
		return cv.skipped
	}
	return cv.excluded
}

// meetingCoverage classifies a meeting. A meeting the plan does not mention
// (it started after the last plan) is pending: it is eligible and not yet
// covered. Callers hold c.mu. O(instances).
func (c *Collector) meetingCoverage(m *meeting) string {
	key := m.planKey
	if c.plan.excluded[key] {
		return coverExcluded
	}
	if on, ok := c.plan.placements[key]; ok {
		if c.isCovered(m, on) {
			return coverCovered
		}
		return coverPending
	}
	if c.plan.skipped[key] {
		return coverSkipped
	}
	return coverPending
}

// isCovered: the meeting's roster subscription on the connection the plan
// placed it on is active and past its snapshot, so its roster is live and
// complete.
func (c *Collector) isCovered(m *meeting, on planner.Connection) bool {
	n := c.nodes[on.Node]
	if n == nil {
		return false
	}
	conn := n.connections[on.Number]
	if conn == nil || !conn.connected {
		return false
	}
	for _, cl := range m.instances {
		if cl.node != n {
			continue
		}
		if s := conn.rosters[cl.id]; s != nil && s.live && !s.feed.snapshot {
			return true
		}
	}
	return false
}

// countCoverage counts every meeting's state. O(meetings).
func (c *Collector) countCoverage() coverage {
	var cv coverage
	for _, m := range c.meetings {
		cv.count(c.meetingCoverage(m))
	}
	return cv
}

// checkCoverage logs when coverage drops below 1 and when it is back to 1,
// never the steady state: a partial view must not be silent, and a healthy
// one must not be noisy.
func (c *Collector) checkCoverage() {
	if c.plan.placements == nil {
		// No plan yet: nobody asked for rosters, so there is no coverage
		// to lose (the ratio still says 0 when there are meetings).
		return
	}
	cv := c.countCoverage()
	full := cv.ratio() == 1
	if full == c.coverageFull {
		return
	}
	c.coverageFull = full
	msg := "roster coverage complete"
	if !full {
		msg = "roster coverage partial: some meetings' participants are not observed"
	}
	level.Info(c.logger).Log("msg", msg, "ratio", cv.ratio(), "covered", cv.covered, "pending", cv.pending,
		"skipped", cv.skipped, "excluded", cv.excluded)
}

// renderCoverage renders the coverage ratio and the meetings by coverage
// state.
func renderCoverage(r *renderer, cv coverage) {
	r.gauge(mRosterCoverage, cv.ratio())
	for _, st := range coverStates {
		r.gauge(mRosterMeetings, float64(cv.of(st)), st)
	}
}
