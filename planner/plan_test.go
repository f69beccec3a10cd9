package planner

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

func TestDefaultCapacity(t *testing.T) {
	if got := DefaultCapacity(Connection{"a", 0}); got != 99 {
		t.Errorf("connection 0: %d, want 99 (the calls subscription takes one)", got)
	}
	for l := 1; l < 4; l++ {
		if got := DefaultCapacity(Connection{"a", l}); got != 100 {
			t.Errorf("connection %d: %d, want 100", l, got)
		}
	}
}

// Limits are what each usable connection may hold in all: its roster capacity
// plus the calls subscription on connection 0. With CMS's budget that is 100 on
// every connection; with a smaller configured one (the demo's 3) it is that
// plus the calls subscription, so used + left tells the truth.
func TestLimits(t *testing.T) {
	connections := []Connection{{"a", 0}, {"a", 1}, {"b", 0}}
	for _, c := range []struct {
		name     string
		capacity func(Connection) int
		want     map[Connection]int
	}{
		{"CMS", nil, map[Connection]int{{"a", 0}: 100, {"a", 1}: 100, {"b", 0}: 100}},
		{"three per connection", func(Connection) int { return 3 }, map[Connection]int{{"a", 0}: 4, {"a", 1}: 3, {"b", 0}: 4}},
		{"negative counts as none", func(Connection) int { return -5 }, map[Connection]int{{"a", 0}: 1, {"a", 1}: 0, {"b", 0}: 1}},
	} {
		p := Compute(Input{Meetings: []Meeting{meeting("m", 5, "a", "b")}, Connections: connections, Capacity: c.capacity}, Plan{})
		if !maps.Equal(p.Limits, c.want) {
			t.Errorf("%s: limits %v, want %v", c.name, p.Limits, c.want)
		}
		for s, set := range Subscriptions(p, connections) {
			if len(set) > p.Limits[s] && p.Limits[s] > 0 {
				t.Errorf("%s: connection %v holds %d subscriptions, limit %d", c.name, s, len(set), p.Limits[s])
			}
		}
	}
}

// threeHundred returns 300 meetings with distinct sizes 1..300, meeting i
// hosted on node i%3 (so each node hosts 100, and the smallest of each
// node's meetings are the three smallest overall).
func threeHundred(allNodes bool) []Meeting {
	nodes := []string{"cb1", "cb2", "cb3"}
	ms := make([]Meeting, 0, 300)
	for i := range 300 {
		key := fmt.Sprintf("m%03d", i)
		if allNodes {
			ms = append(ms, meeting(key, i+1, nodes...))
		} else {
			ms = append(ms, meeting(key, i+1, nodes[i%3]))
		}
	}
	return ms
}

func TestThreeHundredMeetings(t *testing.T) {
	for _, tc := range []struct {
		name        string
		connections int
		allNodes    bool
		skipped     []string
	}{
		{"1 connection, each meeting on one node", 1, false, []string{"m000", "m001", "m002"}},
		{"1 connection, each meeting on all nodes", 1, true, []string{"m000", "m001", "m002"}},
		{"2 connections, each meeting on one node", 2, false, nil},
		{"2 connections, each meeting on all nodes", 2, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Meetings: threeHundred(tc.allNodes), Connections: connections(tc.connections, "cb1", "cb2", "cb3")}
			p := Compute(in, Plan{})
			checkPlan(t, in, p)
			if !slices.Equal(p.Skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", p.Skipped, tc.skipped)
			}
			if want := 300 - len(tc.skipped); len(p.Placements) != want {
				t.Errorf("%d placed, want %d", len(p.Placements), want)
			}
			// Fed back, nothing moves.
			p2 := Compute(in, p)
			if !reflect.DeepEqual(p, p2) {
				t.Errorf("second Compute differs; moves: %v", moves(p, p2))
			}
		})
	}
}

