package cmswstest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// checkInvariants verifies the cluster semantics (see the package doc) on a
// Truth: participants is the roster size on every instance, distributed
// instances the other hosting nodes, every participant's node hosts the
// meeting, and every instance has a local participant or has just started.
func checkInvariants(tr Truth) error {
	seen := 0
	for corr, m := range tr.Meetings {
		if len(m.Calls) == 0 {
			return fmt.Errorf("meeting %s without instances", corr)
		}
		for node, id := range m.Calls {
			ct, ok := tr.Nodes[node].Calls[id]
			if !ok {
				return fmt.Errorf("meeting %s: call %s missing on %s", corr, id, node)
			}
			seen++
			if ct.Participants != len(m.Participants) || ct.DistributedInstances != len(m.Calls)-1 || ct.Correlator != corr {
				return fmt.Errorf("meeting %s on %s: participants %d (roster %d), distributed %d (nodes %d)",
					corr, node, ct.Participants, len(m.Participants), ct.DistributedInstances, len(m.Calls))
			}
		}
		local := map[string]int{}
		for _, p := range m.Participants {
			if _, ok := m.Calls[p.Node]; !ok {
				return fmt.Errorf("participant %s hosted on %s, which does not host %s", p.ID, p.Node, corr)
			}
			local[p.Node]++
		}
		for node := range m.Calls {
			if local[node] == 0 {
				return fmt.Errorf("meeting %s: instance on %s without local participants", corr, node)
			}
		}
	}
	total := 0
	for _, n := range tr.Nodes {
		total += len(n.Calls)
	}
	if total != seen {
		return fmt.Errorf("%d calls on nodes, %d belong to meetings", total, seen)
	}
	return nil
}

func runTraffic(t *testing.T, clusterSeed, trafficSeed int64, steps int) []Truth {
	t.Helper()
	c := newTestCluster(t, Options{Nodes: 3, Seed: clusterSeed, Logf: func(string, ...any) {}})
	tg := NewTraffic(c, TrafficOptions{Seed: trafficSeed})
	var out []Truth
	for i := 1; i <= steps; i++ {
		if err := tg.Step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		tr := c.Truth()
		if err := checkInvariants(tr); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i%100 == 0 {
			out = append(out, tr)
		}
	}
	return out
}

func TestTrafficDeterministicAndRealistic(t *testing.T) {
	a := runTraffic(t, 1, 42, 1500)
	b := runTraffic(t, 1, 42, 1500)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seeds, different truths")
	}
	other := runTraffic(t, 1, 43, 1500)
	if reflect.DeepEqual(a, other) {
		t.Fatal("different traffic seeds, same truths")
	}

	// The shapes the demo promises: about the planned number of meetings,
	// spread over 1-3 nodes, with realistic sizes and states.
	last := a[len(a)-1]
	if n := len(last.Meetings); n < 6 || n > 18 {
		t.Errorf("%d meetings alive, want about 12", n)
	}
	multi, participants := 0, 0
	for _, tr := range a {
		for _, m := range tr.Meetings {
			if len(m.Calls) > 1 {
				multi++
			}
			if len(m.Participants) > 15 {
				t.Errorf("meeting with %d participants", len(m.Participants))
			}
			participants += len(m.Participants)
		}
	}
	if multi == 0 || participants == 0 {
		t.Errorf("no distributed meeting (%d) or no participants (%d) seen", multi, participants)
	}
}

func TestTrafficStreamMatchesTruth(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 3, Seed: 5, SnapshotChunk: 3, Logf: func(string, ...any) {}})
	mirrors := map[string]*mirror{}
	for _, n := range c.Nodes() {
		mirrors[n] = newMirror(t, c, n)
	}
	tg := NewTraffic(c, TrafficOptions{Seed: 9, Meetings: 8})
	compare := func(phase string) {
		t.Helper()
		eventually(t, phase+": mirrors equal truth", func() error {
			if !c.idle() {
				return errNotYet
			}
			tr := c.Truth()
			if err := checkInvariants(tr); err != nil {
				return err
			}
			var errs []error
			for _, m := range mirrors {
				errs = append(errs, m.diff(tr))
			}
			return errors.Join(errs...)
		})
	}
	steps := func(n int) {
		for range n {
			if err := tg.Step(); err != nil {
				t.Fatal(err)
			}
		}
	}

	steps(1500)
	compare("live")

	// A dropped connection is rebuilt from the reconnect snapshot.
	c.DropConnections("cms2")
	steps(100)
	mirrors["cms2"] = newMirror(t, c, "cms2")
	steps(200)
	compare("after drop")

	// A restarted node loses its calls; the meetings go on elsewhere.
	mustOK(t, c.RestartNode("cms3"))
	steps(50)
	mirrors["cms3"] = newMirror(t, c, "cms3")
	steps(200)
	compare("after restart")

	for n, m := range mirrors {
		if errs := m.protocolErrors(); len(errs) > 0 {
			t.Errorf("%s: %v", n, errs)
		}
	}
	for n, st := range c.Stats().Nodes {
		if st.Violations() != 0 {
			t.Errorf("%s: violations %v", n, st.ProtocolViolations)
		}
	}
}

// BenchmarkTrafficStep measures one generator step on a cluster without
// clients: the cost of the model and the generator, not of the sockets.
func BenchmarkTrafficStep(b *testing.B) {
	c, err := NewCluster(Options{Nodes: 3, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tg := NewTraffic(c, TrafficOptions{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		if err := tg.Step(); err != nil {
			b.Fatal(err)
		}
	}
}
