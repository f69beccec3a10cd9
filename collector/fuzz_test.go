package collector

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// FuzzModel drives a Collector with a sequence of events made from the
// input and checks the exposition after every step: it gathers through a
// pedantic registry without error, no series was dropped from the scrape,
// no value is NaN or infinite, no gauge is negative, and no counter went
// down while its series stayed.
//
// The input is read line by line. A line that starts with '{' is a server
// frame, decoded by cmsws.DecodeFrame and delivered as the client would
// (subscriptionUpdate entries as subscription states, updates with the
// subscription their index names) on the connection last targeted. Any
// other line is byte code: each op and its operands are bytes, mapped onto
// small pools of nodes, ids, names and values chosen to collide (ids that
// clean alike, correlators shared between calls) and to break rules
// (implausible counts, invalid values, stale sessions, impossible
// connection numbers). The planner is the real one, stepped by an op, and
// the driver plays the client's part of assigning subscription indexes.
func FuzzModel(f *testing.F) {
	for _, s := range fuzzSeeds(f, false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d := newFuzzDriver(t)
		d.maxSteps = maxFuzzSteps
		d.run(in)
	})
}

// maxFuzzSteps bounds the steps (ops and frames) of one input: the
// mutator grows inputs to megabytes, and a gather per step would make each
// take minutes. The seeds take far fewer.
const maxFuzzSteps = 400

// Pools the byte code picks from. Index 0 is the common case.
var (
	fuzzNodes   = []string{"a", "b", "c"}
	fuzzConns   = []int{0, 0, 1, 2, 99, -1}
	fuzzCallIDs = []string{"c1", "c2", "c3", "c-roster", "835b808c-eb3d-4b6f-b82b-c312eb86cba0",
		strings.Repeat("x", maxLabelLen) + "1", strings.Repeat("x", maxLabelLen) + "2",
		"c\xff", "c\xfe", "c\uFFFD", ""}
	fuzzCorrelators = []string{"m1", "m2", "", "ffe3cfd2-deb1-4050-9133-f02e57af45b6",
		strings.Repeat("m", maxLabelLen) + "1", strings.Repeat("m", maxLabelLen) + "2", "m\xff", "m\xfe"}
	fuzzNames = []string{"Board", "", "Board [private]", "x\xff", strings.Repeat("é", maxLabelLen)}
	fuzzInts  = []int{1, 0, 2, 5, -1, maxCallParticipants, maxCallParticipants + 1, maxDistributedInstances,
		maxDistributedInstances + 1, 2147483648000, math.MaxInt, math.MinInt}
	fuzzParticipants = []string{"p1", "p2", "p3", "a54f9ec3-6604-4cb1-bf7c-5afe20b2f0e2",
		"00000001-0000-4000-8000-000000000001", "", strings.Repeat("p", maxParticipantIDLen+1)}
	fuzzUpdateTypes = []string{cmsws.UpdateAdd, cmsws.UpdateUpdate, cmsws.UpdateRemove, "bogus"}
	fuzzActive      = []string{"active", "inactive", "bogus"}
	fuzzLock        = []string{"notLocked", "locked", "unlocked", "bogus"}
	fuzzCallTypes   = []string{"coSpace", "adHoc", "forwarding", "bogus"}
	fuzzStates      = []string{"connected", "initial", "ringing", "onHold", "bogus", ""}
	fuzzReasons     = []string{"callEnded", "timeout", "bogus"}
	fuzzSubStates   = []string{cmsws.StateActive, cmsws.StatePending, cmsws.StateDeactivated, "bogus"}
	fuzzDurations   = []time.Duration{250 * time.Millisecond, 0, time.Second, 5 * time.Second, 61 * time.Second,
		16 * time.Minute}
	fuzzEventReasons = []string{cmsws.DisconnectReadError, cmsws.ConnectFailureAuth, cmsws.ReasonMalformedJSON,
		cmsws.MessageErrorSequence, "bogus"}
	fuzzNameModes = []NameMode{NamesShow, NamesHash, NamesOmit, "bogus"}
)

// Ops of the byte code.
const (
	opConnect byte = iota
	opDisconnect
	opSubState
	opSync
	opCalls
	opRoster
	opTick
	opPlan
	opMisc
	opAdmin
	// opNop keeps byte 10, a line's end, from being an op the seeds need.
	opNop
	opDeclare
	opStale
	numOps
)