func TestLargestFirstWhenShort(t *testing.T) {
	// One connection for 3 roster subscriptions; 6 meetings.
	in := Input{
		Meetings: []Meeting{
			meeting("a", 5, "n"), meeting("b", 50, "n"), meeting("c", 7, "n"),
			meeting("d", 40, "n"), meeting("e", 7, "n"), meeting("f", 1, "n"),
		},
		Connections: connections(1, "n"),
		Capacity:    constCap(3),
	}
	p := Compute(in, Plan{})
	checkPlan(t, in, p)
	// b(50), d(40), then c and e tie at 7: key order picks c.
	if got, want := placedKeys(p), []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("placed %v, want %v", got, want)
	}
	if want := []string{"a", "e", "f"}; !slices.Equal(p.Skipped, want) {
		t.Errorf("skipped %v, want %v", p.Skipped, want)
	}
}

func TestSpreadAcrossNodes(t *testing.T) {
	// A meeting hosted on all nodes goes to the node with the most room.
	in := Input{
		Meetings: []Meeting{
			meeting("x1", 10, "a"), meeting("x2", 10, "a"), meeting("y1", 10, "b"),
			meeting("big", 5, "a", "b", "c"),
		},
		Connections: connections(1, "a", "b", "c"),
		Capacity:    constCap(10),
	}
	in.Meetings = append(in.Meetings, meeting("c1", 10, "c"))
	p := Compute(in, Plan{})
	checkPlan(t, in, p)
	// Before "big" (the smallest, placed last): a has 8 left, b 9, c 9 → b
	// (tie between b and c broken by node name).
	if got := p.Placements["big"].Connection; got != (Connection{"b", 0}) {
		t.Errorf("big placed on %v, want b/0", got)
	}

	// Many meetings hosted everywhere spread evenly.
	var ms []Meeting
	for i := range 30 {
		ms = append(ms, meeting(fmt.Sprintf("m%02d", i), 100-i, "a", "b", "c"))
	}
	in = Input{Meetings: ms, Connections: connections(1, "a", "b", "c")}
	p = Compute(in, Plan{})
	checkPlan(t, in, p)
	for _, s := range in.Connections {
		if p.Used[s] != 10 {
			t.Errorf("connection %v carries %d, want 10 (even spread)", s, p.Used[s])
		}
	}

	// With two connections, connection 1 (100 free) is preferred over connection 0 (99) on
	// the same node, and the emptiest connection wins over a tie in node name.
	in = Input{Meetings: []Meeting{meeting("m", 1, "a")}, Connections: connections(2, "a")}
	p = Compute(in, Plan{})
	if got := p.Placements["m"].Connection; got != (Connection{"a", 1}) {
		t.Errorf("placed on %v, want a/1 (most room)", got)
	}
}

func TestStableWhenUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := randomInput(r)
	p := Compute(in, Plan{})
	for range 5 {
		next := Compute(in, p)
		if mv := moves(p, next); len(mv) > 0 {
			t.Fatalf("moves with unchanged input: %v", mv)
		}
		if !reflect.DeepEqual(p, next) {
			t.Fatalf("plan changed with unchanged input")
		}
		p = next
	}
}

func TestHysteresis(t *testing.T) {
	base := func(sizes map[string]int) Input {
		var ms []Meeting
		for k, n := range sizes {
			ms = append(ms, meeting(k, n, "n"))
		}
		return Input{Meetings: ms, Connections: connections(1, "n"), Capacity: constCap(2)}
	}
	p := Compute(base(map[string]int{"a": 10, "b": 10, "c": 10}), Plan{})
	if got := placedKeys(p); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("placed %v, want [a b]", got)
	}

	// Jitter around the cut-off: the incumbents keep their places.
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		sizes := map[string]int{"a": 9 + r.IntN(3), "b": 9 + r.IntN(3), "c": 9 + r.IntN(3)}
		in := base(sizes)
		next := Compute(in, p)
		checkPlan(t, in, next)
		if got := placedKeys(next); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("round %d, sizes %v: placed %v, want [a b]", i, sizes, got)
		}
		p = next
	}

	// 13 is not clearly larger than 10 (10*1.25+1 = 13.5); 14 is, and
	// displaces the incumbent ranked last (b: tie with a, broken by key).
	p13 := Compute(base(map[string]int{"a": 10, "b": 10, "c": 13}), p)
	if got := placedKeys(p13); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("c=13: placed %v, want [a b]", got)
	}
	p14 := Compute(base(map[string]int{"a": 10, "b": 10, "c": 14}), p)
	if got := placedKeys(p14); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("c=14: placed %v, want [a c]", got)
	}
	if mv := moves(p, p14); len(mv) > 0 {
		t.Errorf("the kept incumbent moved: %v", mv)
	}
}

