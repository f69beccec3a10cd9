package planner

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeModel is a Model whose input the test sets.
type fakeModel struct {
	mu        sync.Mutex
	meetings  []Meeting
	avoid     map[string]map[string]bool
	connected []Connection
	plans     []Plan
	sets      []map[Connection][]cmsws.Subscription
}

func (f *fakeModel) PlanInput() ([]Meeting, map[string]map[string]bool, []Connection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.meetings), f.avoid, slices.Clone(f.connected)
}

func (f *fakeModel) SetPlan(p Plan, s map[Connection][]cmsws.Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans = append(f.plans, p)
	f.sets = append(f.sets, s)
}

func (f *fakeModel) set(fn func(*fakeModel)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeModel) lastPlan() (Plan, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.plans) == 0 {
		return Plan{}, false
	}
	return f.plans[len(f.plans)-1], true
}

type setCall struct {
	Connection Connection
	Subs       []cmsws.Subscription
}

// fakeClients records every SetSubscriptions and knows the connections in known
// (all connections when known is nil).
type fakeClients struct {
	mu    sync.Mutex
	known map[Connection]bool
	calls []setCall
}

func (f *fakeClients) SetSubscriptions(node string, number int, subs []cmsws.Subscription) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Connection{node, number}
	f.calls = append(f.calls, setCall{s, slices.Clone(subs)})
	return f.known == nil || f.known[s]
}

// take returns and forgets the recorded calls.
func (f *fakeClients) take() []setCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// last returns the most recent set pushed to s.
func (f *fakeClients) last(s Connection) ([]cmsws.Subscription, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Connection == s {
			return f.calls[i].Subs, true
		}
	}
	return nil, false
}

// checkSets verifies pushed sets against the plan, from first principles:
// connection 0 starts with calls, every placement appears exactly once on its
// connection, nothing else is there, and no set exceeds 100.
func checkSets(t *testing.T, p Plan, calls []setCall) {
	t.Helper()
	want := map[Connection]map[string]bool{}
	for _, pl := range p.Placements {
		if want[pl.Connection] == nil {
			want[pl.Connection] = map[string]bool{}
		}
		want[pl.Connection][pl.Call] = true
	}
	for _, c := range calls {
		subs := c.Subs
		if len(subs) > SubscriptionsPerConnection {
			t.Errorf("%v: %d subscriptions", c.Connection, len(subs))
		}
		if c.Connection.Number == 0 {
			if len(subs) == 0 || !reflect.DeepEqual(subs[0], cmsws.Subscription{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}) {
				t.Errorf("%v: connection 0 set does not start with calls: %v", c.Connection, subs)
				continue
			}
			subs = subs[1:]
		}
		got := map[string]bool{}
		for _, s := range subs {
			if s.Type != cmsws.ResourceCallRoster || !slices.Equal(s.Elements, cmsws.CallRosterElements) || got[s.Call] {
				t.Errorf("%v: unexpected subscription %+v", c.Connection, s)
			}
			got[s.Call] = true
		}
		if !reflect.DeepEqual(got, want[c.Connection]) && (len(got) > 0 || len(want[c.Connection]) > 0) {
			t.Errorf("%v: rosters %v, plan says %v", c.Connection, got, want[c.Connection])
		}
	}
}

func TestStepBatches(t *testing.T) {
	conn := connections(2, "a", "b", "c")
	model := &fakeModel{connected: conn}
	clients := &fakeClients{}
	r := NewRunner(model, clients, Options{})

	r.Step()
	first := clients.take()
	if len(first) != len(conn) {
		t.Fatalf("%d SetSubscriptions for %d connections", len(first), len(conn))
	}
	checkSets(t, Plan{}, first)

	// 50 meetings start between two iterations.
	model.set(func(f *fakeModel) {
		for i := range 50 {
			f.meetings = append(f.meetings, meeting(fmt.Sprintf("m%02d", i), 10+i, []string{"a", "b", "c"}[i%3], "c"))
		}
	})
	p := r.Step()
	calls := clients.take()
	per := map[Connection]int{}
	for _, c := range calls {
		per[c.Connection]++
	}
	for _, s := range conn {
		if per[s] != 1 {
			t.Errorf("connection %v: %d SetSubscriptions in one batch, want 1", s, per[s])
		}
	}
	if len(per) != len(conn) {
		t.Errorf("SetSubscriptions on %d connections, want %d", len(per), len(conn))
	}
	if len(p.Placements) != 50 {
		t.Errorf("%d placed, want 50", len(p.Placements))
	}
	checkSets(t, p, calls)

	// Unchanged model: the same sets again (the client dedups).
	p2 := r.Step()
	again := clients.take()
	if !reflect.DeepEqual(calls, again) {
		t.Errorf("unchanged model pushed different sets")
	}
	if !reflect.DeepEqual(p, p2) {
		t.Errorf("unchanged model changed the plan: %v", moves(p, p2))
	}

	// The model saw the plan and the sets that were pushed.
	last, _ := model.lastPlan()
	if !reflect.DeepEqual(last, p2) {
		t.Errorf("model got a different plan")
	}
	model.mu.Lock()
	sets := model.sets[len(model.sets)-1]
	model.mu.Unlock()
	for _, c := range again {
		if !reflect.DeepEqual(sets[c.Connection], c.Subs) {
			t.Errorf("model's set for %v differs from the pushed one", c.Connection)
		}
	}
}

