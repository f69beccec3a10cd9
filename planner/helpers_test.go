package planner

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
)

// callID is the call id the tests give a meeting on a node.
func callID(key, node string) string { return "call-" + key + "@" + node }

// meeting builds a meeting hosted on nodes, named like its key.
func meeting(key string, size int, nodes ...string) Meeting {
	m := Meeting{Key: key, Name: key, Size: size, Calls: map[string]string{}}
	for _, n := range nodes {
		m.Calls[n] = callID(key, n)
	}
	return m
}

// slots returns links 0..links-1 of every node.
func slots(links int, nodes ...string) []Slot {
	var out []Slot
	for _, n := range nodes {
		for l := range links {
			out = append(out, Slot{Node: n, Link: l})
		}
	}
	return out
}

func constCap(n int) func(Slot) int { return func(Slot) int { return n } }

// checkPlan verifies the invariants every plan must satisfy, against the
// input only (not against Compute's own bookkeeping).
func checkPlan(t *testing.T, in Input, p Plan) {
	t.Helper()
	capOf := in.Capacity
	if capOf == nil {
		capOf = DefaultCapacity
	}
	usable := map[Slot]bool{}
	for _, s := range in.Slots {
		usable[s] = true
	}
	count := map[Slot]int{}
	byKey := map[string]Meeting{}
	for _, m := range in.Meetings {
		if _, dup := byKey[m.Key]; !dup {
			byKey[m.Key] = m
		}
	}
	for key, pl := range p.Placements {
		m, ok := byKey[key]
		if !ok {
			t.Errorf("placement for unknown meeting %q", key)
			continue
		}
		if !usable[pl.Slot] {
			t.Errorf("meeting %q placed on unusable slot %v", key, pl.Slot)
		}
		if call := m.Calls[pl.Slot.Node]; call == "" || call != pl.Call {
			t.Errorf("meeting %q placed on %v with call %q; the node's call is %q", key, pl.Slot, pl.Call, call)
		}
		if in.Avoid[key][pl.Slot.Node] {
			t.Errorf("meeting %q placed on avoided node %s", key, pl.Slot.Node)
		}
		count[pl.Slot]++
	}
	for s, n := range count {
		if c := max(capOf(s), 0); n > c {
			t.Errorf("slot %v carries %d roster subscriptions, capacity %d", s, n, c)
		}
		if p.Used[s] != n {
			t.Errorf("Used[%v] = %d, placements there: %d", s, p.Used[s], n)
		}
	}
	for s, n := range p.Used {
		if n != count[s] {
			t.Errorf("Used[%v] = %d, placements there: %d", s, n, count[s])
		}
	}
	// Every meeting is in exactly one of placed, skipped, excluded.
	where := map[string]int{}
	for k := range p.Placements {
		where[k]++
	}
	for _, l := range [][]string{p.Skipped, p.Excluded} {
		if !sort.StringsAreSorted(l) {
			t.Errorf("list not sorted: %v", l)
		}
		for _, k := range l {
			where[k]++
		}
	}
	for k := range byKey {
		if where[k] != 1 {
			t.Errorf("meeting %q appears %d times across placed/skipped/excluded", k, where[k])
		}
	}
	if len(where) != len(byKey) {
		t.Errorf("plan names %d meetings, input has %d", len(where), len(byKey))
	}
}

// moves lists the meetings whose placement differs between a and b (only
// meetings placed in both).
func moves(a, b Plan) []string {
	var out []string
	for k, pa := range a.Placements {
		if pb, ok := b.Placements[k]; ok && pa != pb {
			out = append(out, fmt.Sprintf("%s: %v → %v", k, pa, pb))
		}
	}
	slices.Sort(out)
	return out
}

func placedKeys(p Plan) []string {
	return slices.Sorted(maps.Keys(p.Placements))
}