func TestNewcomerDoesNotPushIncumbentAround(t *testing.T) {
	// x (small) is on a/0; a newcomer larger than x hosted on a and b must
	// not take a's room in a way that moves x: there is room on both.
	in := Input{
		Meetings:    []Meeting{meeting("x", 1, "a", "b")},
		Connections: connections(1, "a", "b"),
		Capacity:    constCap(2),
	}
	p := Compute(in, Plan{})
	home := p.Placements["x"]
	in.Meetings = append(in.Meetings, meeting("y", 50, "a", "b"), meeting("z", 40, "a", "b"))
	p2 := Compute(in, p)
	checkPlan(t, in, p2)
	if p2.Placements["x"] != home {
		t.Errorf("x moved from %v to %v without cause", home, p2.Placements["x"])
	}
	if len(p2.Placements) != 3 {
		t.Errorf("placed %v, want all three", placedKeys(p2))
	}

	// Full budget: a clearly larger newcomer displaces x, which re-homes
	// if there is room elsewhere; here there is none, so x is skipped.
	in.Meetings = append(in.Meetings, meeting("v", 31, "a", "b"), meeting("w", 30, "a", "b"))
	p3 := Compute(in, p2)
	checkPlan(t, in, p3)
	if _, ok := p3.Placements["x"]; ok || !slices.Equal(p3.Skipped, []string{"x"}) {
		t.Errorf("placed %v skipped %v; want x skipped", placedKeys(p3), p3.Skipped)
	}
	if mv := moves(p2, p3); len(mv) > 0 {
		t.Errorf("incumbents moved: %v", mv)
	}
}

func TestRehome(t *testing.T) {
	in := Input{
		Meetings:    []Meeting{meeting("m", 20, "a", "b", "c")},
		Connections: connections(1, "a", "b", "c"),
	}
	p := Compute(in, Plan{})
	home := p.Placements["m"].Connection.Node
	if home != "a" {
		t.Fatalf("first placement on %s, want a (tie by node name)", home)
	}

	t.Run("node stops hosting", func(t *testing.T) {
		in := in
		in.Meetings = []Meeting{meeting("m", 20, "b", "c")}
		p2 := Compute(in, p)
		checkPlan(t, in, p2)
		if got := p2.Placements["m"]; got.Connection.Node == "a" || got.Call != callID("m", got.Connection.Node) {
			t.Errorf("placement %v, want re-homed off a with that node's call id", got)
		}
	})
	t.Run("avoided", func(t *testing.T) {
		in := in
		in.Avoid = map[string]map[string]bool{"m": {"a": true, "b": true}}
		p2 := Compute(in, p)
		checkPlan(t, in, p2)
		if got := p2.Placements["m"].Connection; got != (Connection{"c", 0}) {
			t.Errorf("placed on %v, want c/0", got)
		}
		in.Avoid["m"]["c"] = true
		p3 := Compute(in, p2)
		checkPlan(t, in, p3)
		if !slices.Equal(p3.Skipped, []string{"m"}) {
			t.Errorf("avoided everywhere: skipped %v, want [m]", p3.Skipped)
		}
	})
	t.Run("connection gone", func(t *testing.T) {
		in := in
		in.Connections = connections(1, "b", "c")
		p2 := Compute(in, p)
		checkPlan(t, in, p2)
		if got := p2.Placements["m"].Connection; got.Node == "a" {
			t.Errorf("still on %v", got)
		}
	})
	t.Run("call id changed on the same node", func(t *testing.T) {
		in := in
		m := meeting("m", 20, "a", "b", "c")
		m.Calls["a"] = "new-call"
		in.Meetings = []Meeting{m}
		p2 := Compute(in, p)
		if got, want := p2.Placements["m"], (Placement{Connection{"a", 0}, "new-call"}); got != want {
			t.Errorf("placement %v, want %v (re-pointed in place)", got, want)
		}
	})
	t.Run("other nodes change", func(t *testing.T) {
		in := in
		in.Meetings = []Meeting{meeting("m", 500, "a", "c")}
		in.Connections = append(connections(1, "a", "c"), connections(1, "d")...)
		p2 := Compute(in, p)
		if got := p2.Placements["m"]; got != p.Placements["m"] {
			t.Errorf("moved from %v to %v without cause", p.Placements["m"], got)
		}
	})
	t.Run("meeting ended", func(t *testing.T) {
		in := in
		in.Meetings = nil
		p2 := Compute(in, p)
		checkPlan(t, in, p2)
		if len(p2.Placements) != 0 || len(p2.Skipped) != 0 || p2.Used[Connection{"a", 0}] != 0 {
			t.Errorf("ended meeting still planned: %+v", p2)
		}
	})
}