type fuzzConn struct {
	node string
	conn int
}

type fuzzDriver struct {
	t      *testing.T
	c      *Collector
	runner *planner.Runner
	reg    *prometheus.Registry
	clock  time.Time
	nodes  map[string]bool
	// target is the connection frames go to: the last one an op named.
	target   fuzzConn
	sessions map[fuzzConn]uint64
	// subs are each connection's subscriptions by index, as its client
	// would hold them; keys give a subscription its index, never reused.
	subs      map[fuzzConn]map[int]cmsws.Subscription
	keys      map[fuzzConn]map[cmsws.Key]int
	nextIndex map[fuzzConn]int
	// counters are the counter values of the previous gather.
	counters map[string]float64
	// dropped records the renderer's complaints of series it could not
	// build (a gather does not fail for those: they are left out).
	dropped []string
	in      []byte
	pos     int
	// steps counts the steps run; maxSteps, if not 0, ends the run.
	steps, maxSteps int
	// checkEvery, if above 1, checks after every checkEvery-th step only
	// (and at the end): for long replays, where a gather per step is most
	// of the cost.
	checkEvery int
}

func newFuzzDriver(t *testing.T) *fuzzDriver {
	d := &fuzzDriver{
		t:         t,
		clock:     time.Date(2020, 6, 2, 9, 0, 0, 0, time.UTC),
		nodes:     map[string]bool{},
		target:    fuzzConn{node: "a"},
		sessions:  map[fuzzConn]uint64{},
		subs:      map[fuzzConn]map[int]cmsws.Subscription{},
		keys:      map[fuzzConn]map[cmsws.Key]int{},
		nextIndex: map[fuzzConn]int{},
	}
	logger := log.LoggerFunc(func(kv ...any) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == "msg" {
				if msg, ok := kv[i+1].(string); ok && strings.Contains(msg, "dropped from the scrape") {
					d.dropped = append(d.dropped, fmt.Sprint(kv...))
				}
			}
		}
		return nil
	})
	d.c = New(Options{Logger: logger, PerCallMetrics: true, Now: func() time.Time { return d.clock }})
	d.runner = planner.NewRunner(d.c, d, planner.Options{Exclude: []*regexp.Regexp{regexp.MustCompile(`\[private\]`)}})
	d.reg = prometheus.NewPedanticRegistry()
	if err := d.reg.Register(d.c); err != nil {
		t.Fatal(err)
	}
	for _, n := range fuzzNodes[:2] {
		d.addNode(n)
	}
	return d
}

// addNode adds a node and gives its connections their clients' initial
// sets, as the supervisor's clients start with.
func (d *fuzzDriver) addNode(name string) {
	d.c.AddNode(name)
	d.nodes[name] = true
	for conn := range 3 {
		d.SetSubscriptions(name, conn, planner.BaseSet(conn))
	}
}

// SetSubscriptions is the clients' side of the planner: each new
// subscription gets the connection's next index, as a cmsws client does.
func (d *fuzzDriver) SetSubscriptions(node string, number int, subs []cmsws.Subscription) bool {
	if !d.nodes[node] {
		return false
	}
	k := fuzzConn{node, number}
	if d.keys[k] == nil {
		d.keys[k] = map[cmsws.Key]int{}
	}
	set := map[int]cmsws.Subscription{}
	for _, s := range subs {
		idx, ok := d.keys[k][s.Key()]
		if !ok {
			d.nextIndex[k]++
			idx = d.nextIndex[k]
			d.keys[k][s.Key()] = idx
		}
		s.Index = idx
		set[idx] = s
	}
	d.subs[k] = set
	return true
}

func (d *fuzzDriver) next() byte {
	if d.pos >= len(d.in) {
		return 0
	}
	b := d.in[d.pos]
	d.pos++
	return b
}

func pick[T any](d *fuzzDriver, pool []T) T { return pool[int(d.next())%len(pool)] }

func (d *fuzzDriver) pickConn() fuzzConn {
	b := d.next()
	d.target = fuzzConn{node: fuzzNodes[int(b)%len(fuzzNodes)], conn: fuzzConns[int(b/4)%len(fuzzConns)]}
	return d.target
}

