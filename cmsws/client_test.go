package cmsws_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
)

// waitTimeout bounds every "wait until" of these tests. It is generous on
// purpose: the machine is shared and -race is slow; a passing test never
// waits for it.
const waitTimeout = 10 * time.Second

// gorillaDefaultWriteBuffer is gorilla/websocket's write buffer when none is
// configured; a client message larger than its write buffer is sent as
// several frames, which CMS answers by closing the connection.
const gorillaDefaultWriteBuffer = 4096

const node = "cms1"

// ---- event recorder ------------------------------------------------------

// recorder is a Sink that keeps every event and lets the test goroutine wait
// for a condition over them. Safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []cmsws.Event
	wake   chan struct{} // closed and replaced on every event
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{})} }

func (r *recorder) sink(ev cmsws.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.wake)
	r.wake = make(chan struct{})
}

func (r *recorder) snapshot() ([]cmsws.Event, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), r.wake
}

func (r *recorder) all() []cmsws.Event {
	evs, _ := r.snapshot()
	return evs
}

// waitUntil returns the events as soon as cond holds for them, and fails
// the test after waitTimeout.
func (r *recorder) waitUntil(t *testing.T, desc string, cond func([]cmsws.Event) bool) []cmsws.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		evs, wake := r.snapshot()
		if cond(evs) {
			return evs
		}
		select {
		case <-wake:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s; events:\n%s", waitTimeout, desc, dump(evs))
		}
	}
}

// waitFor waits for the first event at position from or later that
// matches pred, and returns its position and the event.
func (r *recorder) waitFor(t *testing.T, from int, desc string, pred func(cmsws.Event) bool) (int, cmsws.Event) {
	t.Helper()
	pos := -1
	evs := r.waitUntil(t, desc, func(evs []cmsws.Event) bool {
		for i := from; i < len(evs); i++ {
			if pred(evs[i]) {
				pos = i
				return true
			}
		}
		return false
	})
	return pos, evs[pos]
}

func kindIs(k cmsws.EventKind) func(cmsws.Event) bool {
	return func(ev cmsws.Event) bool { return ev.Kind == k }
}

func countKind(evs []cmsws.Event, k cmsws.EventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// describe renders an event compactly, for comparisons and failure dumps.
func describe(ev cmsws.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s#%d", ev.Kind, ev.Session)
	if ev.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", ev.Reason)
	}
	if ev.Message != nil {
		fmt.Fprintf(&b, " %s id=%d", ev.Message.Type, ev.Message.MessageID)
	}
	if ev.Subscription != nil {
		fmt.Fprintf(&b, " sub=%d:%s:%s", ev.Subscription.Index, ev.Subscription.Type, ev.Subscription.Call)
	}
	if ev.State != "" {
		fmt.Fprintf(&b, " state=%s", ev.State)
	}
	if ev.Err != nil {
		fmt.Fprintf(&b, " err=%v", ev.Err)
	}
	return b.String()
}

func dump(evs []cmsws.Event) string {
	const keep = 60
	var b strings.Builder
	start := max(0, len(evs)-keep)
	if start > 0 {
		fmt.Fprintf(&b, "  ... %d earlier events\n", start)
	}
	for i := start; i < len(evs); i++ {
		fmt.Fprintf(&b, "  %3d %s\n", i, describe(evs[i]))
	}
	return b.String()
}

// ---- subscription sets as the server reported them --------------------------

// subSet is one subscriptionUpdate with the subscriptions the client
// resolved its indexes to (the EventSubscriptionState events that follow
// the EventMessage).
type subSet struct {
	conn     uint64
	pos      int // position of the EventMessage
	final    bool
	complete bool // every listed index was resolved
	byIndex  map[int]cmsws.Subscription
	states   map[int]string
}

func (s subSet) keys() []cmsws.Key {
	var ks []cmsws.Key
	for _, sub := range s.byIndex {
		ks = append(ks, sub.Key())
	}
	sortKeys(ks)
	return ks
}

func (s subSet) indexOf(k cmsws.Key) int {
	for idx, sub := range s.byIndex {
		if sub.Key() == k {
			return idx
		}
	}
	return 0
}

func sortKeys(ks []cmsws.Key) {
	slices.SortFunc(ks, func(a, b cmsws.Key) int {
		if c := strings.Compare(string(a.Type), string(b.Type)); c != 0 {
			return c
		}
		return strings.Compare(a.Call, b.Call)
	})
}

func keysOf(subs []cmsws.Subscription) []cmsws.Key {
	var ks []cmsws.Key
	for _, s := range subs {
		ks = append(ks, s.Key())
	}
	sortKeys(ks)
	return ks
}

func subscriptionSets(evs []cmsws.Event) []subSet {
	var out []subSet
	for i, ev := range evs {
		if ev.Kind != cmsws.EventMessage || ev.Message.Type != cmsws.TypeSubscriptionUpdate {
			continue
		}
		s := subSet{conn: ev.Session, pos: i, final: true, byIndex: map[int]cmsws.Subscription{}, states: map[int]string{}}
		for _, st := range ev.Message.Statuses {
			if st.State == cmsws.StatePending {
				s.final = false
			}
		}
		for j := i + 1; j < len(evs) && evs[j].Kind == cmsws.EventSubscriptionState; j++ {
			sub := *evs[j].Subscription
			s.byIndex[sub.Index] = sub
			s.states[sub.Index] = evs[j].State
		}
		s.complete = len(s.byIndex) == len(ev.Message.Statuses)
		out = append(out, s)
	}
	return out
}

// lists reports whether s lists exactly the targets of want, with their
// elements: the listing answering a sync request that followed the previous
// set has the same targets, but not the changed elements.
func (s subSet) lists(want []cmsws.Subscription) bool {
	if !slices.Equal(s.keys(), keysOf(want)) {
		return false
	}
	for _, w := range want {
		if got := s.byIndex[s.indexOf(w.Key())]; w.Elements != nil && !slices.Equal(got.Elements, w.Elements) {
			return false
		}
	}
	return true
}

// waitSet waits for a complete, final subscriptionUpdate at position from
// or later that lists exactly the targets of want.
func waitSet(t *testing.T, r *recorder, from int, want []cmsws.Subscription) subSet {
	t.Helper()
	var got subSet
	r.waitUntil(t, fmt.Sprintf("a final subscriptionUpdate listing %d subscriptions", len(want)), func(evs []cmsws.Event) bool {
		for _, s := range subscriptionSets(evs) {
			if s.pos >= from && s.final && s.complete && s.lists(want) {
				got = s
				return true
			}
		}
		return false
	})
	return got
}

