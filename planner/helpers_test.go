package planner

import (
	"fmt"
	"maps"
	"slices"
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

// connections returns connections 0..perNode-1 of every node.
func connections(perNode int, nodes ...string) []Connection {
	var out []Connection
	for _, n := range nodes {
		for l := range perNode {
			out = append(out, Connection{Node: n, Number: l})
		}
	}
	return out
}

func constCap(n int) func(Connection) int { return func(Connection) int { return n } }

// checkPlan verifies the invariants every plan must satisfy, against the
// input only (not against Compute's own bookkeeping).
func checkPlan(t *testing.T, in Input, p Plan) {
	t.Helper()
	capOf := in.Capacity
	if capOf == nil {
		capOf = DefaultCapacity
	}
	usable := map[Connection]bool{}
	for _, s := range in.Connections {
		usable[s] = true
	}
	count := map[Connection]int{}
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
		if !usable[pl.Connection] {
			t.Errorf("meeting %q placed on unusable connection %v", key, pl.Connection)
		}
		if call := m.Calls[pl.Connection.Node]; call == "" || call != pl.Call {
			t.Errorf("meeting %q placed on %v with call %q; the node's call is %q", key, pl.Connection, pl.Call, call)
		}
		if in.Avoid[key][pl.Connection.Node] {
			t.Errorf("meeting %q placed on avoided node %s", key, pl.Connection.Node)
		}
		count[pl.Connection]++
	}
	for s, n := range count {
		if c := max(capOf(s), 0); n > c {
			t.Errorf("connection %v carries %d roster subscriptions, capacity %d", s, n, c)
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
		if !slices.IsSorted(l) {
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