func TestCapacityShrinks(t *testing.T) {
	in := Input{
		Meetings:    []Meeting{meeting("a", 9, "n"), meeting("b", 8, "n"), meeting("c", 7, "n")},
		Connections: connections(1, "n"),
		Capacity:    constCap(3),
	}
	p := Compute(in, Plan{})
	in.Capacity = constCap(2)
	p2 := Compute(in, p)
	checkPlan(t, in, p2)
	if !slices.Equal(p2.Skipped, []string{"c"}) || len(moves(p, p2)) > 0 {
		t.Errorf("placed %v skipped %v; want the smallest dropped, no moves", p2.Placements, p2.Skipped)
	}
}

func TestRehomeDisplacesOnlyBelowIt(t *testing.T) {
	// Connection b/0 is full with s (small) and t; m loses node a and must go to
	// b: it displaces the smallest, s, which has nowhere else to go.
	in := Input{
		Meetings:    []Meeting{meeting("m", 50, "a", "b"), meeting("s", 2, "b"), meeting("t", 9, "b")},
		Connections: connections(1, "a", "b"),
		Capacity:    constCap(2),
	}
	p := Compute(in, Plan{})
	if p.Placements["m"].Connection.Node != "a" || len(p.Placements) != 3 {
		t.Fatalf("setup: %+v", p)
	}
	in.Meetings[0] = meeting("m", 50, "b")
	p2 := Compute(in, p)
	checkPlan(t, in, p2)
	if !slices.Equal(p2.Skipped, []string{"s"}) || p2.Placements["t"] != p.Placements["t"] {
		t.Errorf("placed %v skipped %v; want s skipped and t untouched", p2.Placements, p2.Skipped)
	}
}

func TestIncludeExclude(t *testing.T) {
	ms := []Meeting{
		{Key: "1", Name: "Board meeting", Size: 3, Calls: map[string]string{"a": "c1"}},
		{Key: "2", Name: "Team standup", Size: 9, Calls: map[string]string{"a": "c2"}},
		{Key: "3", Name: "Team test", Size: 4, Calls: map[string]string{"a": "c3"}},
		{Key: "4", Name: "", Size: 1, Calls: map[string]string{"a": "c4"}},
	}
	re := regexp.MustCompile
	for _, tc := range []struct {
		name             string
		include, exclude []*regexp.Regexp
		placed, excluded []string
	}{
		{"no patterns", nil, nil, []string{"1", "2", "3", "4"}, nil},
		{"include", []*regexp.Regexp{re("^Team")}, nil, []string{"2", "3"}, []string{"1", "4"}},
		{"two includes", []*regexp.Regexp{re("^Team s"), re("Board")}, nil, []string{"1", "2"}, []string{"3", "4"}},
		{"exclude", nil, []*regexp.Regexp{re("test$")}, []string{"1", "2", "4"}, []string{"3"}},
		{"exclude wins", []*regexp.Regexp{re("^Team")}, []*regexp.Regexp{re("test")}, []string{"2"}, []string{"1", "3", "4"}},
		{"nil patterns ignored", []*regexp.Regexp{nil}, []*regexp.Regexp{nil}, []string{"1", "2", "3", "4"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Meetings: ms, Connections: connections(1, "a"), Include: tc.include, Exclude: tc.exclude}
			p := Compute(in, Plan{})
			checkPlan(t, in, p)
			if got := placedKeys(p); !slices.Equal(got, tc.placed) {
				t.Errorf("placed %v, want %v", got, tc.placed)
			}
			if !slices.Equal(p.Excluded, tc.excluded) {
				t.Errorf("excluded %v, want %v", p.Excluded, tc.excluded)
			}
		})
	}

	// A placed meeting that becomes excluded frees its subscription.
	in := Input{Meetings: ms, Connections: connections(1, "a"), Capacity: constCap(1)}
	p := Compute(in, Plan{})
	if got := placedKeys(p); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("placed %v, want [2]", got)
	}
	in.Exclude = []*regexp.Regexp{re("standup")}
	p = Compute(in, p)
	if got := placedKeys(p); !slices.Equal(got, []string{"3"}) {
		t.Errorf("after excluding 2: placed %v, want [3]", got)
	}
}