// ---- fixtures -------------------------------------------------------------

func newCluster(t *testing.T, o cmswstest.Options) *cmswstest.Cluster {
	t.Helper()
	if len(o.NodeNames) == 0 && o.Nodes == 0 {
		o.NodeNames = []string{node}
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	c, err := cmswstest.NewCluster(o)
	if err != nil {
		t.Fatalf("NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func callsSub() cmsws.Subscription {
	return cmsws.Subscription{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}
}

func rosterSub(call string) cmsws.Subscription {
	return cmsws.Subscription{Type: cmsws.ResourceCallRoster, Call: call, Elements: cmsws.CallRosterElements}
}

// madeUpCall is a GUID-shaped call id no node knows.
func madeUpCall(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// clientConfig trusts the cluster's CA and retries fast, so reconnects are
// quick in tests while every mechanism of a production client stays on.
func clientConfig(c *cmswstest.Cluster, r *recorder) cmsws.Config {
	return cmsws.Config{
		Name:     node,
		URL:      c.URL(node),
		Username: "admin",
		Password: "secret",
		TLS:      &tls.Config{RootCAs: c.CertPool(), MinVersion: tls.VersionTLS12},
		Timing: cmsws.Timing{ConnectTimeout: 5 * time.Second, BackoffMin: 20 * time.Millisecond,
			BackoffMax: 100 * time.Millisecond, AuthFailureBackoff: time.Hour},
		Subscriptions: []cmsws.Subscription{callsSub()},
		Sink:          r.sink,
	}
}

// startClient runs a client until the returned stop is called (also at the
// end of the test); stop returns what Run returned.
func startClient(t *testing.T, cfg cmsws.Config) (*cmsws.Client, func() error) {
	t.Helper()
	cl, err := cmsws.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cl.Run(ctx) }()
	var (
		once   sync.Once
		runErr error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cl, stop
}

// eventually polls cond until it holds, failing after waitTimeout.
func eventually(t *testing.T, desc string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, desc)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settledClient starts a fake node (seeded) and a client on it, and waits
// until the client holds its calls subscription and the fake has sent
// everything: the start of most protocol tests.
func settledClient(t *testing.T, seed int64) (*cmswstest.Cluster, *recorder, subSet) {
	t.Helper()
	c := newCluster(t, cmswstest.Options{Seed: seed})
	rec := newRecorder()
	startClient(t, clientConfig(c, rec))
	set := waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	waitIdle(t, c)
	return c, rec, set
}

func nodeStats(c *cmswstest.Cluster) cmswstest.NodeStats { return c.Stats().Nodes[node] }

// noViolations fails the test if the fake saw the client break the
// protocol (a ping, a pong, a wrong ack, an oversized set...).
func noViolations(t *testing.T, st cmswstest.NodeStats) {
	t.Helper()
	if st.Violations() != 0 {
		t.Errorf("protocol violations: %v", st.ProtocolViolations)
	}
}

func waitIdle(t *testing.T, c *cmswstest.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// ---- tests ----------------------------------------------------------------

// TestConnectSubscribeSnapshot: the first connection reports connecting,
// connected, pending → active for the calls subscription, then the snapshot
// of the calls that existed before the client connected; every server
// message was acked in order.
func TestConnectSubscribeSnapshot(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 1})
	for i := range 3 {
		if _, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: fmt.Sprintf("space %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	truth := c.Truth().Nodes[node].Calls
	rec := newRecorder()
	startClient(t, clientConfig(c, rec))

	addsOf := func(evs []cmsws.Event) map[string]cmsws.CallUpdate {
		adds := map[string]cmsws.CallUpdate{}
		for _, ev := range evs {
			if ev.Kind == cmsws.EventMessage && ev.Message.Type == cmsws.TypeCallListUpdate {
				for _, u := range ev.Message.CallUpdates {
					adds[u.Call] = u
				}
			}
		}
		return adds
	}
	evs := rec.waitUntil(t, "the snapshot of every call", func(evs []cmsws.Event) bool {
		return len(addsOf(evs)) >= len(truth)
	})

	if len(evs) < 7 || evs[3].Subscription == nil {
		t.Fatalf("too few events:\n%s", dump(evs))
	}
	idx := evs[3].Subscription.Index // whichever index the client chose
	want := []string{
		"connecting#0",
		"connected#1",
		"message#1 subscriptionUpdate id=1",
		fmt.Sprintf("subscription_state#1 sub=%d:calls: state=pending", idx),
		"message#1 subscriptionUpdate id=2",
		fmt.Sprintf("subscription_state#1 sub=%d:calls: state=active", idx),
		fmt.Sprintf("message#1 callListUpdate id=3 sub=%d:calls:", idx),
	}
	for i, w := range want {
		if got := describe(evs[i]); got != w {
			t.Fatalf("event %d = %q, want %q; events:\n%s", i, got, w, dump(evs))
		}
	}
	snap := evs[6]
	if snap.Message.SubscriptionIndex == nil || *snap.Message.SubscriptionIndex != snap.Subscription.Index {
		t.Errorf("callListUpdate index %v, resolved to subscription %d", snap.Message.SubscriptionIndex, snap.Subscription.Index)
	}
	if !slices.Equal(snap.Subscription.Elements, cmsws.CallsElements) {
		t.Errorf("resolved subscription elements %v, want %v", snap.Subscription.Elements, cmsws.CallsElements)
	}

	adds := addsOf(evs)
	if len(adds) != len(truth) {
		t.Fatalf("snapshot has %d calls, truth %d", len(adds), len(truth))
	}
	for id, tc := range truth {
		u, ok := adds[id]
		switch {
		case !ok:
			t.Errorf("call %s missing from the snapshot", id)
		case u.UpdateType != cmsws.UpdateAdd || u.Name.Value != tc.Name || u.CallCorrelator.Value != tc.Correlator:
			t.Errorf("call %s: got %s name=%q correlator=%q, truth name=%q correlator=%q",
				id, u.UpdateType, u.Name.Value, u.CallCorrelator.Value, tc.Name, tc.Correlator)
		}
	}

	eventually(t, "the sync request", func() bool { return nodeStats(c).SubscribeRequests >= 2 })
	waitIdle(t, c)
	// The client acks before it hands a message to the sink.
	eventually(t, "the sink seeing every message sent", func() bool {
		st := nodeStats(c)
		return len(st.Connections) == 1 && int64(countKind(rec.all(), cmsws.EventMessage)) == st.Connections[0].Sent
	})
	evs = rec.all()
	var ids []int64
	for _, ev := range evs {
		if ev.Kind == cmsws.EventMessage {
			ids = append(ids, ev.Message.MessageID)
		}
		if ev.Kind == cmsws.EventMessageError || ev.Kind == cmsws.EventRequestFailed || ev.Kind == cmsws.EventDisconnected {
			t.Errorf("unexpected %s", describe(ev))
		}
	}
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("server messageIds seen by the sink: %v, want 1, 2, 3, ...", ids)
		}
	}
	st := nodeStats(c)
	noViolations(t, st)
	if len(st.Connections) != 1 || st.Connections[0].Acked != int64(len(ids)) || st.Connections[0].Sent != int64(len(ids)) {
		t.Errorf("fake connections %+v; the sink saw %d messages", st.Connections, len(ids))
	}
	// The first request, and the sync request its activation calls for:
	// the unchanged set, whose subscriptionUpdate marks the snapshot's end.
	if st.SubscribeRequests != 2 || st.UnchangedRequests != 1 {
		t.Errorf("subscribeRequests = %d (unchanged %d), want 2 (1)", st.SubscribeRequests, st.UnchangedRequests)
	}
}

// TestHundredSubscriptionsInOneFrame: a full 100-entry request (far larger
// than gorilla's default write buffer) reaches the fake as one frame; the
// 101st subscription is refused with a failed ack and nothing else breaks.
func TestHundredSubscriptionsInOneFrame(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 2})
	corr, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: "real"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddParticipant(corr, node, cmswstest.ParticipantOptions{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	realCall := c.Truth().Meetings[corr].Calls[node]

	rec := newRecorder()
	cl, _ := startClient(t, clientConfig(c, rec))
	waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})

	subs := []cmsws.Subscription{callsSub(), rosterSub(realCall)}
	for i := 1; len(subs) < 100; i++ {
		subs = append(subs, rosterSub(madeUpCall(i)))
	}
	// The request as the client sends it, give or take index digits.
	probe := make([]cmsws.Subscription, len(subs))
	for i, s := range subs {
		s.Index = i + 1
		probe[i] = s
	}
	payload, err := cmsws.EncodeMessage(&cmsws.Message{MessageID: 2, Type: cmsws.TypeSubscribeRequest, Subscriptions: probe})
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) <= gorillaDefaultWriteBuffer || len(payload) > cmsws.MaxMessageSize {
		t.Fatalf("100-subscription request is %d bytes; the test needs it above %d (gorilla's default buffer) and within %d",
			len(payload), gorillaDefaultWriteBuffer, cmsws.MaxMessageSize)
	}
	t.Logf("100-subscription request: %d bytes", len(payload))

	mark := len(rec.all())
	cl.SetSubscriptions(subs)
	set := waitSet(t, rec, mark, subs)
	eventually(t, "the fake holding 100 subscriptions", func() bool {
		st := nodeStats(c)
		return len(st.Connections) == 1 && st.Connections[0].Subscriptions == 100
	})
	active := 0
	for idx, state := range set.states {
		if state == cmsws.StateActive {
			active++
			if k := set.byIndex[idx].Key(); k != callsSub().Key() && k != rosterSub(realCall).Key() {
				t.Errorf("made-up call %v reported active", k)
			}
		}
	}
	if active != 2 {
		t.Errorf("%d active subscriptions, want 2 (calls and the real call's roster)", active)
	}
	st := nodeStats(c)
	if len(st.Closes) != 0 || st.RefusedSubscribes != 0 || st.Violations() != 0 {
		t.Fatalf("fake saw closes %v (fragmented: %d), refused subscribes %d, violations %v",
			st.Closes, st.Closes[cmswstest.CloseFragmented], st.RefusedSubscribes, st.ProtocolViolations)
	}
	connID := st.Connections[0].ID
	evs := rec.all()
	for _, k := range []cmsws.EventKind{cmsws.EventRequestFailed, cmsws.EventDisconnected, cmsws.EventMessageError} {
		if n := countKind(evs, k); n != 0 {
			t.Fatalf("%d %s events:\n%s", n, k, dump(evs))
		}
	}

	// One more is over the limit: refused, and the connection goes on
	// with the previous 100.
	mark = len(rec.all())
	cl.SetSubscriptions(append(slices.Clone(subs), rosterSub(madeUpCall(1000))))
	_, failed := rec.waitFor(t, mark, "the refused 101-subscription request", kindIs(cmsws.EventRequestFailed))
	if failed.Reason == cmsws.AckSuccess || failed.Reason == "" {
		t.Errorf("request failed with reason %q", failed.Reason)
	}
	startAndSee(t, c, rec, mark, "after the refusal")
	st = nodeStats(c)
	if len(st.Connections) != 1 || st.Connections[0].ID != connID || st.Connections[0].Subscriptions != 100 {
		t.Errorf("fake connections after the refusal: %+v, want connection %d with 100 subscriptions", st.Connections, connID)
	}
	if st.RefusedSubscribes != 1 || len(st.Closes) != 0 {
		t.Errorf("refused subscribes %d (want 1), closes %v", st.RefusedSubscribes, st.Closes)
	}
	if n := countKind(rec.all(), cmsws.EventDisconnected); n != 0 {
		t.Errorf("%d disconnects", n)
	}
}

