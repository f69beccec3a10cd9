package collector

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// Subscription indexes as the captured client used them.
const (
	idxRoster = 1
	idxInfo   = 2
	idxCalls  = 3
)

var (
	subCalls  = cmsws.Subscription{Index: idxCalls, Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}
	subRoster = cmsws.Subscription{Index: idxRoster, Type: cmsws.ResourceCallRoster, Call: "c-roster"}
	subInfo   = cmsws.Subscription{Index: idxInfo, Type: cmsws.ResourceCallInfo, Call: "c-roster"}
)

// harness drives a Collector with events as a cmsws client would emit them,
// on a fake clock.
type harness struct {
	t        testing.TB
	c        *Collector
	mu       sync.Mutex
	clock    time.Time
	sessions map[string]uint64
	msgID    map[string]int64
	// live are the subscriptions reported active and not deactivated
	// since, by session key and index: what a sync request's answer lists.
	live map[string]map[int]cmsws.Subscription
	// plan is what place has put into the collector's plan so far.
	plan map[string]planner.Connection
}

func newHarness(t testing.TB, o Options) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		clock:    time.Date(2020, 6, 2, 9, 0, 0, 0, time.UTC),
		sessions: make(map[string]uint64),
		msgID:    make(map[string]int64),
		live:     make(map[string]map[int]cmsws.Subscription),
	}
	o.Now = h.now
	h.c = New(o)
	return h
}

func (h *harness) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clock
}

// advance moves the clock and ticks, as Run would.
func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.clock = h.clock.Add(d)
	now := h.clock
	h.mu.Unlock()
	h.c.Tick(now)
}

func (h *harness) ev(node string, ev cmsws.Event) {
	ev.Node = node
	if ev.Session == 0 {
		ev.Session = h.sessions[node]
	}
	ev.Time = h.now()
	h.c.Handle(ev)
}

// connect opens a new session of the primary connection and activates the calls subscription,
// which starts a snapshot phase.
func (h *harness) connect(node string) {
	h.sessions[node]++
	h.msgID[node] = 0
	delete(h.live, node)
	h.ev(node, cmsws.Event{Kind: cmsws.EventConnected})
	h.subState(node, subCalls, cmsws.StatePending)
	h.subState(node, subCalls, cmsws.StateActive)
}

func (h *harness) disconnect(node, reason string) {
	h.ev(node, cmsws.Event{Kind: cmsws.EventDisconnected, Reason: reason})
}

func (h *harness) subState(node string, sub cmsws.Subscription, state string) {
	h.subStateOn(node, 0, sub, state)
}

func (h *harness) msg(node string, m *cmsws.Message, sub *cmsws.Subscription) {
	h.msgID[node]++
	m.MessageID = h.msgID[node]
	if sub != nil {
		idx := sub.Index
		m.SubscriptionIndex = &idx
	}
	h.ev(node, cmsws.Event{Kind: cmsws.EventMessage, Message: m, Subscription: sub})
}

// calls delivers one callListUpdate on the calls subscription.
func (h *harness) calls(node string, updates ...cmsws.CallUpdate) {
	sub := subCalls
	h.msg(node, &cmsws.Message{Type: cmsws.TypeCallListUpdate, CallUpdates: updates}, &sub)
}

// synced connects a node and ends its (empty or given) snapshot by the
// answer to the client's sync request, so what follows is live.
func (h *harness) synced(node string, snapshot ...cmsws.CallUpdate) {
	h.connect(node)
	if len(snapshot) > 0 {
		h.calls(node, snapshot...)
	}
	h.sync(node, 0)
	if h.value("cms_events_synced", "node", node) != 1 {
		h.t.Fatalf("node %s not synced after its sync answer", node)
	}
}

// expect compares the named families of the collector with text, an
// exposition without HELP lines and with labels in any order (see
// collectAndCompare).
func (h *harness) expect(text string, names ...string) {
	h.t.Helper()
	if err := collectAndCompare(h.c, text, names...); err != nil {
		h.t.Fatal(err)
	}
}

// collectAndCompare is testutil.CollectAndCompare for expectations written
// as a reader thinks of them: without HELP lines, which testutil compares
// too (each family gets the help metricTable gives it), and with labels in
// any order (testutil wants them sorted by name, as the registry does).
func collectAndCompare(c prometheus.Collector, expected string, names ...string) error {
	want, err := expectation(expected)
	if err != nil {
		return err
	}
	return promtestutil.CollectAndCompare(c, want, names...)
}