func TestBadInput(t *testing.T) {
	in := Input{
		Meetings: []Meeting{
			meeting("dup", 5, "a"),
			meeting("dup", 50, "b"),
			{Key: "nocall", Size: 3, Calls: map[string]string{"a": ""}},
			{Key: "nohost", Size: 3},
			{Key: "neg", Size: -7, Calls: map[string]string{"a": "x", "zz": "y"}},
		},
		Connections: append(connections(1, "a", "b"), Connection{"a", 0}),
		Capacity:    func(s Connection) int { return map[string]int{"a": 5, "b": -3}[s.Node] },
	}
	p := Compute(in, Plan{})
	checkPlan(t, in, p)
	if got := p.Placements["dup"]; got.Connection.Node != "a" {
		t.Errorf("duplicate key: %v, want the first occurrence (on a)", got)
	}
	if want := []string{"nocall", "nohost"}; !slices.Equal(p.Skipped, want) {
		t.Errorf("skipped %v, want %v", p.Skipped, want)
	}
	if _, ok := p.Placements["neg"]; !ok {
		t.Errorf("negative size meeting not placed")
	}
	// A previous plan naming things that no longer exist is harmless.
	prev := Plan{Placements: map[string]Placement{
		"gone": {Connection{"q", 3}, "c"}, "dup": {Connection{"zz", 0}, "c"},
	}}
	checkPlan(t, in, Compute(in, prev))
}

// randomInput makes a random cluster: 1–4 nodes with 1–3 connections of random
// (often tight) capacity, some connections down, 0–150 meetings on random node
// subsets, random avoid entries and random exclusions.
func randomInput(r *rand.Rand) Input {
	nodes := []string{"n1", "n2", "n3", "n4"}[:1+r.IntN(4)]
	var ss []Connection
	caps := map[Connection]int{}
	for _, n := range nodes {
		for l := range 1 + r.IntN(3) {
			s := Connection{n, l}
			caps[s] = r.IntN(30)
			if r.IntN(5) > 0 {
				ss = append(ss, s)
			}
		}
	}
	var ms []Meeting
	avoid := map[string]map[string]bool{}
	for i := range r.IntN(151) {
		m := Meeting{Key: fmt.Sprintf("k%03d", i), Name: fmt.Sprintf("name %d", r.IntN(10)), Size: r.IntN(60), Calls: map[string]string{}}
		for _, n := range nodes {
			if r.IntN(3) == 0 {
				m.Calls[n] = fmt.Sprintf("c%d-%s-%d", i, n, r.IntN(2))
			}
		}
		if len(m.Calls) == 0 {
			m.Calls[nodes[r.IntN(len(nodes))]] = fmt.Sprintf("c%d", i)
		}
		if r.IntN(10) == 0 {
			avoid[m.Key] = map[string]bool{nodes[r.IntN(len(nodes))]: true}
		}
		ms = append(ms, m)
	}
	in := Input{Meetings: ms, Connections: ss, Capacity: func(s Connection) int { return caps[s] }, Avoid: avoid}
	if r.IntN(3) == 0 {
		in.Exclude = []*regexp.Regexp{regexp.MustCompile("name [0-2]$")}
	}
	return in
}