// TestIndexDiscipline: across changes of the set and a reconnect, an index
// always names the same target, unchanged targets keep their index, new,
// re-added or changed targets get an index never used before, and updates
// resolve to the right subscription.
func TestIndexDiscipline(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 3})
	calls := map[string]string{}
	for _, name := range []string{"A", "B", "C"} {
		corr, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddParticipant(corr, node, cmswstest.ParticipantOptions{Name: "p" + name}); err != nil {
			t.Fatal(err)
		}
		calls[name] = c.Truth().Meetings[corr].Calls[node]
	}
	rosterB2 := rosterSub(calls["B"])
	rosterB2.Elements = []string{"name", "state"}

	rec := newRecorder()
	cl, _ := startClient(t, clientConfig(c, rec))

	targetOf := map[int]cmsws.Key{} // every index ever reported
	check := func(step string, prev, cur subSet, changed map[cmsws.Key]bool) {
		t.Helper()
		fresh := map[int]bool{}
		for idx, sub := range cur.byIndex {
			k := sub.Key()
			if old, seen := targetOf[idx]; seen && old != k {
				t.Fatalf("%s: index %d reused: was %v, now %v", step, idx, old, k)
			} else if !seen {
				fresh[idx] = true
			}
			was := prev.indexOf(k)
			switch {
			case was != 0 && !changed[k] && was != idx:
				t.Errorf("%s: unchanged %v moved from index %d to %d", step, k, was, idx)
			case (was == 0 || changed[k]) && !fresh[idx]:
				t.Errorf("%s: new or changed %v got index %d, which was used before", step, k, idx)
			}
		}
		for idx, sub := range cur.byIndex {
			targetOf[idx] = sub.Key()
		}
	}

	prev := waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	check("initial", subSet{}, prev, nil)
	steps := []struct {
		name    string
		subs    []cmsws.Subscription
		changed []cmsws.Key
	}{
		{"add A and B", []cmsws.Subscription{callsSub(), rosterSub(calls["A"]), rosterSub(calls["B"])}, nil},
		{"drop A, add C", []cmsws.Subscription{callsSub(), rosterSub(calls["B"]), rosterSub(calls["C"])}, nil},
		{"re-add A", []cmsws.Subscription{callsSub(), rosterSub(calls["A"]), rosterSub(calls["B"]), rosterSub(calls["C"])}, nil},
		{"change B's elements", []cmsws.Subscription{callsSub(), rosterSub(calls["A"]), rosterB2, rosterSub(calls["C"])},
			[]cmsws.Key{rosterB2.Key()}},
		{"drop everything but C", []cmsws.Subscription{rosterSub(calls["C"])}, nil},
		{"calls again", []cmsws.Subscription{callsSub(), rosterSub(calls["C"])}, nil},
	}
	for _, s := range steps {
		mark := len(rec.all())
		cl.SetSubscriptions(s.subs)
		cur := waitSet(t, rec, mark, s.subs)
		changed := map[cmsws.Key]bool{}
		for _, k := range s.changed {
			changed[k] = true
		}
		check(s.name, prev, cur, changed)
		eventually(t, s.name+": the fake holding the new set", func() bool {
			st := nodeStats(c)
			return len(st.Connections) == 1 && st.Connections[0].Subscriptions == len(s.subs)
		})
		prev = cur
	}
	// "calls again" re-added calls after it was dropped: a fresh index.
	if first := subscriptionSets(rec.all())[0].indexOf(callsSub().Key()); prev.indexOf(callsSub().Key()) == first {
		t.Errorf("re-added calls subscription reuses index %d", first)
	}

	// Updates resolve to the subscription their index names now.
	mark := len(rec.all())
	corrC := c.Truth().Nodes[node].Calls[calls["C"]].Correlator
	pid, err := c.AddParticipant(corrC, node, cmswstest.ParticipantOptions{Name: "late"})
	if err != nil {
		t.Fatal(err)
	}
	_, ev := rec.waitFor(t, mark, "the roster add of the late participant", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventMessage && ev.Message.Type == cmsws.TypeRosterUpdate &&
			len(ev.Message.RosterUpdates) > 0 && ev.Message.RosterUpdates[0].Participant == pid
	})
	if ev.Subscription == nil || ev.Subscription.Key() != rosterSub(calls["C"]).Key() || ev.Subscription.Index != prev.indexOf(rosterSub(calls["C"]).Key()) {
		t.Errorf("roster update resolved to %+v, want C's roster at index %d", ev.Subscription, prev.indexOf(rosterSub(calls["C"]).Key()))
	}

	// A new connection starts over with indexes never used before.
	mark = len(rec.all())
	if n := c.DropConnections(node); n != 1 {
		t.Fatalf("dropped %d connections", n)
	}
	want := []cmsws.Subscription{callsSub(), rosterSub(calls["C"])}
	cur := waitSet(t, rec, mark, want)
	if cur.conn != 2 {
		t.Errorf("set after the drop reported on connection %d, want 2", cur.conn)
	}
	for idx, sub := range cur.byIndex {
		if old, seen := targetOf[idx]; seen {
			t.Errorf("after reconnect, %v got index %d, used before for %v", sub.Key(), idx, old)
		}
	}

	evs := rec.all()
	for _, k := range []cmsws.EventKind{cmsws.EventMessageError, cmsws.EventRequestFailed} {
		if n := countKind(evs, k); n != 0 {
			t.Errorf("%d %s events:\n%s", n, k, dump(evs))
		}
	}
	if v := nodeStats(c).ProtocolViolations; len(v) != 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