func (d *fuzzDriver) run(in []byte) {
	for line := range bytes.SplitSeq(in, []byte{'\n'}) {
		if d.maxSteps > 0 && d.steps >= d.maxSteps {
			return
		}
		if len(line) > 0 && line[0] == '{' {
			d.steps++
			d.frame(line)
			d.maybeCheck("frame")
			continue
		}
		d.in, d.pos = line, 0
		for d.pos < len(d.in) && (d.maxSteps == 0 || d.steps < d.maxSteps) {
			d.steps++
			op := d.next() % numOps
			d.step(op)
			d.maybeCheck(fmt.Sprintf("op %d", op))
		}
	}
	d.check("the end")
}

func (d *fuzzDriver) maybeCheck(step string) {
	if d.checkEvery <= 1 || d.steps%d.checkEvery == 0 {
		d.check(fmt.Sprintf("step %d (%s)", d.steps, step))
	}
}

func (d *fuzzDriver) emit(k fuzzConn, ev cmsws.Event) {
	ev.Node, ev.Connection = k.node, k.conn
	if ev.Session == 0 {
		ev.Session = d.sessions[k]
	}
	ev.Time = d.clock
	d.c.Handle(ev)
}

// sorted returns a connection's subscriptions in index order.
func (d *fuzzDriver) sorted(k fuzzConn) []cmsws.Subscription {
	var out []cmsws.Subscription
	for _, s := range d.subs[k] {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b cmsws.Subscription) int { return a.Index - b.Index })
	return out
}

// subOf picks a subscription of k of the given resource, or nil.
func (d *fuzzDriver) subOf(k fuzzConn, r cmsws.Resource) *cmsws.Subscription {
	b := int(d.next())
	var of []cmsws.Subscription
	for _, s := range d.sorted(k) {
		if s.Type == r {
			of = append(of, s)
		}
	}
	if len(of) == 0 {
		return nil
	}
	s := of[b%len(of)]
	return &s
}

func (d *fuzzDriver) step(op byte) {
	switch op {
	case opConnect:
		k := d.pickConn()
		d.sessions[k]++
		d.emit(k, cmsws.Event{Kind: cmsws.EventConnected})
	case opDisconnect:
		k := d.pickConn()
		d.emit(k, cmsws.Event{Kind: cmsws.EventDisconnected, Reason: pick(d, fuzzEventReasons)})
	case opSubState:
		k := d.pickConn()
		b, state := int(d.next()), pick(d, fuzzSubStates)
		if subs := d.sorted(k); len(subs) > 0 {
			s := subs[b%len(subs)]
			d.emit(k, cmsws.Event{Kind: cmsws.EventSubscriptionState, Subscription: &s, State: state})
		}
	case opSync:
		// The answer to a sync request: every subscription listed
		// pending, then active.
		k := d.pickConn()
		for _, state := range []string{cmsws.StatePending, cmsws.StateActive} {
			for _, s := range d.sorted(k) {
				d.emit(k, cmsws.Event{Kind: cmsws.EventSubscriptionState, Subscription: &s, State: state})
			}
		}
	case opCalls:
		k := d.pickConn()
		sub := d.subOf(k, cmsws.ResourceCalls)
		updates := make([]cmsws.CallUpdate, 1+int(d.next())%3)
		for i := range updates {
			updates[i] = d.callUpdate()
		}
		d.message(k, &cmsws.Message{Type: cmsws.TypeCallListUpdate, CallUpdates: updates}, sub)
	case opRoster:
		k := d.pickConn()
		sub := d.subOf(k, cmsws.ResourceCallRoster)
		updates := make([]cmsws.RosterUpdate, 1+int(d.next())%3)
		for i := range updates {
			updates[i] = d.rosterUpdate()
		}
		d.message(k, &cmsws.Message{Type: cmsws.TypeRosterUpdate, RosterUpdates: updates}, sub)
	case opTick:
		d.clock = d.clock.Add(pick(d, fuzzDurations))
		d.c.Tick(d.clock)
	case opPlan:
		d.runner.Step()
	case opMisc:
		d.misc()
	case opAdmin:
		d.admin()
	case opDeclare:
		// A subscription at an index of the input's choosing, for frames
		// recorded with other indexes (the captures).
		k := d.pickConn()
		idx := int(d.next() % 8)
		s := cmsws.Subscription{Index: idx}
		switch d.next() % 3 {
		case 0:
			s.Type = cmsws.ResourceCalls
		case 1:
			s.Type, s.Call = cmsws.ResourceCallRoster, pick(d, fuzzCallIDs)
		default:
			s.Type, s.Call = cmsws.ResourceCallInfo, pick(d, fuzzCallIDs)
		}
		if d.subs[k] == nil {
			d.subs[k] = map[int]cmsws.Subscription{}
		}
		d.subs[k][idx] = s
		// The planner's sets keep it there, as a client keeps an index.
		if d.keys[k] == nil {
			d.keys[k] = map[cmsws.Key]int{}
		}
		for key, i := range d.keys[k] {
			if i == idx {
				delete(d.keys[k], key)
			}
		}
		d.keys[k][s.Key()] = idx
		d.nextIndex[k] = max(d.nextIndex[k], idx)
	case opStale:
		// A leftover of the previous session.
		k := d.pickConn()
		d.emit(k, cmsws.Event{Kind: cmsws.EventMessage, Session: max(d.sessions[k], 1) - 1,
			Message:      &cmsws.Message{Type: cmsws.TypeCallListUpdate, CallUpdates: []cmsws.CallUpdate{d.callUpdate()}},
			Subscription: d.subOf(k, cmsws.ResourceCalls)})
	}
}

