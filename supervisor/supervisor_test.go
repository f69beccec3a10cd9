package supervisor

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Model that remembers node additions, removals and which
// (node, connection number) connections came up.
type recorder struct {
	mu        sync.Mutex
	added     []string
	removed   []string
	connected map[string]int // "node/connection" → EventConnected count
	afterRm   int            // events or REST results for a node after its RemoveNode
	rest      map[string]int // node → successful REST results
	gone      map[string]bool
	msgErrors int // EventMessageError events
}

func (r *recorder) AddNode(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added = append(r.added, n)
	delete(r.gone, n)
}

func (r *recorder) RemoveNode(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, n)
	r.gone[n] = true
}

func (r *recorder) HandleREST(res cmsrest.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone[res.Node] {
		r.afterRm++
	}
	if res.Err == nil {
		r.rest[res.Node]++
	}
}

func (r *recorder) restAnswers(node string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rest[node]
}

func (r *recorder) Handle(ev cmsws.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone[ev.Node] {
		r.afterRm++
	}
	if ev.Kind == cmsws.EventMessageError {
		r.msgErrors++
	}
	if ev.Kind == cmsws.EventConnected {
		r.connected[fmt.Sprintf("%s/%d", ev.Node, ev.Connection)]++
	}
}

func (r *recorder) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connected[k]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Apply adds, restarts (settings changed) and removes nodes, leaves the
// others alone, runs every connection of a node, and Close stops everything: no
// goroutine outlives the test, and a removed node sends no more events.
func TestApplyAddRestartRemove(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	spec := func(node, settings string, connections int) Spec {
		return Spec{Connections: connections, Settings: settings, Client: cmsws.Config{
			Name: node, URL: cluster.URL(node), Username: "admin", Password: "secret",
			TLS:           &tls.Config{RootCAs: cluster.CertPool(), MinVersion: tls.VersionTLS12},
			Timing:        cmsws.Timing{BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond},
			Subscriptions: []cmsws.Subscription{{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}},
		}}
	}
	rec := &recorder{connected: map[string]int{}, gone: map[string]bool{}, rest: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(ctx, nil, rec)
	defer s.Close()

	ch, err := s.Apply([]Spec{spec("cms1", "a", 1), spec("cms2", "a", 2)})
	if err != nil || len(ch.Added) != 2 {
		t.Fatalf("first apply: %+v, %v", ch, err)
	}
	waitFor(t, "cms1 connection 0 and cms2 connections 0 and 1 up", func() bool {
		return rec.count("cms1/0") == 1 && rec.count("cms2/0") == 1 && rec.count("cms2/1") == 1
	})
	if !s.SetSubscriptions("cms2", 1, []cmsws.Subscription{{Type: cmsws.ResourceCallRoster, Call: "x", Elements: cmsws.CallRosterElements}}) {
		t.Fatal("SetSubscriptions on an existing connection failed")
	}
	if s.SetSubscriptions("cms2", 2, nil) || s.SetSubscriptions("nope", 0, nil) {
		t.Fatal("SetSubscriptions on a missing connection or node succeeded")
	}

	// cms1 changes settings, cms2 goes, cms3 comes with its REST poller.
	cms3 := spec("cms3", "a", 1)
	cms3.REST = &cmsrest.Config{Name: "cms3", URL: cluster.URL("cms3"), Username: "admin", Password: "secret",
		TLS: cms3.Client.TLS, Interval: 100 * time.Millisecond, Timeout: time.Second, Rand: func() float64 { return 0 }}
	ch, err = s.Apply([]Spec{spec("cms1", "b", 1), cms3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Restarted) != 1 || ch.Restarted[0] != "cms1" || len(ch.Removed) != 1 || ch.Removed[0] != "cms2" || len(ch.Added) != 1 || ch.Added[0] != "cms3" {
		t.Fatalf("changes %+v", ch)
	}
	waitFor(t, "cms1 reconnected and cms3 up", func() bool { return rec.count("cms1/0") == 2 && rec.count("cms3/0") == 1 })
	waitFor(t, "cms3's REST poller answering", func() bool { return rec.restAnswers("cms3") >= 6 })
	waitFor(t, "cms2's connections closed", func() bool { return len(cluster.Stats().Nodes["cms2"].Connections) == 0 })

	// Unchanged settings: nothing restarts.
	ch, err = s.Apply([]Spec{spec("cms1", "b", 1), cms3})
	if err != nil || len(ch.Unchanged) != 2 || len(ch.Restarted)+len(ch.Added)+len(ch.Removed) != 0 {
		t.Fatalf("unchanged apply: %+v, %v", ch, err)
	}
	// A bad spec leaves the running set alone.
	bad := spec("cms4", "a", 1)
	bad.Client.URL = "http://plain"
	if _, err := s.Apply([]Spec{spec("cms1", "b", 1), bad}); err == nil {
		t.Fatal("an invalid spec was applied")
	}
	if !s.SetSubscriptions("cms1", 0, nil) || !s.SetSubscriptions("cms3", 0, nil) || s.SetSubscriptions("cms4", 0, nil) {
		t.Fatal("the running set changed after a failed apply")
	}
	s.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.afterRm != 0 {
		t.Fatalf("%d events arrived for a node after RemoveNode", rec.afterRm)
	}
}

// lineCounter is a go-kit logger that counts warning lines by message.
type lineCounter struct {
	mu    sync.Mutex
	lines map[string]int
}

func (l *lineCounter) Log(keyvals ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i+1 < len(keyvals); i += 2 {
		if keyvals[i] == "msg" {
			l.lines[fmt.Sprint(keyvals[i+1])]++
		}
	}
	return nil
}

func (l *lineCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[msg]
}

// The connections of one node share one warning limiter: the same bad
// frame sent on every connection is one flood, logged a few times, not a
// few times per connection, and then summed up periodically.
func TestNodeConnectionsShareOneWarningLimiter(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	node := cluster.Nodes()[0]
	logs := &lineCounter{lines: map[string]int{}}
	rec := &recorder{connected: map[string]int{}, gone: map[string]bool{}, rest: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(ctx, logs, rec)
	s.flushEvery = 50 * time.Millisecond
	defer s.Close()
	const connections = 3
	if _, err := s.Apply([]Spec{{Connections: connections, Settings: "a", Client: cmsws.Config{
		Name: node, URL: cluster.URL(node), Username: "admin", Password: "secret",
		TLS:           &tls.Config{RootCAs: cluster.CertPool(), MinVersion: tls.VersionTLS12},
		Subscriptions: []cmsws.Subscription{{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}},
	}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every connection up", func() bool {
		for i := range connections {
			if rec.count(fmt.Sprintf("%s/%d", node, i)) == 0 {
				return false
			}
		}
		return true
	})
	const frames = 20
	for range frames {
		if n := cluster.InjectFrame(node, cmswstest.OpBinary, true, []byte{1, 2, 3}); n != connections {
			t.Fatalf("binary frame sent on %d connections, want %d", n, connections)
		}
	}
	waitFor(t, "every binary frame counted", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.msgErrors >= frames*connections
	})
	// The default limiter logs 5 lines per reason and window.
	if got := logs.count("unusable message from server"); got != 5 {
		t.Fatalf("%d warning lines for %d bad frames on %d connections; want 5 (one limiter per node)", got, frames*connections, connections)
	}
	// The flood has stopped and the connections stay up: the summary of
	// what was held back comes anyway, periodically.
	waitFor(t, "the periodic summary of held-back warnings", func() bool {
		return logs.count("repeated warnings suppressed") >= 1
	})
}