// TestCleanShutdown: cancelling Run sends a close frame the fake answers,
// reports a shutdown disconnect, and returns nil; goleak (TestMain) proves
// that nothing keeps running.
func TestCleanShutdown(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 4})
	rec := newRecorder()
	_, stop := startClient(t, clientConfig(c, rec))
	waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	waitIdle(t, c)

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	evs := rec.all()
	last := evs[len(evs)-1]
	if last.Kind != cmsws.EventDisconnected || last.Reason != cmsws.DisconnectShutdown || last.Session != 1 {
		t.Fatalf("last event %s, want disconnected#1 reason=shutdown; events:\n%s", describe(last), dump(evs))
	}
	if n := countKind(evs, cmsws.EventDisconnected); n != 1 {
		t.Errorf("%d disconnects, want 1", n)
	}
	eventually(t, "the fake recording the client's close", func() bool {
		st := nodeStats(c)
		return len(st.Connections) == 0 && len(st.Closes) > 0
	})
	st := nodeStats(c)
	if want := map[string]int{cmswstest.CloseClientClose: 1}; !maps.Equal(st.Closes, want) {
		t.Errorf("fake closes %v, want %v (never ping/pong/binary/fragmented)", st.Closes, want)
	}
	noViolations(t, st)
}

// TestProbeTimeoutReconnects: a peer that stops acking is declared dead by
// the application probe, and the client connects again.
func TestProbeTimeoutReconnects(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 5})
	rec := newRecorder()
	cfg := clientConfig(c, rec)
	cfg.ProbeInterval = 300 * time.Millisecond
	cfg.ProbeTimeout = 200 * time.Millisecond
	startClient(t, cfg)

	// A healthy peer acks the probe.
	_, probe := rec.waitFor(t, 0, "an acked probe", kindIs(cmsws.EventProbe))
	if probe.Session != 1 || probe.Latency <= 0 {
		t.Errorf("probe %s latency %v", describe(probe), probe.Latency)
	}
	mark := len(rec.all())
	if n := c.StallConnections(node); n != 1 {
		t.Fatalf("stalled %d connections", n)
	}
	if n := countKind(rec.all()[:mark], cmsws.EventDisconnected); n != 0 {
		t.Fatalf("disconnected before the stall:\n%s", dump(rec.all()))
	}
	_, disc := rec.waitFor(t, mark, "the disconnect", kindIs(cmsws.EventDisconnected))
	if disc.Session != 1 || disc.Reason != cmsws.DisconnectProbeTimeout {
		t.Fatalf("got %s, want disconnected#1 reason=probe_timeout", describe(disc))
	}
	at, conn := rec.waitFor(t, mark, "the reconnect", kindIs(cmsws.EventConnected))
	if conn.Session != 2 {
		t.Fatalf("got %s, want connected#2", describe(conn))
	}
	// From the reconnect on: a listing answering a probe sent just before
	// the stall may still arrive on connection 1 after mark.
	set := waitSet(t, rec, at, []cmsws.Subscription{callsSub()})
	if set.conn != 2 {
		t.Errorf("calls subscription confirmed on connection %d, want 2", set.conn)
	}
	st := nodeStats(c)
	if len(st.Closes) != 0 || st.Violations() != 0 {
		t.Errorf("fake closes %v, violations %v", st.Closes, st.ProtocolViolations)
	}
}