func (d *fuzzDriver) message(k fuzzConn, m *cmsws.Message, sub *cmsws.Subscription) {
	if sub != nil {
		idx := sub.Index
		m.SubscriptionIndex = &idx
	}
	d.emit(k, cmsws.Event{Kind: cmsws.EventMessage, Message: m, Subscription: sub})
}

// field makes one element: absent, null, invalid or a value from pool.
func field[T any](d *fuzzDriver, pool []T) cmsws.Field[T] {
	switch b := d.next(); b % 4 {
	case 1:
		return cmsws.NullField[T]()
	case 2:
		return cmsws.Field[T]{State: cmsws.Invalid, Raw: `{"x":1}`}
	case 3:
		return cmsws.Field[T]{}
	default:
		return cmsws.Set(pool[int(b/4)%len(pool)])
	}
}

func (d *fuzzDriver) callUpdate() cmsws.CallUpdate {
	return cmsws.CallUpdate{
		Call:       pick(d, fuzzCallIDs),
		UpdateType: pick(d, fuzzUpdateTypes),
		Reason:     field(d, fuzzReasons),
		CallElements: cmsws.CallElements{
			Name:                 field(d, fuzzNames),
			Participants:         field(d, fuzzInts),
			DistributedInstances: field(d, fuzzInts),
			Recording:            field(d, fuzzActive),
			EndpointRecording:    field(d, fuzzActive),
			Streaming:            field(d, fuzzActive),
			LockState:            field(d, fuzzLock),
			CallType:             field(d, fuzzCallTypes),
			CallCorrelator:       field(d, fuzzCorrelators),
		},
	}
}

func (d *fuzzDriver) rosterUpdate() cmsws.RosterUpdate {
	bools := []bool{false, true}
	return cmsws.RosterUpdate{
		Participant:       pick(d, fuzzParticipants),
		UpdateType:        pick(d, fuzzUpdateTypes),
		Reason:            field(d, fuzzReasons),
		State:             field(d, fuzzStates),
		Direction:         field(d, []string{"incoming", "outgoing", "bogus"}),
		AudioMuted:        field(d, bools),
		VideoMuted:        field(d, bools),
		TxAudioMuted:      field(d, bools),
		TxVideoMuted:      field(d, bools),
		Layout:            field(d, []string{"allEqual", "bogus"}),
		ActiveSpeaker:     field(d, bools),
		Presenter:         field(d, bools),
		EndpointRecording: field(d, fuzzActive),
		MovedParticipant:  field(d, fuzzParticipants),
	}
}

