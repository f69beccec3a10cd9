package collector

import (
	"cmp"
	"slices"
	"time"

	"github.com/cms-exporter/cms_exporter/planner"
)

// Status is a copy of what the exporter's status page shows of the model:
// per node its connections and their health, per cluster its meetings and
// the coverage of their rosters. It is a plain value, safe to keep and to
// render without any lock.
type Status struct {
	Nodes []NodeStatus
	// Meetings and Participants are what cms_cluster_meetings (summed over
	// call types) and cms_cluster_participants show.
	Meetings, Participants int
	// Coverage counts the meetings by roster coverage state, as
	// cms_roster_meetings does; Ratio is cms_roster_coverage_ratio.
	Covered, Pending, Skipped, Excluded int
	Ratio                               float64
	// Names is the meeting_names mode the names of Largest follow.
	Names NameMode
	// Largest are the largest meetings, most participants first (ties by
	// name, then key), at most the number asked for.
	Largest []MeetingStatus
}

// NodeStatus is one node as the status page shows it.
type NodeStatus struct {
	Name string
	// Up, Connected and Synced are cms_up, cms_events_connected and
	// cms_events_synced.
	Up, Connected, Synced bool
	Calls                 int
	// Capacity is the stated capacity_participants, 0 when not stated.
	Capacity int
	// LastMessage is when the node's last message arrived (zero: none).
	LastMessage time.Time
	// ProbeLatency is the last acked probe's round trip; Probes counts
	// them (0: none yet, the latency means nothing).
	ProbeLatency time.Duration
	Probes       int
	// LastError is the last connect failure or disconnect of any of the
	// node's connections ("" when none), with its reason class and time.
	LastError       string
	LastErrorReason string
	LastErrorAt     time.Time
	Connections     []ConnectionStatus
}

// ConnectionStatus is one events connection of a node.
type ConnectionStatus struct {
	Number    int
	Connected bool
	// Used and Limit are the subscriptions the last plan puts on the
	// connection and the most it may hold (cms_subscription_budget_used,
	// and used plus cms_subscription_budget_left); Planned says the plan
	// counted the connection at all (a connection that is down is not).
	Used, Limit int
	Planned     bool
}

// MeetingStatus is one meeting of the Largest list.
type MeetingStatus struct {
	// Name is the name as the name label of cms_call_info shows it under
	// the configured meeting_names mode: hashed or empty when names are
	// hidden from /metrics.
	Name         string
	Participants int
	// Nodes are the nodes hosting an instance, sorted.
	Nodes []string
	// Coverage is the meeting's cms_roster_meetings state: covered
	// (its roster is watched), pending, skipped or excluded.
	Coverage string
	// WatchedOn is the node and connection the plan placed the roster
	// subscription on (zero when not placed).
	WatchedOn planner.Connection
	Placed    bool
}

// statusMeeting is a meeting's row copied under the lock; the name is
// turned into its label value after, and only for the meetings shown.
type statusMeeting struct {
	key          string
	raw          string
	participants int
	nodes        []string
	coverage     string
	on           planner.Connection
	placed       bool
}

// Status copies the model for the status page, with at most largest
// meetings in Status.Largest. It holds the model lock only to copy (one
// row per node, connection and meeting); sorting, picking and naming
// happen after, so a page view costs the event streams no more than a
// scrape does.
func (c *Collector) Status(largest int) Status {
	c.mu.lockUnchanged()
	var s Status
	mode := c.names
	s.Names = mode
	rows := make([]statusMeeting, 0, len(c.meetings))
	for _, m := range c.meetings {
		st := m.state()
		row := statusMeeting{key: m.planKey, participants: st.participants, coverage: c.meetingCoverage(m)}
		for _, cl := range m.instances {
			if cl.st.name != "" && (row.raw == "" || cl.st.name < row.raw) {
				row.raw = cl.st.name
			}
			if !slices.Contains(row.nodes, cl.node.name) {
				row.nodes = append(row.nodes, cl.node.name)
			}
		}
		row.on, row.placed = c.plan.placements[m.planKey]
		rows = append(rows, row)
		s.Participants += st.participants
	}
	s.Meetings = len(c.meetings)
	for _, name := range c.sortedNodeNames() {
		s.Nodes = append(s.Nodes, c.nodeStatus(c.nodes[name]))
	}
	c.mu.Unlock()

	for _, r := range rows {
		switch r.coverage {
		case coverCovered:
			s.Covered++
		case coverPending:
			s.Pending++
		case coverSkipped:
			s.Skipped++
		case coverExcluded:
			s.Excluded++
		}
	}
	s.Ratio = coverage{covered: s.Covered, pending: s.Pending, skipped: s.Skipped, excluded: s.Excluded}.ratio()
	slices.SortFunc(rows, func(a, b statusMeeting) int {
		return cmp.Or(cmp.Compare(b.participants, a.participants), cmp.Compare(a.raw, b.raw), cmp.Compare(a.key, b.key))
	})
	for _, r := range rows[:min(largest, len(rows))] {
		slices.Sort(r.nodes)
		s.Largest = append(s.Largest, MeetingStatus{Name: nameLabel(mode, r.raw), Participants: r.participants,
			Nodes: r.nodes, Coverage: r.coverage, WatchedOn: r.on, Placed: r.placed})
	}
	return s
}

// nodeStatus copies one node. Callers hold c.mu.
func (c *Collector) nodeStatus(n *node) NodeStatus {
	primary := n.primary()
	ns := NodeStatus{
		Name: n.name, Up: n.callsLive(), Connected: primary.connected, Synced: n.synced && primary.connected,
		Calls: len(n.calls), Capacity: n.capacity, LastMessage: n.stats.lastMessage,
		ProbeLatency: n.stats.probeLatency, Probes: int(n.stats.probes),
		LastError: n.lastError.err, LastErrorReason: n.lastError.reason, LastErrorAt: n.lastError.at,
	}
	numbers := n.connectionNumbers()
	for conn := range c.plan.used {
		if conn.Node == n.name && !slices.Contains(numbers, conn.Number) {
			numbers = append(numbers, conn.Number)
		}
	}
	slices.Sort(numbers)
	for _, number := range numbers {
		cs := ConnectionStatus{Number: number}
		if conn := n.connections[number]; conn != nil {
			cs.Connected = conn.connected
		}
		pc := planner.Connection{Node: n.name, Number: number}
		cs.Used, cs.Planned = c.plan.used[pc]
		cs.Limit = planner.SubscriptionsPerConnection
		if l, ok := c.plan.limits[pc]; ok {
			cs.Limit = l
		}
		ns.Connections = append(ns.Connections, cs)
	}
	return ns
}