// tokenShaped matches the fake's uuid-shaped tokens.
var tokenShaped = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestAuthFailureRetriesSlowlyWithoutSecrets: refused credentials are
// reported once and retried only after AuthFailureBackoff, and the password
// shows up in no event and no log line.
func TestAuthFailureRetriesSlowlyWithoutSecrets(t *testing.T) {
	const password = "Tr0ub4dor&3-wrong"
	c := newCluster(t, cmswstest.Options{Seed: 6})
	rec := newRecorder()
	var logs testutil.SyncBuffer
	cfg := clientConfig(c, rec)
	cfg.Password = password
	cfg.AuthFailureBackoff = time.Hour
	cfg.Logger = log.NewLogfmtLogger(&logs)
	startClient(t, cfg)

	_, failed := rec.waitFor(t, 0, "the connect failure", kindIs(cmsws.EventConnectFailed))
	if failed.Reason != cmsws.ConnectFailureAuth || !errors.Is(failed.Err, cmsws.ErrAuth) || failed.RetryIn < time.Hour || failed.RetryIn >= time.Hour*5/4 {
		t.Fatalf("got %s retry_in=%v, want reason=auth wrapping ErrAuth, retry in 1h plus up to a quarter", describe(failed), failed.RetryIn)
	}
	time.Sleep(500 * time.Millisecond) // a fast retry would show up here
	evs := rec.all()
	if len(evs) != 2 || evs[0].Kind != cmsws.EventConnecting {
		t.Fatalf("want exactly connecting, connect_failed; got:\n%s", dump(evs))
	}
	st := nodeStats(c)
	if st.AuthFailures != 1 || st.TokensIssued != 0 || st.Accepted != 0 {
		t.Errorf("fake: %d auth failures (want 1), %d tokens, %d connections", st.AuthFailures, st.TokensIssued, st.Accepted)
	}

	out := logs.String()
	if !strings.Contains(out, "authentication failed") || !strings.Contains(out, "admin") {
		t.Fatalf("the log lacks the authentication failure line:\n%s", out)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("admin:" + password))
	for _, secret := range []string{password, basic} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains a secret:\n%s", out)
		}
		for _, ev := range evs {
			if ev.Err != nil && strings.Contains(ev.Err.Error(), secret) {
				t.Errorf("event %s contains a secret", describe(ev))
			}
		}
	}
}

// TestHandshakeRefusedWithoutToken: a token refused at the upgrade is a
// handshake failure, and the token appears in no event and no log line.
func TestHandshakeRefusedWithoutToken(t *testing.T) {
	// Every look at the fake's clock is an hour later: each token has
	// expired by the time the client presents it.
	var hours atomic.Int64
	start := time.Now()
	c := newCluster(t, cmswstest.Options{Seed: 7, TokenTTL: time.Minute, Now: func() time.Time {
		return start.Add(time.Duration(hours.Add(1)) * time.Hour)
	}})
	rec := newRecorder()
	var logs testutil.SyncBuffer
	cfg := clientConfig(c, rec)
	cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
	cfg.Logger = log.NewLogfmtLogger(&logs)
	startClient(t, cfg)

	_, failed := rec.waitFor(t, 0, "the connect failure", kindIs(cmsws.EventConnectFailed))
	if failed.Reason != cmsws.ConnectFailureHandshake || failed.Err == nil || !strings.Contains(failed.Err.Error(), "401") {
		t.Fatalf("got %s, want reason=handshake mentioning HTTP 401", describe(failed))
	}
	st := nodeStats(c)
	if st.TokensIssued != 1 || st.TokensRejected != 1 {
		t.Errorf("fake issued %d and rejected %d tokens, want 1 and 1", st.TokensIssued, st.TokensRejected)
	}
	if out := logs.String(); !strings.Contains(out, "cannot connect") || tokenShaped.MatchString(out) {
		t.Errorf("log output lacks the failure or contains a token:\n%s", out)
	}
	if tokenShaped.MatchString(failed.Err.Error()) {
		t.Errorf("event error contains a token: %v", failed.Err)
	}
}