func (d *fuzzDriver) misc() {
	k := d.pickConn()
	switch d.next() % 9 {
	case 0:
		d.emit(k, cmsws.Event{Kind: cmsws.EventConnectFailed, Reason: pick(d, fuzzEventReasons)})
	case 1:
		d.emit(k, cmsws.Event{Kind: cmsws.EventMessageError, Reason: pick(d, fuzzEventReasons)})
	case 2:
		d.emit(k, cmsws.Event{Kind: cmsws.EventRequestFailed, Reason: "failure\xff", Err: errors.New("refused")})
	case 3:
		d.emit(k, cmsws.Event{Kind: cmsws.EventProbe, Latency: pick(d, fuzzDurations)})
	case 4:
		d.emit(k, cmsws.Event{Kind: cmsws.EventConnecting})
	case 5:
		d.emit(k, cmsws.Event{Kind: cmsws.EventKind(99)})
	case 6:
		d.emit(k, cmsws.Event{Kind: cmsws.EventMessage})
	case 7:
		d.emit(k, cmsws.Event{Kind: cmsws.EventSubscriptionState, State: cmsws.StateActive})
	default:
		// A message type the model only counts, or does not know.
		d.message(k, &cmsws.Message{Type: pick(d, []string{cmsws.TypeCallInfoUpdate, "bogus"})},
			d.subOf(k, cmsws.ResourceCallInfo))
	}
}

func (d *fuzzDriver) admin() {
	node := pick(d, fuzzNodes)
	switch d.next() % 6 {
	case 0:
		d.addNode(node)
	case 1:
		d.c.RemoveNode(node)
		delete(d.nodes, node)
	case 2:
		d.c.SetKeepCallsWhenDown(map[string]time.Duration{node: pick(d, fuzzDurations) - time.Second})
	case 3:
		d.c.SetCapacity(map[string]int{node: pick(d, fuzzInts)})
	case 4:
		d.c.SetPerCallMetrics(d.next()%2 == 0)
	default:
		d.c.SetMeetingNames(pick(d, fuzzNameModes))
	}
}

// frame delivers a server frame on the target connection as its client
// would.
func (d *fuzzDriver) frame(line []byte) {
	k := d.target
	fr, err := cmsws.DecodeFrame(line)
	if err != nil {
		reason := cmsws.ReasonMalformedJSON
		var de *cmsws.DecodeError
		if errors.As(err, &de) {
			reason = de.Reason
		}
		d.emit(k, cmsws.Event{Kind: cmsws.EventMessageError, Reason: reason, Err: err})
		return
	}
	m := fr.Message
	if m == nil {
		return
	}
	if m.Type == cmsws.TypeSubscriptionUpdate {
		d.emit(k, cmsws.Event{Kind: cmsws.EventMessage, Message: m})
		for _, st := range m.Statuses {
			if s, ok := d.subs[k][st.Index]; ok {
				d.emit(k, cmsws.Event{Kind: cmsws.EventSubscriptionState, Subscription: &s, State: st.State})
			}
		}
		return
	}
	var sub *cmsws.Subscription
	if m.SubscriptionIndex != nil {
		s, ok := d.subs[k][*m.SubscriptionIndex]
		if !ok {
			d.emit(k, cmsws.Event{Kind: cmsws.EventMessageError, Reason: cmsws.MessageErrorUnknownSubscription})
		} else {
			sub = &s
		}
	}
	d.emit(k, cmsws.Event{Kind: cmsws.EventMessage, Message: m, Subscription: sub})
}

// check gathers and checks the exposition.
func (d *fuzzDriver) check(step string) {
	d.t.Helper()
	mfs, err := d.reg.Gather()
	if err != nil {
		d.t.Fatalf("after %s: gather: %v", step, err)
	}
	if len(d.dropped) > 0 {
		d.t.Fatalf("after %s: series dropped from the scrape: %s", step, d.dropped[0])
	}
	counters := make(map[string]float64, len(d.counters))
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			id := seriesID(mf.GetName(), m)
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
				if v < 0 && !strings.HasSuffix(mf.GetName(), "_drift") {
					d.t.Fatalf("after %s: negative gauge %s = %v", step, id, v)
				}
			case m.Counter != nil:
				v = m.Counter.GetValue()
				if prev, ok := d.counters[id]; ok && v < prev {
					d.t.Fatalf("after %s: counter %s went down from %v to %v", step, id, prev, v)
				}
				if v < 0 {
					d.t.Fatalf("after %s: negative counter %s = %v", step, id, v)
				}
				counters[id] = v
			case m.Histogram != nil:
				v = m.Histogram.GetSampleSum()
				if v < 0 {
					d.t.Fatalf("after %s: negative histogram sum %s = %v", step, id, v)
				}
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				d.t.Fatalf("after %s: %s = %v", step, id, v)
			}
		}
	}
	d.counters = counters
}

