package collector

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// plan is what the planner last decided, as far as the model needs it:
// which connection feeds each meeting's roster (for coverage and for the
// labels of the per-call roster series) and the budget per connection.
type plan struct {
	placements map[string]planner.Connection
	skipped    map[string]bool
	excluded   map[string]bool
	// used counts the complete subscription set of each connection.
	used map[planner.Connection]int
	// limits are the subscriptions each connection may hold under the
	// planner's effective per-connection limit; a connection missing here
	// has CMS's planner.SubscriptionsPerConnection.
	limits map[planner.Connection]int
}

// PlanInput returns what the planner needs: every meeting (sorted by key),
// the nodes to avoid per meeting key (where the call a roster subscription
// would name is one whose subscription CMS deactivated), and the usable
// connections (sorted): connections that are up, and for connection 0 only
// while its calls subscription is live, because a node whose calls are not
// live may hold a stale view of which meetings it hosts. A meeting's key is
// its correlator (for a call without one, a "call:node/id" key that no
// correlator can take); its size is its participants as CMS counts them.
// Everything returned is a copy.
func (c *Collector) PlanInput() (meetings []planner.Meeting, avoid map[string]map[string]bool, usable []planner.Connection) {
	// It changes nothing: every batch interval, it must not make the last
	// render look stale.
	c.mu.lockUnchanged()
	defer c.mu.Unlock()
	meetings = make([]planner.Meeting, 0, len(c.meetings))
	avoid = make(map[string]map[string]bool)
	for _, m := range c.meetings {
		pm := planner.Meeting{Key: m.planKey, Calls: make(map[string]string, len(m.instances))}
		for _, cl := range m.instances {
			// CMS reports the cluster-wide count on every instance: max.
			pm.Size = max(pm.Size, cl.st.participants)
			if cl.st.name != "" && (pm.Name == "" || cl.st.name < pm.Name) {
				pm.Name = cl.st.name
			}
			if _, ok := pm.Calls[cl.node.name]; ok {
				continue
			}
			// The instance a subscription on this node names, as
			// placedInstance finds it. The node is avoided while that is
			// a call whose roster subscription CMS deactivated: asking
			// again would only be refused again. A new instance there,
			// or the refused one gone, ends it.
			on := m.instanceOn(cl.node.name)
			pm.Calls[cl.node.name] = on.id
			if on.rosterRefused {
				if avoid[m.planKey] == nil {
					avoid[m.planKey] = make(map[string]bool, 1)
				}
				avoid[m.planKey][cl.node.name] = true
			}
		}
		meetings = append(meetings, pm)
	}
	slices.SortFunc(meetings, func(a, b planner.Meeting) int { return strings.Compare(a.Key, b.Key) })
	for _, name := range c.sortedNodeNames() {
		n := c.nodes[name]
		for _, number := range n.connectionNumbers() {
			conn := n.connections[number]
			if conn.connected && (number != 0 || n.callsLive()) {
				usable = append(usable, planner.Connection{Node: name, Number: number})
			}
		}
	}
	return meetings, avoid, usable
}

// SetPlan tells the model the plan the planner just pushed to the clients,
// with the complete subscription set of each usable connection, for the
// coverage and budget metrics. Nothing passed is retained.
func (c *Collector) SetPlan(p planner.Plan, sets map[planner.Connection][]cmsws.Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plan = plan{
		placements: make(map[string]planner.Connection, len(p.Placements)),
		skipped:    toSet(p.Skipped),
		excluded:   toSet(p.Excluded),
		used:       make(map[planner.Connection]int, len(sets)),
		limits:     maps.Clone(p.Limits),
	}
	for key, pl := range p.Placements {
		c.plan.placements[key] = pl.Connection
	}
	for conn, set := range sets {
		c.plan.used[conn] = len(set)
	}
	c.pruneRosterSubscriptions()
	c.checkCoverage()
}

// toSet makes a set of keys.
func toSet(keys []string) map[string]bool {
	s := make(map[string]bool, len(keys))
	for _, k := range keys {
		s[k] = true
	}
	return s
}

// placedInstance returns the instance of m whose call the plan subscribes
// m's roster for, and the connection it subscribes it on. The instance is
// nil when the plan does not place m, or when the plan is older than m's
// move off that connection's node (the next plan fixes it).
func (c *Collector) placedInstance(m *meeting) (*call, planner.Connection) {
	on, ok := c.plan.placements[m.planKey]
	if !ok {
		return nil, on
	}
	return m.instanceOn(on.Node), on
}

// pruneRosterSubscriptions forgets the records of callRoster subscriptions
// the plan no longer wants. The client reports nothing when it drops a
// subscription from its set, so without this the records of every meeting
// that ever ended would pile up on a long-lived connection (and show in
// cms_events_subscriptions). A record goes after two consecutive plans
// without it: by then CMS has long processed the request that dropped it,
// so no update for it is still in flight.
func (c *Collector) pruneRosterSubscriptions() {
	want := make(map[planner.Connection]map[string]bool)
	for _, m := range c.meetings {
		cl, on := c.placedInstance(m)
		if cl == nil {
			continue
		}
		if want[on] == nil {
			want[on] = make(map[string]bool)
		}
		want[on][cl.id] = true
	}
	for _, n := range c.nodes {
		for _, conn := range n.connections {
			wanted := want[planner.Connection{Node: n.name, Number: conn.number}]
			for idx, s := range conn.subs {
				if s.feed == nil {
					continue
				}
				if wanted[s.call] {
					s.strikes = 0
					continue
				}
				if _, ended := n.ended[s.call]; ended && s.live && conn.number != 0 {
					// Its call ended, and its last leaves may still be on
					// their way behind a lagging connection: the record goes
					// after CMS deactivates it (see keepEnded).
					continue
				}
				s.strikes++
				if s.strikes < 2 {
					continue
				}
				delete(conn.subs, idx)
				if conn.rosters[s.call] == s {
					delete(conn.rosters, s.call)
				}
			}
		}
	}
}

// budgetRow is a connection's subscription budget as renderBudget shows it.
type budgetRow struct {
	conn        planner.Connection
	used, limit int
}

// snapBudget copies, per connection of a node in the model, the
// subscriptions the plan puts on it and its limit. Callers hold c.mu.
func (c *Collector) snapBudget() []budgetRow {
	rows := make([]budgetRow, 0, len(c.plan.used))
	for conn, used := range c.plan.used {
		if _, ok := c.nodes[conn.Node]; !ok {
			continue
		}
		limit, ok := c.plan.limits[conn]
		if !ok {
			limit = planner.SubscriptionsPerConnection
		}
		rows = append(rows, budgetRow{conn: conn, used: used, limit: limit})
	}
	return rows
}

// renderBudget renders, per connection, the subscriptions the plan puts on
// it and those still free under its limit.
func renderBudget(r *renderer, rows []budgetRow) {
	for _, b := range rows {
		number := strconv.Itoa(b.conn.Number)
		r.gauge(mBudgetUsed, float64(b.used), b.conn.Node, number)
		r.gauge(mBudgetLeft, float64(max(b.limit-b.used, 0)), b.conn.Node, number)
	}
}
