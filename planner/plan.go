package planner

import (
	"cmp"
	"regexp"
	"slices"
)

// SubscriptionsPerConnection is the CMS limit of subscriptions on one
// events connection [Events Guide]. The `calls` subscription on connection 0
// counts against it.
const SubscriptionsPerConnection = 100

// DefaultCapacity is the roster budget of a connection: connection 0 also
// carries the node's `calls` subscription, so it has one subscription less.
func DefaultCapacity(s Connection) int {
	if s.Number == 0 {
		return SubscriptionsPerConnection - 1
	}
	return SubscriptionsPerConnection
}

// Connection names one events connection: a node and the connection's
// 0-based number among the node's connections (the `connection` label).
type Connection struct {
	Node   string
	Number int
}

func compareConnections(a, b Connection) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Compare(a.Number, b.Number)
}

// Meeting is one meeting: the call instances that share a callCorrelator.
type Meeting struct {
	Key   string            // meeting key (callCorrelator)
	Name  string            // matched by the include/exclude patterns
	Size  int               // participants (cluster-wide count)
	Calls map[string]string // hosting node → that node's call id
}

// Input is everything Compute decides from, besides the previous plan.
type Input struct {
	Meetings []Meeting
	// Connections are the usable connections: configured connections of
	// connected nodes. Duplicates are ignored.
	Connections []Connection
	// Capacity is the number of roster subscriptions a connection may carry;
	// nil means DefaultCapacity. Negative values count as 0.
	Capacity func(Connection) int
	// Include and Exclude match Meeting.Name. An empty Include admits every
	// meeting; Exclude wins over Include. Nil entries are ignored.
	Include, Exclude []*regexp.Regexp
	// Avoid lists, per meeting key, the nodes not to use for it: its
	// roster subscription was deactivated there while the meeting went on.
	Avoid map[string]map[string]bool
}

// Placement is where one meeting's roster subscription goes.
type Placement struct {
	Connection Connection
	Call       string // the call id of the meeting on Connection.Node
}

// Plan is the result of Compute.
type Plan struct {
	Placements map[string]Placement // meeting key → placement
	// Skipped are the eligible meetings left out (no budget or no usable
	// hosting connection), sorted; Excluded those filtered out by the
	// patterns, sorted.
	Skipped, Excluded []string
	// Used counts the roster subscriptions placed per usable connection (0
	// included).
	Used map[Connection]int
	// Limits are the subscriptions each usable connection may hold in all:
	// its roster capacity plus its base set (the calls subscription on
	// connection 0), so that what is free is Limits minus the set's length.
	Limits map[Connection]int
}

// candidate is one eligible meeting during Compute.
type candidate struct {
	m           *Meeting
	rank        int          // 4× the rank value, so that hysteresis stays in integers
	connections []Connection // usable connections on hosting, non-avoided nodes, sorted
	keep        *Placement
}

// Compute plans the roster subscriptions for in, starting from prev (the
// previous result, or the zero Plan).
//
// Meetings are ranked by size, largest first; a meeting placed in prev
// ranks as size*1.25+1, so that a newcomer must be clearly larger to take
// its place and sizes jittering around the cut-off do not cause churn. Ties
// go by key. In rank order, each meeting keeps its previous placement when
// that is still valid (same node still hosts it, node not avoided,
// connection usable, room left; a changed call id on the same node is
// re-pointed). Otherwise it goes to the hosting connection with the most
// room left, which spreads subscriptions over nodes. When no hosting
// connection has room, it displaces the lowest-ranked kept placement on one
// of its connections that ranks below it; the displaced meeting then looks
// for room elsewhere in turn.
//
// Compute is deterministic: the same input and prev give the same plan,
// whatever the order of Meetings and Connections. A plan fed back with
// unchanged input is a fixed point (nothing moves).
func Compute(in Input, prev Plan) Plan {
	plan := Plan{Placements: map[string]Placement{}, Used: map[Connection]int{}, Limits: map[Connection]int{}}
	capacity, byNode := usable(in, &plan)
	cands := candidates(in, prev, byNode, &plan)
	used, reserved := reserve(cands, prev, capacity)

	for i := range cands {
		c := &cands[i]
		if c.keep != nil {
			plan.Placements[c.m.Key] = *c.keep
			continue
		}
		s, ok := roomiest(c.connections, used, capacity)
		if !ok {
			s, ok = displace(i, c.connections, reserved)
			if !ok {
				plan.Skipped = append(plan.Skipped, c.m.Key)
				continue
			}
			// The victim ranks below i: the loop reaches it later, and
			// without its reservation it looks for room elsewhere.
			victim := &cands[popLast(reserved, s)]
			victim.keep = nil
			used[s]-- // freed by the victim, taken again below
		}
		used[s]++
		plan.Placements[c.m.Key] = Placement{Connection: s, Call: c.m.Calls[s.Node]}
	}

	for _, p := range plan.Placements {
		plan.Used[p.Connection]++
	}
	slices.Sort(plan.Skipped)
	slices.Sort(plan.Excluded)
	return plan
}