func seriesID(name string, m *dto.Metric) string {
	var b strings.Builder
	b.WriteString(name)
	for _, lp := range m.GetLabel() {
		fmt.Fprintf(&b, ",%s=%q", lp.GetName(), lp.GetValue())
	}
	return b.String()
}

// fuzzSeed builds byte code by op, with operands as pool indexes.
type fuzzSeed struct{ b []byte }

// op appends an op and its operands. No byte may be '\n', which would end
// the line (a line starting with '{' is a frame, but a line of byte code
// starts with an op, all below '{').
func (s *fuzzSeed) op(op byte, operands ...int) *fuzzSeed {
	s.b = append(s.b, op)
	for _, v := range operands {
		if v == '\n' || v < 0 || v > 255 {
			panic(fmt.Sprintf("fuzz seed operand %d", v))
		}
		s.b = append(s.b, byte(v))
	}
	return s
}

// conn is the operand byte of node n, connection index c of fuzzConns.
func conn(n, c int) int { return n + 4*c }

// frames appends recorded frames, one a line.
func (s *fuzzSeed) frames(lines ...[]byte) *fuzzSeed {
	for _, l := range lines {
		s.b = append(s.b, '\n')
		s.b = append(s.b, l...)
	}
	s.b = append(s.b, '\n')
	return s
}

// valid is the operand of a field holding pool value i.
func valid(i int) int { return 4 * i }

// callAdd is the operands of one call update: call and correlator by pool
// index, the other elements valid with their first pool value.
func callAdd(call, updateType, corr, participants int) []int {
	return []int{call, updateType, 3, valid(0), valid(participants), valid(0), valid(1), valid(1), valid(1),
		valid(0), valid(0), valid(corr)}
}

// rosterOp is the operands of one roster update: participant, update type
// and state by pool index, reason absent unless given, nothing else sent.
func rosterOp(participant, updateType, state int, reason ...int) []int {
	r := 3
	if len(reason) > 0 {
		r = valid(reason[0])
	}
	st := valid(state)
	if state < 0 {
		st = 3
	}
	return []int{participant, updateType, r, st, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}
}

func ops(parts ...[]int) []int { return slices.Concat(parts...) }