// TestTLSVerification: without the fake's CA the client refuses the
// server (reason tls, no credentials sent); with it, it connects.
func TestTLSVerification(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 8})

	t.Run("system roots", func(t *testing.T) {
		rec := newRecorder()
		cfg := clientConfig(c, rec)
		cfg.TLS = nil
		cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
		_, stop := startClient(t, cfg)
		_, failed := rec.waitFor(t, 0, "the connect failure", kindIs(cmsws.EventConnectFailed))
		if failed.Reason != cmsws.ConnectFailureTLS {
			t.Errorf("got %s, want reason=tls", describe(failed))
		}
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if st := nodeStats(c); st.TokensIssued != 0 || st.AuthFailures != 0 {
			t.Errorf("credentials reached an untrusted server: %d tokens, %d auth failures", st.TokensIssued, st.AuthFailures)
		}
	})
	t.Run("cluster CA", func(t *testing.T) {
		rec := newRecorder()
		startClient(t, clientConfig(c, rec))
		rec.waitFor(t, 0, "the connection", kindIs(cmsws.EventConnected))
		if n := countKind(rec.all(), cmsws.EventConnectFailed); n != 0 {
			t.Errorf("%d connect failures:\n%s", n, dump(rec.all()))
		}
	})
}

// TestGarbageFramesDoNotBreakConnection: frames the client cannot use are
// reported with a bounded reason, numbered ones are still acked, and the
// connection and later updates go on.
func TestGarbageFramesDoNotBreakConnection(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 9})
	if _, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startClient(t, clientConfig(c, rec))
	waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	waitIdle(t, c)
	connID := nodeStats(c).Connections[0].ID

	mark := len(rec.all())
	frames := []string{
		`{not json`,
		`{"type":"gossip","message":{"messageId":1}}`,
		// Numbered frames: the fake accepts the client's acks of these ids.
		`{"type":"message","message":{"messageId":1000000,"type":"fancyNewUpdate"}}`,
		`{"type":"message","message":{"messageId":1000001,"type":"callListUpdate","subscriptionIndex":9999,"updates":[]}}`,
		`{"type":"message","message":{"messageId":1000002,"type":"callListUpdate","subscriptionIndex":1,"updates":"oops"}}`,
	}
	for _, f := range frames {
		if n := c.InjectRaw(node, []byte(f)); n != 1 {
			t.Fatalf("injected into %d connections", n)
		}
	}
	pos, ev := startAndSee(t, c, rec, mark, "after")
	if ev.Subscription == nil || ev.Subscription.Type != cmsws.ResourceCalls {
		t.Errorf("update resolved to %+v, want the calls subscription", ev.Subscription)
	}

	evs := rec.all()[mark:pos]
	var reasons []string
	sawUnknownType := false
	for _, ev := range evs {
		switch ev.Kind {
		case cmsws.EventMessageError:
			reasons = append(reasons, ev.Reason)
			if ev.Err == nil {
				t.Errorf("%s without Err", describe(ev))
			}
		case cmsws.EventMessage:
			sawUnknownType = sawUnknownType || ev.Message.Type == "fancyNewUpdate"
		case cmsws.EventDisconnected, cmsws.EventConnected:
			t.Errorf("unexpected %s", describe(ev))
		}
	}
	want := []string{
		cmsws.ReasonMalformedJSON,
		cmsws.ReasonUnknownEnvelope,
		cmsws.MessageErrorSequence, // 1000000 does not follow the fake's last id
		cmsws.MessageErrorUnknownType,
		cmsws.MessageErrorUnknownSubscription,
		cmsws.ReasonBadUpdates,
		cmsws.MessageErrorSequence, // the fake's next id does not follow 1000002
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("message error reasons %v, want %v; events:\n%s", reasons, want, dump(evs))
	}
	if !sawUnknownType {
		t.Errorf("the unknown message type was not passed on as a message")
	}

	waitIdle(t, c) // acks keep flowing
	st := nodeStats(c)
	if len(st.Connections) != 1 || st.Connections[0].ID != connID || len(st.Closes) != 0 {
		t.Errorf("fake connections %+v, closes %v; want connection %d still open", st.Connections, st.Closes, connID)
	}
	if st.Violations() != 0 {
		t.Errorf("protocol violations: %v (every numbered frame must be acked once, in order)", st.ProtocolViolations)
	}
}

// A server ping (CMS sends none) is counted as a message error and not
// answered: a pong is a frame CMS closes the connection on. The connection
// stays up and goes on working.
func TestServerPingIsCountedNotAnswered(t *testing.T) {
	c, rec, _ := settledClient(t, 10)
	connID := nodeStats(c).Connections[0].ID
	mark := len(rec.all())
	if n := c.InjectFrame(node, cmswstest.OpPing, true, []byte("hi")); n != 1 {
		t.Fatalf("injected into %d connections", n)
	}
	rec.waitFor(t, mark, "the ping counted", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventMessageError && ev.Reason == cmsws.MessageErrorPing
	})
	startAndSee(t, c, rec, mark, "after the ping")
	st := nodeStats(c)
	if len(st.Connections) != 1 || st.Connections[0].ID != connID || st.Closes[cmswstest.ClosePong] != 0 {
		t.Errorf("after a ping: connections %+v, closes %v; want the same connection and no pong", st.Connections, st.Closes)
	}
}

// startAndSee starts a meeting named name on the test node and waits, from
// event mark on, for the client to report its add on the calls
// subscription: the proof that the connection still works.
func startAndSee(t *testing.T, c *cmswstest.Cluster, rec *recorder, mark int, name string) (int, cmsws.Event) {
	t.Helper()
	corr, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	call := c.Truth().Meetings[corr].Calls[node]
	return rec.waitFor(t, mark, "the add of the call started "+name, func(ev cmsws.Event) bool {
		if ev.Kind != cmsws.EventMessage || ev.Message.Type != cmsws.TypeCallListUpdate {
			return false
		}
		return slices.ContainsFunc(ev.Message.CallUpdates, func(u cmsws.CallUpdate) bool {
			return u.Call == call && u.UpdateType == cmsws.UpdateAdd
		})
	})
}

