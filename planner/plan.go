package planner

import (
	"cmp"
	"regexp"
	"slices"
	"sort"
)

// SubscriptionsPerConnection is the CMS limit of subscriptions on one
// events connection [Events Guide]. The `calls` subscription on link 0
// counts against it.
const SubscriptionsPerConnection = 100

// DefaultCapacity is the roster budget of a slot: link 0 also carries the
// node's `calls` subscription, so it has one subscription less.
func DefaultCapacity(s Slot) int {
	if s.Link == 0 {
		return SubscriptionsPerConnection - 1
	}
	return SubscriptionsPerConnection
}

// Slot is one events connection: a node and its 0-based link number.
type Slot struct {
	Node string
	Link int
}

func compareSlots(a, b Slot) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Compare(a.Link, b.Link)
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
	// Slots are the usable connections: configured links of connected
	// nodes. Duplicates are ignored.
	Slots []Slot
	// Capacity is the number of roster subscriptions a slot may carry;
	// nil means DefaultCapacity. Negative values count as 0.
	Capacity func(Slot) int
	// Include and Exclude match Meeting.Name. An empty Include admits every
	// meeting; Exclude wins over Include. Nil entries are ignored.
	Include, Exclude []*regexp.Regexp
	// Avoid lists, per meeting key, the nodes not to use for it: its
	// roster subscription was deactivated there while the meeting went on.
	Avoid map[string]map[string]bool
}

// Placement is where one meeting's roster subscription goes.
type Placement struct {
	Slot Slot
	Call string // the call id of the meeting on Slot.Node
}

// Plan is the result of Compute.
type Plan struct {
	Placements map[string]Placement // meeting key → placement
	Skipped    []string             // eligible meetings left out (no budget or no usable hosting slot), sorted
	Excluded   []string             // meetings filtered out by the patterns, sorted
	Used       map[Slot]int         // roster subscriptions placed per usable slot (0 included)
	// Limits are the subscriptions each usable slot may hold in all: its
	// roster capacity plus its base set (the calls subscription on link
	// 0), so that what is free is Limits minus the set's length.
	Limits map[Slot]int
}

// candidate is one eligible meeting during Compute.
type candidate struct {
	m     *Meeting
	rank  int    // 4× the rank value, so that hysteresis stays in integers
	slots []Slot // usable slots on hosting, non-avoided nodes, sorted
	keep  *Placement
}

// Compute plans the roster subscriptions for in, starting from prev (the
// previous result, or the zero Plan).
//
// Meetings are ranked by size, largest first; a meeting placed in prev
// ranks as size*1.25+1, so that a newcomer must be clearly larger to take
// its place and sizes jittering around the cut-off do not cause churn. Ties
// go by key. In rank order, each meeting keeps its previous placement when
// that is still valid (same node still hosts it, node not avoided, slot
// usable, room left; a changed call id on the same node is re-pointed).
// Otherwise it goes to the hosting slot with the most room left, which
// spreads subscriptions over nodes. When no hosting slot has room, it
// displaces the lowest-ranked kept placement on one of its slots that ranks
// below it; the displaced meeting then looks for room elsewhere in turn.
//
// Compute is deterministic: the same input and prev give the same plan,
// whatever the order of Meetings and Slots. A plan fed back with unchanged
// input is a fixed point (nothing moves).
func Compute(in Input, prev Plan) Plan {
	capOf := in.Capacity
	if capOf == nil {
		capOf = DefaultCapacity
	}
	plan := Plan{Placements: map[string]Placement{}, Used: map[Slot]int{}, Limits: map[Slot]int{}}

	// Usable slots, their capacity, and each node's slots in link order.
	capacity := make(map[Slot]int, len(in.Slots))
	nodeSlots := map[string][]Slot{}
	for _, s := range in.Slots {
		if _, dup := capacity[s]; dup {
			continue
		}
		capacity[s] = max(capOf(s), 0)
		plan.Used[s] = 0
		plan.Limits[s] = capacity[s] + len(baseSet(s))
		nodeSlots[s.Node] = append(nodeSlots[s.Node], s)
	}
	for _, ss := range nodeSlots {
		slices.SortFunc(ss, compareSlots)
	}

	cands := make([]candidate, 0, len(in.Meetings))
	seen := make(map[string]bool, len(in.Meetings))
	for i := range in.Meetings {
		m := &in.Meetings[i]
		if seen[m.Key] {
			continue // duplicate key: the first one counts
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
			c.slots = append(c.slots, nodeSlots[node]...)
		}
		slices.SortFunc(c.slots, compareSlots)
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.rank != b.rank {
			return cmp.Compare(b.rank, a.rank)
		}
		return cmp.Compare(a.m.Key, b.m.Key)
	})

	// Reserve the previous placements that are still valid, in rank order
	// so that the lower-ranked ones lose out when a slot shrank. reserved
	// holds, per slot, the indexes (ascending) of the meetings holding a
	// reservation there.
	used := make(map[Slot]int, len(capacity))
	reserved := map[Slot][]int{}
	for i := range cands {
		c := &cands[i]
		p, ok := prev.Placements[c.m.Key]
		if !ok {
			continue
		}
		call := c.m.Calls[p.Slot.Node]
		if call == "" || !slices.Contains(c.slots, p.Slot) || used[p.Slot] >= capacity[p.Slot] {
			continue
		}
		c.keep = &Placement{Slot: p.Slot, Call: call}
		used[p.Slot]++
		reserved[p.Slot] = append(reserved[p.Slot], i)
	}

	for i := range cands {
		c := &cands[i]
		if c.keep != nil {
			plan.Placements[c.m.Key] = *c.keep
			continue
		}
		s, ok := roomiest(c.slots, used, capacity)
		if !ok {
			s, ok = displace(i, c.slots, reserved)
			if !ok {
				plan.Skipped = append(plan.Skipped, c.m.Key)
				continue
			}
			victim := &cands[popLast(reserved, s)]
			victim.keep = nil
			used[s]-- // freed by the victim, taken again below
		}
		used[s]++
		plan.Placements[c.m.Key] = Placement{Slot: s, Call: c.m.Calls[s.Node]}
	}

	for _, p := range plan.Placements {
		plan.Used[p.Slot]++
	}
	sort.Strings(plan.Skipped)
	sort.Strings(plan.Excluded)
	return plan
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

// roomiest returns the slot with the most room left; slots are sorted, so
// the first maximum is the tie-break by node name, then link.
func roomiest(slots []Slot, used, capacity map[Slot]int) (Slot, bool) {
	var best Slot
	bestRoom := 0
	for _, s := range slots {
		if room := capacity[s] - used[s]; room > bestRoom {
			best, bestRoom = s, room
		}
	}
	return best, bestRoom > 0
}

// displace finds, among slots, the one whose lowest-ranked reservation
// belongs to a meeting ranked below candidate i (a higher index), choosing
// the lowest-ranked such meeting overall: the one that would lose out
// anyway in a full budget. Reservations of meetings already processed stay.
func displace(i int, slots []Slot, reserved map[Slot][]int) (Slot, bool) {
	var best Slot
	bestIdx := i
	for _, s := range slots {
		r := reserved[s]
		if len(r) > 0 && r[len(r)-1] > bestIdx {
			best, bestIdx = s, r[len(r)-1]
		}
	}
	return best, bestIdx > i
}

func popLast(reserved map[Slot][]int, s Slot) int {
	r := reserved[s]
	last := r[len(r)-1]
	reserved[s] = r[:len(r)-1]
	return last
}