// usable returns the roster capacity of every usable connection (duplicates
// ignored) and each node's usable connections in number order, and enters
// every usable connection in plan.Used (at 0) and plan.Limits.
func usable(in Input, plan *Plan) (capacity map[Connection]int, byNode map[string][]Connection) {
	capOf := in.Capacity
	if capOf == nil {
		capOf = DefaultCapacity
	}
	capacity = make(map[Connection]int, len(in.Connections))
	byNode = map[string][]Connection{}
	for _, s := range in.Connections {
		if _, dup := capacity[s]; dup {
			continue
		}
		capacity[s] = max(capOf(s), 0)
		plan.Used[s] = 0
		plan.Limits[s] = capacity[s] + len(BaseSet(s.Number))
		byNode[s.Node] = append(byNode[s.Node], s)
	}
	for _, ss := range byNode {
		slices.SortFunc(ss, compareConnections)
	}
	return capacity, byNode
}

// candidates returns the eligible meetings in rank order (the first of a
// duplicated key counts), each with the usable connections of its hosting,
// non-avoided nodes; the others go to plan.Excluded.
func candidates(in Input, prev Plan, byNode map[string][]Connection, plan *Plan) []candidate {
	cands := make([]candidate, 0, len(in.Meetings))
	seen := make(map[string]bool, len(in.Meetings))
	for i := range in.Meetings {
		m := &in.Meetings[i]
		if seen[m.Key] {
			continue
		}
		seen[m.Key] = true
		if !eligible(m.Name, in.Include, in.Exclude) {
			plan.Excluded = append(plan.Excluded, m.Key)
			continue
		}
		c := candidate{m: m, rank: 4 * max(m.Size, 0)}
		if _, ok := prev.Placements[m.Key]; ok {
			c.rank = 5*max(m.Size, 0) + 4 // (size*1.25+1)*4
		}
		avoid := in.Avoid[m.Key]
		for node, call := range m.Calls {
			if call == "" || avoid[node] {
				continue
			}
			c.connections = append(c.connections, byNode[node]...)
		}
		slices.SortFunc(c.connections, compareConnections)
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.rank != b.rank {
			return cmp.Compare(b.rank, a.rank)
		}
		return cmp.Compare(a.m.Key, b.m.Key)
	})
	return cands
}

// reserve keeps the previous placements that are still valid, in rank
// order so that the lower-ranked ones lose out when a connection shrank,
// and returns the reservations counted per connection (used) and, per
// connection, the indexes (ascending) of the candidates holding them.
func reserve(cands []candidate, prev Plan, capacity map[Connection]int) (used map[Connection]int, reserved map[Connection][]int) {
	used = make(map[Connection]int, len(capacity))
	reserved = map[Connection][]int{}
	for i := range cands {
		c := &cands[i]
		p, ok := prev.Placements[c.m.Key]
		if !ok {
			continue
		}
		call := c.m.Calls[p.Connection.Node]
		if call == "" || !slices.Contains(c.connections, p.Connection) || used[p.Connection] >= capacity[p.Connection] {
			continue
		}
		c.keep = &Placement{Connection: p.Connection, Call: call}
		used[p.Connection]++
		reserved[p.Connection] = append(reserved[p.Connection], i)
	}
	return used, reserved
}

// eligible applies the include/exclude patterns to a meeting name.
func eligible(name string, include, exclude []*regexp.Regexp) bool {
	for _, re := range exclude {
		if re != nil && re.MatchString(name) {
			return false
		}
	}
	admitted, any := false, false
	for _, re := range include {
		if re == nil {
			continue
		}
		any = true
		if re.MatchString(name) {
			admitted = true
			break
		}
	}
	return admitted || !any
}

// roomiest returns the connection with the most room left; connections are
// sorted, so the first maximum is the tie-break by node name, then number.
func roomiest(connections []Connection, used, capacity map[Connection]int) (Connection, bool) {
	var best Connection
	bestRoom := 0
	for _, s := range connections {
		if room := capacity[s] - used[s]; room > bestRoom {
			best, bestRoom = s, room
		}
	}
	return best, bestRoom > 0
}

// displace finds, among connections, the one whose lowest-ranked reservation
// belongs to a meeting ranked below candidate i (a higher index), choosing
// the lowest-ranked such meeting overall: the one that would lose out
// anyway in a full budget. Reservations of meetings already processed stay.
func displace(i int, connections []Connection, reserved map[Connection][]int) (Connection, bool) {
	var best Connection
	bestIdx := i
	for _, s := range connections {
		r := reserved[s]
		if len(r) > 0 && r[len(r)-1] > bestIdx {
			best, bestIdx = s, r[len(r)-1]
		}
	}
	return best, bestIdx > i
}

func popLast(reserved map[Connection][]int, s Connection) int {
	r := reserved[s]
	last := r[len(r)-1]
	reserved[s] = r[:len(r)-1]
	return last
}