// A message frame that cannot be decoded, but whose messageId can be read,
// is acked all the same: CMS sends nothing more until it is, and probes
// would keep the stalled node looking up. It is still counted as unusable.
func TestUndecodableMessagesAreAcked(t *testing.T) {
	c, rec, _ := settledClient(t, 11)
	connID := nodeStats(c).Connections[0].ID

	mark := len(rec.all())
	frames := []struct {
		id    int64
		frame string
	}{
		{2000000, `{"type":"message","message":{"messageId":2000000,"type":"callListUpdate","subscriptionIndex":1,"updates":[{"call":"ab`},
		{2000001, `{"type":null,"message":{"messageId":2000001,"type":"callListUpdate","subscriptionIndex":1,"updates":[]}}`},
		{2000002, `{"message":{"messageId":2000002,"type":"callListUpdate","subscriptionIndex":1,"updates":[]}}`},
		{2000003, `{"type":"message","message":{"messageId":2000003,"type":"callListUpdate"},x}`},
	}
	for _, f := range frames {
		if n := c.InjectNumbered(node, []byte(f.frame), f.id); n != 1 {
			t.Fatalf("injected into %d connections", n)
		}
	}
	pos, _ := startAndSee(t, c, rec, mark, "after")
	eventually(t, "the acks of the undecodable frames", func() bool { return c.UnackedInjected(node) == 0 })

	var reasons []string
	for _, ev := range rec.all()[mark:pos] {
		if ev.Kind == cmsws.EventMessageError && ev.Reason != cmsws.MessageErrorSequence {
			reasons = append(reasons, ev.Reason)
		}
	}
	want := []string{cmsws.ReasonMalformedJSON, cmsws.ReasonUnknownEnvelope, cmsws.ReasonUnknownEnvelope, cmsws.ReasonMalformedJSON}
	if !slices.Equal(reasons, want) {
		t.Errorf("message error reasons %v, want %v", reasons, want)
	}
	waitIdle(t, c)
	st := nodeStats(c)
	if len(st.Connections) != 1 || st.Connections[0].ID != connID {
		t.Errorf("fake connections %+v, want connection %d still open", st.Connections, connID)
	}
	noViolations(t, st)
}

// A callListUpdate with one entry CMS got wrong still delivers its good
// entries, and each bad entry is counted on its own.
func TestBadEntryDeliversSiblings(t *testing.T) {
	c, rec, set := settledClient(t, 12)
	idx := set.indexOf(callsSub().Key())

	mark := len(rec.all())
	frame := fmt.Sprintf(`{"type":"message","message":{"messageId":3000000,"type":"callListUpdate","subscriptionIndex":%d,"updates":[
		{"call":%q,"updateType":"update","participants":3},{"call":42,"updateType":"update"},{"call":%q,"updateType":"update"},7]}}`,
		idx, madeUpCall(1), madeUpCall(2))
	if n := c.InjectRaw(node, []byte(frame)); n != 1 {
		t.Fatalf("injected into %d connections", n)
	}
	pos, ev := rec.waitFor(t, mark, "the injected update", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventMessage && ev.Message.MessageID == 3000000
	})
	var calls []string
	for _, u := range ev.Message.CallUpdates {
		calls = append(calls, u.Call)
	}
	if want := []string{madeUpCall(1), madeUpCall(2)}; !slices.Equal(calls, want) {
		t.Errorf("delivered calls %v, want %v", calls, want)
	}
	if ev.Subscription == nil || ev.Subscription.Type != cmsws.ResourceCalls {
		t.Errorf("update resolved to %+v, want the calls subscription", ev.Subscription)
	}
	bad := 0
	for _, e := range rec.all()[mark:pos] {
		if e.Kind == cmsws.EventMessageError && e.Reason == cmsws.ReasonBadEntry {
			bad++
		}
	}
	if bad != 2 {
		t.Errorf("%d bad_entry errors before the message, want 2; events:\n%s", bad, dump(rec.all()[mark:pos+1]))
	}
}

// A server message over the read limit ends the connection with its own
// reason, not read_error, and says so at error level, naming the limit:
// reconnecting will meet the same message again.
func TestMessageTooLargeHasItsOwnReason(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 13})
	rec := newRecorder()
	var logs testutil.SyncBuffer
	cfg := clientConfig(c, rec)
	cfg.ReadLimit = 4096
	cfg.Logger = log.NewLogfmtLogger(&logs)
	startClient(t, cfg)
	waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	waitIdle(t, c)

	mark := len(rec.all())
	big := `{"type":"message","message":{"messageId":4000000,"type":"futureUpdate","pad":"` + strings.Repeat("x", 5000) + `"}}`
	if n := c.InjectRaw(node, []byte(big)); n != 1 {
		t.Fatalf("injected into %d connections", n)
	}
	_, ev := rec.waitFor(t, mark, "the disconnect", kindIs(cmsws.EventDisconnected))
	if ev.Reason != cmsws.DisconnectMessageTooLarge {
		t.Errorf("disconnect %s, want reason %s", describe(ev), cmsws.DisconnectMessageTooLarge)
	}
	lines := logs.Lines("level=error")
	if len(lines) != 1 || !strings.Contains(lines[0], "limit_bytes=4096") {
		t.Errorf("error lines %q, want one naming limit_bytes=4096; log:\n%s", lines, logs.String())
	}
}

