package collector

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunEndsSnapshotsAndStops drives Tick through Run on the real clock.
func TestRunEndsSnapshotsAndStops(t *testing.T) {
	c := New(Options{SnapshotTimeout: 20 * time.Millisecond})
	c.AddNode("a")
	sub := subCalls
	c.Handle(cmsws.Event{Kind: cmsws.EventConnected, Node: "a", Session: 1})
	c.Handle(cmsws.Event{Kind: cmsws.EventSubscriptionState, Node: "a", Session: 1, Subscription: &sub, State: cmsws.StateActive})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !c.AllSynced() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not end the snapshot by its fallback timeout within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestConcurrentNodesAndScrapes runs one feeding goroutine per node, as the
// clients do, against concurrent scrapes and ticks (meaningful under -race),
// and checks the end state, which is fully determined.
func TestConcurrentNodesAndScrapes(t *testing.T) {
	h := newHarness(t, perCall)
	nodes := []string{"a", "b", "c", "d"}
	for _, n := range nodes {
		h.c.AddNode(n)
		h.synced(n)
	}
	const rounds = 200
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := subCalls
			idx := idxCalls
			send := func(u ...cmsws.CallUpdate) {
				h.c.Handle(cmsws.Event{Kind: cmsws.EventMessage, Node: n, Session: 1, Subscription: &sub,
					Message: &cmsws.Message{Type: cmsws.TypeCallListUpdate, SubscriptionIndex: &idx, CallUpdates: u}})
			}
			for i := range rounds {
				id := fmt.Sprintf("%s-%d", n, i)
				// Every node hosts an instance of meeting "shared-i".
				send(add(id, fmt.Sprintf("shared-%d", i), recording("active")))
				send(upd(id, participants(i+1)))
				if i%2 == 0 {
					send(rm(id))
				}
			}
		}()
	}
	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Add(1)
	go func() {
		defer scrapes.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := gatherAll(h.c); err != nil {
				t.Error(err)
				return
			}
			h.advance(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	scrapes.Wait()

	// Odd rounds stay: rounds/2 meetings of 4 instances each; participants
	// i+1 per meeting, counted once.
	meetings, participants := 0, 0
	for i := 1; i < rounds; i += 2 {
		meetings++
		participants += i + 1
	}
	h.expect(clusterText(meetings, participants, meetings, 0, 0)+
		nodeCallsText("a", meetings, "b", meetings, "c", meetings, "d", meetings),
		append([]string{"cms_node_calls"}, clusterNames...)...)
	// Starts are deduplicated across nodes however the nodes interleaved.
	// How often an even meeting started and ended depends on the
	// interleaving, but every start beyond the meetings still running was
	// ended, and every meeting started at least once.
	started, ended := h.value("cms_meetings_started_total"), h.value("cms_meetings_ended_total")
	if started-ended != float64(meetings) || started < rounds || started > rounds/2*4+rounds/2 {
		t.Errorf("calls started %v, ended %v; want started-ended = %d, %d <= started <= %d",
			started, ended, meetings, rounds, rounds/2*4+rounds/2)
	}
}