func TestStepDisconnectedSlotReset(t *testing.T) {
	model := &fakeModel{connected: connections(2, "a", "b"), meetings: []Meeting{
		meeting("m1", 5, "a"), meeting("m2", 6, "a"), meeting("m3", 7, "a", "b"),
	}}
	clients := &fakeClients{}
	r := NewRunner(model, clients, Options{})
	p := r.Step()
	clients.take()
	onA := 0
	for _, pl := range p.Placements {
		if pl.Connection.Node == "a" {
			onA++
		}
	}
	if onA == 0 {
		t.Fatalf("setup: nothing on a: %+v", p)
	}

	// Node a goes away: its connections get their base sets once, the rosters
	// move to b where possible.
	model.set(func(f *fakeModel) { f.connected = connections(2, "b") })
	p2 := r.Step()
	calls := clients.take()
	got := map[Connection][]cmsws.Subscription{}
	for _, c := range calls {
		got[c.Connection] = c.Subs
	}
	if want := BaseSet(0); !reflect.DeepEqual(got[Connection{"a", 0}], want) {
		t.Errorf("a/0 reset to %v, want %v", got[Connection{"a", 0}], want)
	}
	if s, ok := got[Connection{"a", 1}]; !ok || len(s) != 0 {
		t.Errorf("a/1 reset to %v (pushed %v), want empty", s, ok)
	}
	if p2.Placements["m3"].Connection.Node != "b" || !slices.Equal(p2.Skipped, []string{"m1", "m2"}) {
		t.Errorf("plan after a left: %+v", p2)
	}
	checkSets(t, p2, calls)

	// Only once.
	r.Step()
	for _, c := range clients.take() {
		if c.Connection.Node == "a" {
			t.Errorf("a pushed again: %v", c)
		}
	}
}

func TestSetOptions(t *testing.T) {
	model := &fakeModel{connected: connections(1, "a"), meetings: []Meeting{meeting("keep", 5, "a"), meeting("drop", 6, "a")}}
	clients := &fakeClients{}
	r := NewRunner(model, clients, Options{})
	if p := r.Step(); len(p.Placements) != 2 {
		t.Fatalf("placed %v", placedKeys(p))
	}
	clients.take()
	r.SetOptions(Options{Exclude: []*regexp.Regexp{regexp.MustCompile("^dr")}})
	p := r.Step()
	if !slices.Equal(placedKeys(p), []string{"keep"}) || !slices.Equal(p.Excluded, []string{"drop"}) {
		t.Errorf("after SetOptions: placed %v excluded %v", placedKeys(p), p.Excluded)
	}
	checkSets(t, p, clients.take())

	// Capacity from options.
	r.SetOptions(Options{Capacity: constCap(1)})
	p = r.Step()
	if !slices.Equal(placedKeys(p), []string{"keep"}) || !slices.Equal(p.Skipped, []string{"drop"}) {
		t.Errorf("capacity 1: placed %v skipped %v (incumbent keep has 5*1.25+1 > 6)", placedKeys(p), p.Skipped)
	}
}

func TestStepUnknownClient(t *testing.T) {
	model := &fakeModel{connected: connections(1, "a", "b"), meetings: []Meeting{meeting("m", 5, "a", "b")}}
	clients := &fakeClients{known: map[Connection]bool{{"b", 0}: true}}
	r := NewRunner(model, clients, Options{})
	p := r.Step() // must not panic; the plan is still recorded
	if _, ok := model.lastPlan(); !ok || len(p.Placements) != 1 {
		t.Errorf("plan %+v", p)
	}
}

func TestRun(t *testing.T) {
	model := &fakeModel{connected: connections(1, "a", "b")}
	clients := &fakeClients{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewRunner(model, clients, Options{Interval: 5 * time.Millisecond}).Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop) // also on a failed wait, so nothing leaks

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	hasRoster := func(s Connection, call string) bool {
		subs, _ := clients.last(s)
		return slices.ContainsFunc(subs, func(x cmsws.Subscription) bool {
			return x.Type == cmsws.ResourceCallRoster && x.Call == call
		})
	}

	waitFor("first plan", func() bool { _, ok := model.lastPlan(); return ok })
	model.set(func(f *fakeModel) { f.meetings = []Meeting{meeting("m", 3, "b")} })
	waitFor("roster on b", func() bool { return hasRoster(Connection{"b", 0}, callID("m", "b")) })
	model.set(func(f *fakeModel) {
		f.meetings = []Meeting{meeting("m", 3, "a", "b")}
		f.avoid = map[string]map[string]bool{"m": {"b": true}}
	})
	waitFor("re-homed to a", func() bool {
		return hasRoster(Connection{"a", 0}, callID("m", "a")) && !hasRoster(Connection{"b", 0}, callID("m", "b"))
	})

	stop()
}

func TestSubscriptionsOrder(t *testing.T) {
	p := Plan{Placements: map[string]Placement{
		"x": {Connection{"a", 0}, "c2"}, "y": {Connection{"a", 0}, "c1"}, "z": {Connection{"a", 1}, "c3"}, "off": {Connection{"q", 0}, "c9"},
	}}
	got := Subscriptions(p, []Connection{{"a", 0}, {"a", 1}, {"a", 0}})
	roster := func(c string) cmsws.Subscription {
		return cmsws.Subscription{Type: cmsws.ResourceCallRoster, Call: c, Elements: cmsws.CallRosterElements}
	}
	want := map[Connection][]cmsws.Subscription{
		{"a", 0}: {{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}, roster("c1"), roster("c2")},
		{"a", 1}: {roster("c3")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Subscriptions = %v, want %v", got, want)
	}
}