// Every wait before a new attempt is jittered by the client's random
// source, the wait after refused credentials included: exporters restarted
// together must not retry in lockstep.
func TestEveryBackoffIsJittered(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		c := newCluster(t, cmswstest.Options{Seed: 14})
		rec := newRecorder()
		cfg := clientConfig(c, rec)
		cfg.Password = "wrong"
		cfg.Rand = func() float64 { return r }
		_, stop := startClient(t, cfg)
		_, failed := rec.waitFor(t, 0, "the auth failure", kindIs(cmsws.EventConnectFailed))
		want := time.Hour + time.Duration(r*float64(time.Hour/4))
		if failed.Reason != cmsws.ConnectFailureAuth || failed.RetryIn != want {
			t.Errorf("rand %v: %s retry_in=%v, want auth, %v", r, describe(failed), failed.RetryIn, want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}

		rec = newRecorder()
		cfg = clientConfig(c, rec)
		cfg.Rand = func() float64 { return r }
		if err := c.SetUnreachable(node, true); err != nil {
			t.Fatal(err)
		}
		_, stop = startClient(t, cfg)
		_, failed = rec.waitFor(t, 0, "the network failure", kindIs(cmsws.EventConnectFailed))
		want = cmsws.Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax, Rand: cfg.Rand}.Delay(0)
		if failed.RetryIn != want {
			t.Errorf("rand %v: %s retry_in=%v, want %v", r, describe(failed), failed.RetryIn, want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// A server flooding unusable messages gets every one counted, but only the
// first few logged per reason; the rest are summed up in one line when the
// client stops.
func TestUnusableMessageWarningsAreRateLimited(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 15})
	rec := newRecorder()
	var logs testutil.SyncBuffer
	cfg := clientConfig(c, rec)
	cfg.Logger = log.NewLogfmtLogger(&logs)
	_, stop := startClient(t, cfg)
	waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
	waitIdle(t, c)

	mark := len(rec.all())
	const flood = 300
	for i := range flood {
		f := fmt.Sprintf(`{"type":"message","message":{"messageId":%d,"type":"fancyNewUpdate"}}`, 5000000+i)
		if n := c.InjectRaw(node, []byte(f)); n != 1 {
			t.Fatalf("injected into %d connections", n)
		}
	}
	rec.waitUntil(t, "every unknown type counted", func(evs []cmsws.Event) bool {
		n := 0
		for _, ev := range evs[mark:] {
			if ev.Kind == cmsws.EventMessageError && ev.Reason == cmsws.MessageErrorUnknownType {
				n++
			}
		}
		return n == flood
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := len(logs.Lines("reason=unknown_type err=")); got != 5 {
		t.Errorf("%d unknown_type warnings logged, want 5", got)
	}
	sum := logs.Lines("repeated warnings suppressed")
	if len(sum) != 1 || !strings.Contains(sum[0], "reason=unknown_type suppressed=295") || !strings.Contains(sum[0], "level=warn node=cms1 connection=0") {
		t.Errorf("summary lines %q, want one for unknown_type with suppressed=295, at warn, naming the node", sum)
	}
}

// Frames in warning lines are redacted at info level: names, URIs and
// addresses never reach the log, even from broken frames. With
// LogFullFrames (debug) they are logged as they arrived.
func TestFrameDumpsAreRedactedUnlessDebug(t *testing.T) {
	secrets := []string{"Alice", "alice@", "Bob", "sip:", "10.1.2.3"}
	for _, full := range []bool{false, true} {
		c := newCluster(t, cmswstest.Options{Seed: 16})
		rec := newRecorder()
		var logs testutil.SyncBuffer
		cfg := clientConfig(c, rec)
		cfg.Logger = level.NewFilter(log.NewLogfmtLogger(&logs), level.AllowInfo())
		cfg.LogFullFrames = full
		startClient(t, cfg)
		set := waitSet(t, rec, 0, []cmsws.Subscription{callsSub()})
		waitIdle(t, c)
		idx := set.indexOf(callsSub().Key())
		mark := len(rec.all())
		frames := []string{
			// a bad entry next to a named call
			fmt.Sprintf(`{"type":"message","message":{"messageId":6000000,"type":"callListUpdate","subscriptionIndex":%d,"updates":[{"call":42,"name":"Alice Example"}]}}`, idx),
			// an unknown subscription, names in a roster
			`{"type":"message","message":{"messageId":6000001,"type":"rosterUpdate","subscriptionIndex":9999,"updates":[{"participant":"p1","name":"Bob","uri":"alice@example.org","remoteParty":"sip:bob@10.1.2.3","displayName":"Alice A."}]}}`,
			// broken: cut inside a name, and a stray quote in one
			`{"type":"message","message":{"messageId":6000002,"type":"rosterUpdate","subscriptionIndex":9999,"updates":[{"participant":"p1","name":"Alice Exa`,
			`{"type":"message","message":{"messageId":6000003,"type":"rosterUpdate","subscriptionIndex":9999,"updates":[{"name":"Al"ice","uri":"alice@example.org","state":"Bob"x}]}}`,
			// an unknown type, whose every element is unknown
			`{"type":"message","message":{"messageId":6000004,"type":"fancyNewUpdate","callerIdName":"Alice","remoteAddress":"10.1.2.3"}}`,
		}
		for i, f := range frames {
			if n := c.InjectNumbered(node, []byte(f), 6000000+int64(i)); n != 1 {
				t.Fatalf("injected into %d connections", n)
			}
		}
		startAndSee(t, c, rec, mark, "after")
		lines := logs.Lines("unusable message")
		if len(lines) < len(frames) {
			t.Fatalf("full=%v: %d unusable-message lines, want %d or more:\n%s", full, len(lines), len(frames), logs.String())
		}
		out := logs.String()
		leaked := slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(out, s) })
		switch {
		case !full && leaked:
			t.Errorf("a name or address reached the log at info level:\n%s", out)
		case full && !leaked:
			t.Errorf("with LogFullFrames the frames are not logged as they arrived:\n%s", out)
		}
		if !full && !strings.Contains(out, `frame="{\"type\":\"message\",\"message\":{\"messageId\":6000001,\"type\":\"rosterUpdate\"`) {
			t.Errorf("the redacted dump lost the protocol words:\n%s", out)
		}
	}
}

// A calls snapshot that lost entries cannot say which calls are gone: the
// client subscribes again under a fresh index, so CMS sends a complete
// snapshot, rather than let the model sweep the calls it could not read.
func TestDamagedCallsSnapshotIsTakenAgain(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 17})
	corr, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: "before"})
	if err != nil {
		t.Fatal(err)
	}
	call := c.Truth().Meetings[corr].Calls[node]
	// A busy node: the answer to the sync request, which ends the
	// snapshot, comes a second after the snapshot.
	if err := c.DelayRequests(node, time.Second); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startClient(t, clientConfig(c, rec))
	pos, active := rec.waitFor(t, 0, "the calls subscription active", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventSubscriptionState && ev.State == cmsws.StateActive && ev.Subscription.Type == cmsws.ResourceCalls
	})
	first := active.Subscription.Index
	frame := fmt.Sprintf(`{"type":"message","message":{"messageId":7000000,"type":"callListUpdate","subscriptionIndex":%d,"updates":[{"call":42,"updateType":"add"}]}}`, first)
	if n := c.InjectRaw(node, []byte(frame)); n != 1 {
		t.Fatalf("injected into %d connections", n)
	}
	pos, again := rec.waitFor(t, pos, "the calls subscription active under a new index", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventSubscriptionState && ev.State == cmsws.StateActive &&
			ev.Subscription.Type == cmsws.ResourceCalls && ev.Subscription.Index != first
	})
	rec.waitFor(t, pos, "the new snapshot", func(ev cmsws.Event) bool {
		return ev.Kind == cmsws.EventMessage && ev.Message.Type == cmsws.TypeCallListUpdate &&
			*ev.Message.SubscriptionIndex == again.Subscription.Index &&
			slices.ContainsFunc(ev.Message.CallUpdates, func(u cmsws.CallUpdate) bool { return u.Call == call })
	})
}