// expectation is text with HELP lines from metricTable and sorted labels.
func expectation(text string) (io.Reader, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("expected metrics: %w", err)
	}
	help := make(map[string]string, len(metricTable))
	for _, def := range metricTable {
		help[def.name] = def.help
	}
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		mf := fams[name]
		if h, ok := help[name]; ok {
			mf.Help = &h
		}
		for _, m := range mf.GetMetric() {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			return nil, fmt.Errorf("expected metrics: %w", err)
		}
	}
	return &b, nil
}

// Call update builders. add() starts from a plausible complete add of a
// running, unlocked coSpace call; options override elements.

type opt func(*cmsws.CallUpdate)

func add(id, correlator string, opts ...opt) cmsws.CallUpdate {
	u := cmsws.CallUpdate{Call: id, UpdateType: cmsws.UpdateAdd, CallElements: cmsws.CallElements{
		Name:                 cmsws.Set("Space " + id),
		Participants:         cmsws.Set(1),
		DistributedInstances: cmsws.Set(0),
		Recording:            cmsws.Set("inactive"),
		EndpointRecording:    cmsws.Set("inactive"),
		Streaming:            cmsws.Set("inactive"),
		LockState:            cmsws.Set("notLocked"),
		CallType:             cmsws.Set("coSpace"),
		CallCorrelator:       cmsws.Set(correlator),
	}}
	if correlator == "" {
		u.CallCorrelator = cmsws.NullField[string]()
	}
	for _, o := range opts {
		o(&u)
	}
	return u
}

func upd(id string, opts ...opt) cmsws.CallUpdate {
	u := cmsws.CallUpdate{Call: id, UpdateType: cmsws.UpdateUpdate}
	for _, o := range opts {
		o(&u)
	}
	return u
}

func rm(id string) cmsws.CallUpdate {
	return cmsws.CallUpdate{Call: id, UpdateType: cmsws.UpdateRemove, Reason: cmsws.Set("allLeft")}
}

func participants(n int) opt { return func(u *cmsws.CallUpdate) { u.Participants = cmsws.Set(n) } }
func recording(v string) opt { return func(u *cmsws.CallUpdate) { u.Recording = cmsws.Set(v) } }
func streaming(v string) opt { return func(u *cmsws.CallUpdate) { u.Streaming = cmsws.Set(v) } }
func lock(v string) opt      { return func(u *cmsws.CallUpdate) { u.LockState = cmsws.Set(v) } }
func callType(v string) opt  { return func(u *cmsws.CallUpdate) { u.CallType = cmsws.Set(v) } }
func name(v string) opt      { return func(u *cmsws.CallUpdate) { u.Name = cmsws.Set(v) } }
func correlator(v string) opt {
	return func(u *cmsws.CallUpdate) { u.CallCorrelator = cmsws.Set(v) }
}

// The counter families, for expectations that cover all of them.
var counterNames = []string{
	"cms_meetings_started_total", "cms_meetings_ended_total",
	"cms_recordings_started_total", "cms_recordings_stopped_total",
	"cms_streams_started_total", "cms_streams_stopped_total",
	"cms_meetings_locked_total", "cms_meetings_unlocked_total",
}

// counters renders the eight transition counters as exposition text, in
// counterNames order.
func counters(v ...int) string {
	var s string
	for i, n := range counterNames {
		s += "# TYPE " + n + " counter\n" + n + " " + strconv.Itoa(v[i]) + "\n"
	}
	return s
}

// value is the single series of name with the given label pairs (k, v, ...).
func (h *harness) value(name string, kv ...string) float64 {
	h.t.Helper()
	want := make(map[string]string)
	for i := 0; i+1 < len(kv); i += 2 {
		want[kv[i]] = kv[i+1]
	}
	v, ok, err := value(h.c, name, want)
	if err != nil {
		h.t.Fatal(err)
	}
	if !ok {
		h.t.Fatalf("no single series %s%v", name, want)
	}
	return v
}

// errors is cms_events_message_errors_total for a node and reason.
func (h *harness) errors(node, reason string) float64 {
	h.t.Helper()
	return h.value("cms_events_message_errors_total", "node", node, "reason", reason)
}

// synced renders cms_events_synced of a node.
func synced(node string, v int) string {
	return "# TYPE cms_events_synced gauge\ncms_events_synced{node=\"" + node + "\"} " + strconv.Itoa(v) + "\n"
}