// fuzzSeeds are the seeds of FuzzModel: scripted scenarios and the
// beginnings of the captures (whole: the whole captures instead, which
// TestModelReplaysCapturesChecked replays).
func fuzzSeeds(tb testing.TB, whole bool) [][]byte {
	var seeds [][]byte
	// A calls snapshot of two meetings on a, synced, planned, a roster
	// snapshot of c1 and a live join, a leave and an end.
	s := &fuzzSeed{}
	s.op(opConnect, conn(0, 0)).op(opSync, conn(0, 0))
	s.op(opCalls, append([]int{conn(0, 0), 0, 1}, append(callAdd(0, 0, 0, 2), callAdd(1, 0, 1, 0)...)...)...)
	s.op(opSync, conn(0, 0)).op(opPlan).op(opSync, conn(0, 0))
	s.op(opRoster, ops([]int{conn(0, 0), 0, 1}, rosterOp(0, 0, 0), rosterOp(1, 0, 0))...)
	s.op(opSync, conn(0, 0)).op(opRoster, ops([]int{conn(0, 0), 0, 0}, rosterOp(2, 0, 0))...)
	s.op(opRoster, ops([]int{conn(0, 0), 0, 0}, rosterOp(0, 2, -1, 1))...)
	s.op(opTick, 3).op(opCalls, append([]int{conn(0, 0), 0, 0}, callAdd(0, 1, 0, 5)...)...)
	s.op(opCalls, append([]int{conn(0, 0), 0, 0}, callAdd(0, 2, 0, 0)...)...)
	seeds = append(seeds, slices.Clone(s.b))
	// The same on node b too, then a reconnect of a, a down node expiring,
	// a removed and re-added node, the modes switched.
	s.op(opConnect, conn(1, 0)).op(opSync, conn(1, 0))
	s.op(opCalls, append([]int{conn(1, 0), 0, 0}, callAdd(5, 0, 4, 3)...)...)
	s.op(opSync, conn(1, 0)).op(opPlan)
	s.op(opAdmin, 0, 2, 3).op(opDisconnect, conn(0, 0), 0).op(opTick, 5).op(opTick, 4)
	s.op(opConnect, conn(0, 0)).op(opSync, conn(0, 0)).op(opPlan)
	s.op(opAdmin, 1, 1).op(opAdmin, 1, 0).op(opAdmin, 0, 5, 1).op(opAdmin, 0, 4, 1).op(opTick, 5)
	seeds = append(seeds, slices.Clone(s.b))
	// Colliding ids and implausible counts.
	s = &fuzzSeed{}
	s.op(opConnect, conn(0, 0)).op(opSync, conn(0, 0))
	s.op(opCalls, append([]int{conn(0, 0), 0, 2}, append(callAdd(5, 0, 4, 6), append(callAdd(6, 0, 5, 9), callAdd(7, 0, 6, 4)...)...)...)...)
	s.op(opCalls, append([]int{conn(0, 0), 0, 1}, append(callAdd(8, 0, 7, 11), callAdd(9, 0, 6, 1)...)...)...)
	s.op(opSync, conn(0, 0)).op(opPlan).op(opSync, conn(0, 0)).op(opTick, 3)
	seeds = append(seeds, s.b)

	if whole {
		seeds = seeds[:0]
	}
	// The captures: a node connected with the subscriptions at the
	// indexes the capturing client used (calls 3, roster 1, callInfo 2 for
	// the capture's call), then the recorded frames.
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no captures in %s: %v", captureDir, err)
	}
	sort.Strings(files)
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSpace(data), []byte{'\n'})
		s = &fuzzSeed{}
		s.op(opConnect, conn(0, 0)).op(opDeclare, conn(0, 0), 3, 0).op(opDeclare, conn(0, 0), 1, 1, 3).
			op(opDeclare, conn(0, 0), 2, 2, 3).op(opSync, conn(0, 0))
		s.op(opCalls, append([]int{conn(0, 0), 0, 0}, callAdd(3, 0, 0, 1)...)...).op(opSync, conn(0, 0))
		if whole {
			seeds = append(seeds, s.frames(lines...).b)
			continue
		}
		// The fuzzer works best on small inputs: the first frames, with
		// ticks and plans between.
		for i, l := range lines[:min(12, len(lines))] {
			s.frames(l)
			if i%4 == 3 {
				s.op(opTick, 2).op(opPlan)
			}
		}
		seeds = append(seeds, s.b)
	}
	return seeds
}

// TestModelReplaysCapturesChecked runs FuzzModel's checks over the whole
// captures, too big to be useful seeds, and checks that the seeds do reach
// the model: a driver that fed nothing through would pass every check.
func TestModelReplaysCapturesChecked(t *testing.T) {
	for _, in := range fuzzSeeds(t, true) {
		d := newFuzzDriver(t)
		d.checkEvery = 10 // the big capture has 757 frames
		d.run(in)
	}
	seeds := fuzzSeeds(t, false)
	d := newFuzzDriver(t)
	d.run(seeds[0])
	if v, _, _ := value(d.c, "cms_participants_joined_total", nil); v != 1 {
		t.Errorf("seed 0: joined = %v, want 1", v)
	}
	if v, _, _ := value(d.c, "cms_participants_left_total", map[string]string{"reason": "timeout"}); v != 1 {
		t.Errorf("seed 0: left = %v, want 1", v)
	}
	d = newFuzzDriver(t)
	d.run(seeds[2])
	if v, _, _ := value(d.c, "cms_cluster_meetings", map[string]string{"call_type": "coSpace"}); v != 4 {
		t.Errorf("seed 2: meetings = %v, want 4", v)
	}
	if v, _, _ := value(d.c, "cms_events_values_rejected_total", map[string]string{"node": "a", "element": "participants"}); v != 4 {
		t.Errorf("seed 2: rejected = %v, want 4", v)
	}
}