// perturb changes an input the way a cluster changes between batches.
func perturb(r *rand.Rand, in Input) Input {
	out := in
	out.Meetings = nil
	for _, m := range in.Meetings {
		switch r.IntN(20) {
		case 0: // ended
			continue
		case 1: // size changed
			m.Size = max(0, m.Size+r.IntN(21)-10)
		}
		out.Meetings = append(out.Meetings, m)
	}
	for i := range r.IntN(10) {
		out.Meetings = append(out.Meetings, meeting(fmt.Sprintf("new%d-%d", r.Uint32(), i), r.IntN(60), "n1"))
	}
	if r.IntN(4) == 0 { // a connection's capacity shrinks or grows
		shift, prevCap := r.IntN(11)-7, in.Capacity
		victim := Connection{"n1", 0}
		out.Capacity = func(s Connection) int {
			if s == victim {
				return prevCap(s) + shift
			}
			return prevCap(s)
		}
	}
	if r.IntN(4) == 0 && len(out.Connections) > 0 {
		out.Connections = slices.Delete(slices.Clone(out.Connections), 0, 1)
	}
	return out
}

func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	for i := range 300 {
		in := randomInput(r)
		p := Compute(in, Plan{})
		checkPlan(t, in, p)

		// Deterministic whatever the order of meetings and connections.
		shuf := in
		shuf.Meetings = slices.Clone(in.Meetings)
		shuf.Connections = slices.Clone(in.Connections)
		r.Shuffle(len(shuf.Meetings), func(a, b int) { shuf.Meetings[a], shuf.Meetings[b] = shuf.Meetings[b], shuf.Meetings[a] })
		r.Shuffle(len(shuf.Connections), func(a, b int) { shuf.Connections[a], shuf.Connections[b] = shuf.Connections[b], shuf.Connections[a] })
		if ps := Compute(shuf, Plan{}); !reflect.DeepEqual(p, ps) {
			t.Fatalf("case %d: plan depends on input order", i)
		}

		// A plan fed back with unchanged input is a fixed point.
		if p2 := Compute(in, p); !reflect.DeepEqual(p, p2) {
			t.Fatalf("case %d: unchanged input changed the plan; moves %v", i, moves(p, p2))
		}

		// Budget holds, and no placement is kept that became invalid,
		// across a chain of changes.
		cur, prev := in, p
		for range 5 {
			cur = perturb(r, cur)
			next := Compute(cur, prev)
			checkPlan(t, cur, next)
			prev = next
		}
		if t.Failed() {
			t.Fatalf("case %d failed", i)
		}
	}
}

func TestLargestCoveredWithoutHostingConstraints(t *testing.T) {
	// When every meeting is hosted on every node, the covered set is
	// exactly the top of the ranking (size desc, key), whatever the mix.
	r := rand.New(rand.NewPCG(9, 9))
	for range 100 {
		var ms []Meeting
		for i := range r.IntN(120) {
			ms = append(ms, meeting(fmt.Sprintf("k%03d", i), r.IntN(40), "a", "b"))
		}
		in := Input{Meetings: ms, Connections: connections(2, "a", "b"), Capacity: constCap(r.IntN(25))}
		p := Compute(in, Plan{})
		checkPlan(t, in, p)
		want := slices.Clone(ms)
		slices.SortFunc(want, func(x, y Meeting) int {
			if x.Size != y.Size {
				return cmp.Compare(y.Size, x.Size)
			}
			return cmp.Compare(x.Key, y.Key)
		})
		want = want[:min(len(want), 4*in.Capacity(Connection{}))]
		var keys []string
		for _, m := range want {
			keys = append(keys, m.Key)
		}
		slices.Sort(keys)
		if got := placedKeys(p); !slices.Equal(got, keys) {
			t.Fatalf("placed %v, want %v", got, keys)
		}
	}
}

func BenchmarkCompute(b *testing.B) {
	in := Input{Meetings: threeHundred(true), Connections: connections(1, "cb1", "cb2", "cb3")}
	prev := Compute(in, Plan{})
	b.ReportAllocs()
	for b.Loop() {
		Compute(in, prev)
	}
}