// setTestPlan gives c a plan as the planner would: placements by meeting
// key, the skipped and excluded keys, and per connection the length of its
// subscription set (used) and its limit (nil: CMS's).
func setTestPlan(c *Collector, placements map[string]planner.Connection, skipped, excluded []string, used, limits map[planner.Connection]int) {
	p := planner.Plan{Placements: map[string]planner.Placement{}, Skipped: skipped, Excluded: excluded, Limits: limits}
	for key, conn := range placements {
		p.Placements[key] = planner.Placement{Connection: conn}
	}
	sets := make(map[planner.Connection][]cmsws.Subscription, len(used))
	for conn, n := range used {
		sets[conn] = make([]cmsws.Subscription, n)
	}
	c.SetPlan(p, sets)
}

// Per-connection harness helpers. Connection 0 numbers its sessions under
// the node's name, as ev and connect do; connection k under "node#k".

func sessionKey(node string, conn int) string {
	if conn == 0 {
		return node
	}
	return node + "#" + strconv.Itoa(conn)
}

func (h *harness) evOn(node string, conn int, ev cmsws.Event) {
	ev.Node = node
	ev.Connection = conn
	if ev.Session == 0 {
		ev.Session = h.sessions[sessionKey(node, conn)]
	}
	ev.Time = h.now()
	h.c.Handle(ev)
}

// connectOn opens a new session of an extra connection (no calls there).
func (h *harness) connectOn(node string, conn int) {
	h.sessions[sessionKey(node, conn)]++
	delete(h.live, sessionKey(node, conn))
	h.evOn(node, conn, cmsws.Event{Kind: cmsws.EventConnected})
}

func (h *harness) disconnectOn(node string, conn int, reason string) {
	h.evOn(node, conn, cmsws.Event{Kind: cmsws.EventDisconnected, Reason: reason})
}

func (h *harness) subStateOn(node string, conn int, sub cmsws.Subscription, state string) {
	h.listOn(node, conn, state, sub)
}

// listOn delivers one subscriptionUpdate listing subs in state, and the
// client's per-subscription events, and keeps track of the live ones.
func (h *harness) listOn(node string, conn int, state string, subs ...cmsws.Subscription) {
	k := sessionKey(node, conn)
	st := make([]cmsws.SubscriptionStatus, len(subs))
	for i, sub := range subs {
		st[i] = cmsws.SubscriptionStatus{Index: sub.Index, State: state}
	}
	h.msgOn(node, conn, &cmsws.Message{Type: cmsws.TypeSubscriptionUpdate, Statuses: st}, nil)
	for _, sub := range subs {
		switch state {
		case cmsws.StateActive:
			if h.live[k] == nil {
				h.live[k] = map[int]cmsws.Subscription{}
			}
			h.live[k][sub.Index] = sub
		case cmsws.StateDeactivated:
			delete(h.live[k], sub.Index)
		}
		h.evOn(node, conn, cmsws.Event{Kind: cmsws.EventSubscriptionState, Subscription: &sub, State: state})
	}
}

// sync delivers what CMS answers the client's sync request with: the live
// subscriptions of the connection listed pending, then active. Queued behind
// every snapshot sent before, it ends them.
func (h *harness) sync(node string, conn int) {
	var subs []cmsws.Subscription
	for _, sub := range h.live[sessionKey(node, conn)] {
		subs = append(subs, sub)
	}
	slices.SortFunc(subs, func(a, b cmsws.Subscription) int { return a.Index - b.Index })
	h.listOn(node, conn, cmsws.StatePending, subs...)
	h.listOn(node, conn, cmsws.StateActive, subs...)
}

func (h *harness) msgOn(node string, conn int, m *cmsws.Message, sub *cmsws.Subscription) {
	k := sessionKey(node, conn)
	h.msgID[k]++
	m.MessageID = h.msgID[k]
	if sub != nil {
		idx := sub.Index
		m.SubscriptionIndex = &idx
	}
	h.evOn(node, conn, cmsws.Event{Kind: cmsws.EventMessage, Message: m, Subscription: sub})
}

// gatherAll gathers c through a pedantic registry.
func gatherAll(c prometheus.Collector) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return reg.Gather()
}

// value returns the value of the one series of family name whose labels
// include all of want, and whether there is exactly one.
func value(c prometheus.Collector, name string, want map[string]string) (float64, bool, error) {
	mfs, err := gatherAll(c)
	if err != nil {
		return 0, false, err
	}
	var found []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if !hasLabel(m, k, v) {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				found = append(found, m.Gauge.GetValue())
			case m.Counter != nil:
				found = append(found, m.Counter.GetValue())
			}
		}
	}
	if len(found) != 1 {
		return 0, false, nil
	}
	return found[0], true, nil
}

func hasLabel(m *dto.Metric, name, val string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name && lp.GetValue() == val {
			return true
		}
	}
	return false
}
