package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
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

// The chaos soak: seeded random traffic on a three-node fake cluster,
// several connections per node, and seeded random faults in phases; after
// every phase the faults stop, the cluster goes quiet, and /metrics must
// equal the fake's truth (calls, meetings, rosters, counters, the nodes'
// REST books, no drift). A quiet point also sends every rude frame there
// is and checks each was counted exactly once. Replay a failure with the
// seed it prints:
//
//	CMS_SOAK_SEED=7 CMS_SOAK_DURATION=5m go test -run TestChaosSoak -v .

const (
	// soakDefaultDuration keeps the soak inside the normal test suite.
	soakDefaultDuration = 12 * time.Second
	// soakConnections spreads the roster subscriptions over connections
	// (CMS_SOAK_CONNECTIONS changes it).
	soakConnections = 3
	// quietWithin bounds how long a quiet point may take to match the
	// truth: the longest snapshot hold, a probe timeout, backoffs and a
	// few REST polls, with room for -race on a loaded machine.
	quietWithin = 60 * time.Second
	// soakGoroutineMargin is how many more goroutines the last quiet point
	// may hold than the first: timers and keep-alive connections come and
	// go, a leak per phase does not stay under it for long.
	soakGoroutineMargin = 40
)

// soakConfig is what the environment asks of the soak.
type soakConfig struct {
	seed        int64
	duration    time.Duration
	connections int
	// kinds limits the faults to these (CMS_SOAK_FAULTS=drop,restart),
	// to find which kind a divergence needs; nil: all.
	kinds []string
}

func soakConfigFromEnv(t *testing.T) soakConfig {
	t.Helper()
	c := soakConfig{seed: 1, duration: soakDefaultDuration, connections: soakConnections}
	if v := os.Getenv("CMS_SOAK_FAULTS"); v != "" {
		c.kinds = strings.Split(v, ",")
	}
	if v := os.Getenv("CMS_SOAK_CONNECTIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			t.Fatalf("CMS_SOAK_CONNECTIONS=%q: want 1 to 5", v)
		}
		c.connections = n
	}
	if v := os.Getenv("CMS_SOAK_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("CMS_SOAK_SEED=%q: %v", v, err)
		}
		c.seed = s
	}
	if v := os.Getenv("CMS_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CMS_SOAK_DURATION=%q: %v", v, err)
		}
		c.duration = d
	}
	return c
}

// logTail keeps the last bytes the exporter logged: enough to explain a
// failed check, bounded so a long soak does not grow the heap it measures.
type logTail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 2*l.max {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-l.max:]...)
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tail(string(l.buf), l.max)
}

// soak is one chaos run.
type soak struct {
	t       *testing.T
	cfg     soakConfig
	h       *harness
	c       *cmswstest.Cluster
	nodes   []string
	rng     *rand.Rand
	traffic *cmswstest.Traffic
	logs    *logTail
	kinds   []fault // the faults this run injects

	// generation bumps a node's settings: a reload restarts its clients.
	genMu      sync.Mutex
	generation map[string]int

	phase       int
	phaseFaults []string       // this phase's faults, in order, for a replay
	faults      map[string]int // per kind, over the run
	checks      int            // equality checks passed
	rudeSent    map[string]int // rude frames sent at quiet points, by reason
	// offsets are, per counter family, exporter minus ledger, as adopted
	// after chaos phases; apart sums how far they moved, above (exporter
	// counted more) and below the ledger, apartPhases in
	// how many phases.
	offsets     map[string]float64
	apart       map[string][2]float64
	apartPhases map[string]int

	// trafficStop ends the traffic goroutine; steps and stepErrors count
	// what it did.
	trafficStop       func()
	steps, stepErrors atomic.Int64

	// Per quiet point, after a GC.
	goroutines []int
	heaps      []uint64
}

// newSoakHarness is newHarnessBatch with the exporter's logs in a bounded
// tail, REST polling on, and a source whose per-node settings the soak can
// change, so a reload restarts exactly that node's clients.
func newSoakHarness(t *testing.T, s *soak) {
	t.Helper()
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 3, Seed: s.cfg.seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithCancel(context.Background())
	s.logs = &logTail{max: 16 << 10}
	h := &harness{t: t, cluster: cluster, logs: &testutil.SyncBuffer{}, nodes: cluster.Nodes(),
		connections: s.cfg.connections, batch: 100 * time.Millisecond, restInterval: restInterval}
	// CMS_SOAK_LOG names a file for every log line, debug included, to
	// replay a failure with.
	logger := level.NewFilter(log.NewLogfmtLogger(s.logs), level.AllowInfo())
	if path := os.Getenv("CMS_SOAK_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		tail, all := logger, log.NewLogfmtLogger(log.NewSyncWriter(f))
		logger = log.LoggerFunc(func(kv ...any) error {
			_ = tail.Log(kv...)
			return all.Log(kv...)
		})
	}
	h.x = newExporter(ctx, logger)
	h.x.source = func() (settings, error) {
		st, err := h.specs()
		s.genMu.Lock()
		defer s.genMu.Unlock()
		for i := range st.specs {
			st.specs[i].Settings = fmt.Sprint(st.specs[i].Settings, "#", s.generation[st.specs[i].Client.Name])
		}
		return st, err
	}
	h.start(cancel)
	s.h, s.c, s.nodes = h, cluster, cluster.Nodes()
}

func TestChaosSoak(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	s := &soak{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.seed), 0x63686f73)),
		generation: map[string]int{}, faults: map[string]int{}, rudeSent: map[string]int{},
		offsets: map[string]float64{}, apart: map[string][2]float64{}, apartPhases: map[string]int{}}
	for _, f := range faults {
		if cfg.kinds == nil || slices.Contains(cfg.kinds, f.kind) {
			s.kinds = append(s.kinds, f)
		}
	}
	if len(s.kinds) == 0 {
		t.Fatalf("CMS_SOAK_FAULTS=%v names no fault kind", cfg.kinds)
	}
	newSoakHarness(t, s)
	s.traffic = cmswstest.NewTraffic(s.c, cmswstest.TrafficOptions{Seed: cfg.seed, Meetings: 12})
	began := time.Now()

	// Meetings start once every node is watched (see Transitions).
	s.quiet("start", countersExact)
	for s.phase = 1; s.phase == 1 || time.Since(began) < cfg.duration; s.phase++ {
		s.runPhase()
		s.quiet(fmt.Sprintf("phase %d", s.phase), countersAdopt)
		// Rude frames need calls and rosters to be rude about: not before
		// traffic ran.
		if s.phase == 1 || s.rng.IntN(3) == 0 {
			s.rudeAtQuiet()
		}
		s.cleanWindow()
	}
	phases := s.phase - 1
	final := s.h.scrape()
	s.checkCounted(final)
	s.checkGrowth()

	st := s.c.Stats()
	var sent, accepted, requests int
	for _, ns := range st.Nodes {
		sent += ns.MessagesSent
		accepted += ns.Accepted
		requests += ns.SubscribeRequests
	}
	var kinds []string
	for k, v := range s.faults {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(kinds)
	var apart []string
	for f, v := range s.apart {
		apart = append(apart, fmt.Sprintf("%s=+%v-%v/%d", strings.TrimPrefix(f, "cms_"), v[0], v[1], s.apartPhases[f]))
	}
	slices.Sort(apart)
	t.Logf("chaos soak: seed=%d duration=%v phases=%d equality_checks_passed=%d faults{%s} "+
		"traffic_steps=%d traffic_step_errors=%d messages_sent=%d connections_accepted=%d subscribe_requests=%d "+
		"exporter_message_errors=%v counters_apart_from_ledger(+above-below/phases){%s} goroutines first/last/peak=%d/%d/%d heap_after_gc first/last/peak=%s/%s/%s",
		cfg.seed, time.Since(began).Round(time.Second), phases, s.checks, strings.Join(kinds, " "),
		s.steps.Load(), s.stepErrors.Load(), sent, accepted, requests,
		sumFamily(final, "cms_events_message_errors_total"), strings.Join(apart, " "),
		s.goroutines[0], s.goroutines[len(s.goroutines)-1], slices.Max(s.goroutines),
		mib(s.heaps[0]), mib(s.heaps[len(s.heaps)-1]), mib(slices.Max(s.heaps)))
}

func mib(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// startTraffic runs seeded traffic until stopTraffic: a step every few ms.
func (s *soak) startTraffic() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.step()
			}
		}
	}()
	s.trafficStop = func() { cancel(); <-done }
}

func (s *soak) step() {
	s.steps.Add(1)
	if err := s.traffic.Step(); err != nil {
		s.stepErrors.Add(1)
	}
}

func (s *soak) stopTraffic() {
	if s.trafficStop != nil {
		s.trafficStop()
		s.trafficStop = nil
	}
}

// fault is one kind of trouble; it returns what it did, for the record.
type fault struct {
	kind string
	do   func(s *soak, node string) string
}

// faults are every kind the soak injects. Each leaves behind at most what
// heal undoes.
var faults = []fault{
	{"drop", func(s *soak, n string) string { return fmt.Sprintf("dropped %d", s.c.DropConnections(n)) }},
	{"stall", func(s *soak, n string) string { return fmt.Sprintf("stalled %d", s.c.StallConnections(n)) }},
	{"restart", func(s *soak, n string) string { s.ok(s.c.RestartNode(n)); return "" }},
	{"expire_tokens", func(s *soak, n string) string {
		s.c.ExpireTokens(n)
		if s.rng.IntN(2) == 0 { // and make it matter
			return fmt.Sprintf("and dropped %d", s.c.DropConnections(n))
		}
		return ""
	}},
	{"delay_snapshots", func(s *soak, n string) string {
		res := []cmsws.Resource{"", cmsws.ResourceCalls, cmsws.ResourceCallRoster}[s.rng.IntN(3)]
		d := time.Duration(100+s.rng.IntN(1900)) * time.Millisecond
		s.ok(s.c.DelaySnapshots(n, res, d))
		return fmt.Sprintf("resource=%q %v, dropped %d", res, d, s.c.DropConnections(n))
	}},
	{"deactivate_calls", func(s *soak, n string) string {
		return fmt.Sprintf("deactivated %d", s.c.DeactivateCalls(n))
	}},
	{"reactivate_calls", func(s *soak, n string) string {
		replay := s.rng.IntN(2) == 0
		return fmt.Sprintf("replay=%v reactivated %d", replay, s.c.ReactivateCalls(n, replay))
	}},
	{"refuse_events", func(s *soak, n string) string { s.ok(s.c.RefuseEvents(n, true)); return "" }},
	{"unreachable", func(s *soak, n string) string { s.ok(s.c.SetUnreachable(n, true)); return "" }},
	{"delay_requests", func(s *soak, n string) string {
		d := time.Duration(50+s.rng.IntN(1200)) * time.Millisecond
		s.ok(s.c.DelayRequests(n, d))
		return d.String()
	}},
	{"reload_restart", func(s *soak, n string) string {
		s.genMu.Lock()
		s.generation[n]++
		s.genMu.Unlock()
		s.ok(s.h.x.reload())
		return ""
	}},
	{"reload_unchanged", func(s *soak, _ string) string { s.ok(s.h.x.reload()); return "" }},
	{"burst", func(s *soak, _ string) string {
		k := 50 + s.rng.IntN(400)
		for range k {
			s.step()
		}
		return fmt.Sprintf("%d steps", k)
	}},
	{"rude", func(s *soak, n string) string {
		r := rudeFrames[s.rng.IntN(len(rudeFrames))]
		return fmt.Sprintf("%s to %d", r.reason, r.send(s, n))
	}},
}

// cleanWindow runs traffic without faults, every node watched, and checks
// everything, the counters exactly (from the offsets adopted), after it:
// whatever the chaos did, the exporter counts right again.
func (s *soak) cleanWindow() {
	s.startTraffic()
	time.Sleep(time.Duration(200+s.rng.IntN(600)) * time.Millisecond)
	s.stopTraffic()
	s.quiet(fmt.Sprintf("clean window after phase %d", s.phase), countersExact)
}

// runPhase runs traffic and a few random faults for a moment, then heals.
func (s *soak) runPhase() {
	s.phaseFaults = s.phaseFaults[:0]
	s.startTraffic()
	for range 1 + s.rng.IntN(4) {
		time.Sleep(time.Duration(s.rng.IntN(300)) * time.Millisecond)
		f := s.kinds[s.rng.IntN(len(s.kinds))]
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		what := f.do(s, n)
		s.faults[f.kind]++
		s.phaseFaults = append(s.phaseFaults, strings.TrimSpace(fmt.Sprintf("%s(%s) %s", f.kind, n, what)))
	}
	time.Sleep(time.Duration(100+s.rng.IntN(900)) * time.Millisecond)
	s.stopTraffic()
	s.heal()
}

// heal stops every fault: no snapshot or request held back, every node
// reachable and accepting events, stalled connections dropped (a stall
// lasts until then), deactivated calls subscriptions brought back.
func (s *soak) heal() {
	for _, n := range s.nodes {
		for _, res := range []cmsws.Resource{"", cmsws.ResourceCalls, cmsws.ResourceCallRoster} {
			s.ok(s.c.DelaySnapshots(n, res, 0))
		}
		s.ok(s.c.DelayRequests(n, 0))
		s.ok(s.c.RefuseEvents(n, false))
		s.ok(s.c.SetUnreachable(n, false))
		for _, cs := range s.c.Stats().Nodes[n].Connections {
			if cs.Stalled {
				s.c.DropConnections(n)
				break
			}
		}
		s.c.ReactivateCalls(n, true)
	}
}

func (s *soak) ok(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("seed %d phase %d: %v (faults: %s)", s.cfg.seed, s.phase, err, strings.Join(s.phaseFaults, "; "))
	}
}

// How a quiet point compares the transition counters with the fake's
// Transitions (plus the offsets adopted so far).
type counterCheck int

const (
	// countersExact: every counter equals the ledger plus its offset.
	countersExact counterCheck = iota
	// countersAdopt, after a chaos phase: the counters may have moved
	// apart from the ledger, which orders changes as the fake queues them:
	// a meeting told live by one node while another node's snapshot is on
	// its way, or kept frozen on a node that is down, is counted otherwise
	// by a client that cannot see that order (see cmswstest.Transitions:
	// tests start meetings only once every node is watched; chaos does
	// not). Everything else must be equal; the new offsets are recorded
	// and the next clean window checks the counters exactly from there.
	countersAdopt
)

// quiet waits, traffic paused and every node reachable, until /metrics
// equals the truth; it counts the check and records goroutines and heap.
func (s *soak) quiet(what string, check counterCheck) map[string]float64 {
	s.t.Helper()
	deadline := time.Now().Add(quietWithin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.c.WaitIdle(ctx)
		cancel()
		got := s.h.scrape()
		tx := s.c.Transitions()
		offsets := s.offsets
		if check == countersAdopt {
			offsets = counterOffsets(got, tx)
		}
		diffs := s.diff(got, tx, offsets)
		if len(diffs) == 0 {
			for f, v := range offsets {
				d := v - s.offsets[f]
				if d == 0 {
					continue
				}
				if check == countersAdopt {
					a := s.apart[f]
					if d > 0 {
						a[0] += d
					} else {
						a[1] -= d
					}
					s.apart[f] = a
					s.apartPhases[f]++
				}
				s.t.Logf("seed %d %s: %s moved %+v from the ledger (faults: %s)", s.cfg.seed, what, f, d, strings.Join(s.phaseFaults, "; "))
			}
			s.offsets = offsets
			s.checks++
			s.measure()
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("chaos soak: seed %d, %s: metrics never matched the truth within %v\nfaults of the phase: %s\n"+
				"counter offsets adopted: %v\n%d differences:\n  %s\n%s\nexporter logs:\n%s",
				s.cfg.seed, what, quietWithin, strings.Join(s.phaseFaults, "; "), s.offsets,
				len(diffs), strings.Join(first(diffs, 40), "\n  "), s.subscriptionState(got), s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subscriptionState describes, for a failed check, the subscriptions as
// the exporter and the fake see them, and every meeting's calls.
func (s *soak) subscriptionState(got map[string]float64) string {
	var b strings.Builder
	b.WriteString("exporter:")
	var ks []string
	for k, v := range got {
		switch family(k) {
		case "cms_events_subscriptions", "cms_roster_meetings", "cms_subscription_budget_used":
			if v != 0 {
				ks = append(ks, fmt.Sprintf("%s=%v", k, v))
			}
		}
	}
	slices.Sort(ks)
	b.WriteString("\n  " + strings.Join(ks, "\n  "))
	b.WriteString("\nfake connections:")
	st := s.c.Stats()
	for _, n := range s.nodes {
		for _, cs := range st.Nodes[n].Connections {
			fmt.Fprintf(&b, "\n  %s #%d: subscriptions %d active %d stalled %v queued %d", n, cs.ID, cs.Subscriptions, cs.Active, cs.Stalled, cs.Queued)
		}
	}
	b.WriteString("\nmeetings (node: call):")
	for corr, m := range s.c.Truth().Meetings {
		fmt.Fprintf(&b, "\n  %q %s participants %d calls %v", m.Name, corr, len(m.Participants), m.Calls)
	}
	return b.String()
}

// counterOffsets is, per transition counter family, the scrape minus the
// ledger.
func counterOffsets(got map[string]float64, tx cmswstest.Transitions) map[string]float64 {
	want := truthMetrics(cmswstest.Truth{}, tx, nil)
	out := map[string]float64{}
	for _, f := range counterFamilies {
		out[f] = sumFamily(got, f) - want[key(f)]
	}
	return out
}

// diff is every difference between a scrape and the fake's truth: the
// events model (counters shifted by offsets), the rosters with full
// coverage, the REST books, and the drift between the two, which must be 0
// with the cluster quiet.
func (s *soak) diff(got map[string]float64, tx cmswstest.Transitions, offsets map[string]float64) []string {
	tr := s.c.Truth()
	want := truthMetrics(tr, tx, s.nodes)
	for f, v := range offsets {
		want[key(f)] += v
	}
	diffs := diffTruth(got, want)
	covered := slices.Collect(maps.Keys(tr.Meetings))
	diffs = append(diffs, rosterDiff(got, tr, covered)...)
	if v := got[key("cms_roster_coverage_ratio")]; v != 1 {
		diffs = append(diffs, fmt.Sprintf("roster coverage %v, want 1", v))
	}
	diffs = append(diffs, diffREST(got, truthREST(s.c.RESTTruth()))...)
	if v := got[key("cms_exporter_config_last_reload_successful")]; v != 1 {
		diffs = append(diffs, fmt.Sprintf("last reload successful %v, want 1", v))
	}
	if v, ok := got[key("cms_cluster_call_legs_drift")]; !ok || v != 0 {
		diffs = append(diffs, fmt.Sprintf("call legs drift %v (shown: %v), want 0", v, ok))
	}
	return diffs
}

// measure records goroutines and the heap after a GC at a quiet point.
func (s *soak) measure() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.goroutines = append(s.goroutines, runtime.NumGoroutine())
	s.heaps = append(s.heaps, ms.HeapAlloc)
}

// rudeFrame is one kind of frame CMS should never send; send returns how
// many errors of reason it should cost the exporter.
type rudeFrame struct {
	reason string
	send   func(s *soak, node string) int
}

func numbered(body string) func(id int64, index int) []byte {
	return func(id int64, index int) []byte {
		return fmt.Appendf(nil, `{"type":"message","message":{"messageId":%d,`+body+`}}`, id, index)
	}
}

// rudeFrames: malformed, unknown, misplaced, binary, control, and messages
// about calls and participants nobody has, with nulls and garbage. None of
// them may change the model; each costs exactly one counted error.
var rudeFrames = []rudeFrame{
	{cmsws.ReasonMalformedJSON, func(s *soak, n string) int {
		return s.c.InjectRaw(n, []byte(`{"type":"message","message":{"messageId":`))
	}},
	{cmsws.ReasonUnknownEnvelope, func(s *soak, n string) int { return s.c.InjectRaw(n, []byte(`{"type":"surprise","surprise":{}}`)) }},
	{cmsws.ReasonUnknownEnvelope, func(s *soak, n string) int {
		return s.c.InjectFrame(n, cmswstest.OpBinary, true, []byte{0xde, 0xad, 0xbe, 0xef})
	}},
	{cmsws.MessageErrorPing, func(s *soak, n string) int { return s.c.InjectFrame(n, cmswstest.OpPing, true, []byte("chaos")) }},
	{cmsws.MessageErrorUnexpectedAck, func(s *soak, n string) int {
		return s.c.InjectRaw(n, []byte(`{"type":"messageAck","messageAck":{"messageId":987654321,"status":"success"}}`))
	}},
	{cmsws.MessageErrorUnknownType, func(s *soak, n string) int {
		return s.c.InjectInSequence(n, "", numbered(`"type":"futureUpdate","x":%d`))
	}},
	{cmsws.MessageErrorUnknownSubscription, func(s *soak, n string) int {
		return s.c.InjectInSequence(n, "", numbered(`"type":"callListUpdate","subscriptionIndex":99999,"updates":[],"chaos":%d`))
	}},
	{cmsws.ReasonBadUpdates, func(s *soak, n string) int {
		return s.c.InjectInSequence(n, cmsws.ResourceCalls, numbered(`"type":"callListUpdate","subscriptionIndex":%d,"updates":"oops"`))
	}},
	{"unknown_call", func(s *soak, n string) int {
		return s.c.InjectInSequence(n, cmsws.ResourceCalls, numbered(`"type":"callListUpdate","subscriptionIndex":%d,`+
			`"updates":[{"call":"00000000-0000-4000-8000-00000000c4a0","updateType":"update","participants":3,"recording":"active"}]`))
	}},
	{"unknown_call", func(s *soak, n string) int { // nulls
		return s.c.InjectInSequence(n, cmsws.ResourceCalls, numbered(`"type":"callListUpdate","subscriptionIndex":%d,`+
			`"updates":[{"call":"00000000-0000-4000-8000-00000000c4a1","updateType":"update","name":null,"participants":null,"lockState":null}]`))
	}},
	{"invalid_value", func(s *soak, n string) int { // garbage on a real call
		call := anyCall(s.c, n)
		if call == "" {
			return 0
		}
		return s.c.InjectInSequence(n, cmsws.ResourceCalls, func(id int64, index int) []byte {
			return fmt.Appendf(nil, `{"type":"message","message":{"messageId":%d,"type":"callListUpdate","subscriptionIndex":%d,`+
				`"updates":[{"call":%q,"updateType":"update","participants":"lots"}]}}`, id, index, call)
		})
	}},
	{"wrong_resource", func(s *soak, n string) int {
		return s.c.InjectInSequence(n, cmsws.ResourceCallRoster, numbered(`"type":"callListUpdate","subscriptionIndex":%d,`+
			`"updates":[{"call":"00000000-0000-4000-8000-00000000c4a2","updateType":"update","participants":1}]`))
	}},
	{"unknown_participant", func(s *soak, n string) int {
		return s.c.InjectInSequence(n, cmsws.ResourceCallRoster, numbered(`"type":"rosterUpdate","subscriptionIndex":%d,`+
			`"updates":[{"participant":"00000000-0000-4000-8000-0000000000a1","updateType":"update","audioMuted":null,"state":"connected"}]`))
	}},
}

// anyCall is one of node's calls, "" when it has none.
func anyCall(c *cmswstest.Cluster, node string) string {
	var ids []string
	for id := range c.Truth().Nodes[node].Calls {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	return ids[0]
}

// rudeAtQuiet sends every rude frame to every node of the quiet cluster
// and waits until each reason's counter rose by exactly what was sent;
// then the model must still equal the truth.
func (s *soak) rudeAtQuiet() {
	s.t.Helper()
	before := s.h.scrape()
	want := map[string]float64{}
	for _, n := range s.nodes {
		for _, r := range rudeFrames {
			k := key("cms_events_message_errors_total", "node", n, "reason", r.reason)
			if _, ok := want[k]; !ok {
				want[k] = before[k]
			}
			sent := r.send(s, n)
			want[k] += float64(sent)
			s.rudeSent[r.reason] += sent
		}
	}
	deadline := time.Now().Add(quietWithin)
	for {
		got := s.h.scrape()
		var diffs []string
		for k, w := range want {
			if got[k] != w {
				diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", k, got[k], w))
			}
		}
		for k, v := range got {
			if family(k) == "cms_events_message_errors_total" && v != before[k] {
				if _, ok := want[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s rose from %v to %v; no such frame was sent", k, before[k], v))
				}
			}
		}
		if len(diffs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(diffs)
			s.t.Fatalf("chaos soak: seed %d, after phase %d: the rude frames were not counted exactly once each:\n  %s\nexporter logs:\n%s",
				s.cfg.seed, s.phase, strings.Join(diffs, "\n  "), s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.faults["rude_at_quiet"]++
	s.quiet(fmt.Sprintf("rude frames after phase %d", s.phase), countersExact)
}

// checkCounted: every rude reason was sent and the exporter counted at
// least that many over the run (frames sent during phases may be lost
// with their connection, so the quiet points are the exact check).
func (s *soak) checkCounted(final map[string]float64) {
	s.t.Helper()
	for _, r := range rudeFrames {
		if s.rudeSent[r.reason] == 0 {
			s.t.Errorf("no %s frame was ever sent: the soak tests less than it says", r.reason)
		}
	}
	for reason, sent := range s.rudeSent {
		var got float64
		for k, v := range final {
			if family(k) == "cms_events_message_errors_total" && strings.Contains(k, `reason="`+reason+`"`) {
				got += v
			}
		}
		if got < float64(sent) {
			s.t.Errorf("cms_events_message_errors_total{reason=%q} = %v over the run, but %d such frames were sent at quiet points", reason, got, sent)
		}
	}
}

// checkGrowth: goroutines at the last quiet point within a margin of the
// first, and the heap not rising at every quiet point to far beyond where
// it began. Loose on purpose: it catches a leak per phase, not noise.
func (s *soak) checkGrowth() {
	s.t.Helper()
	first, last := s.goroutines[0], s.goroutines[len(s.goroutines)-1]
	if last > first+soakGoroutineMargin {
		s.t.Errorf("goroutines grew from %d at the first quiet point to %d at the last (margin %d): %v",
			first, last, soakGoroutineMargin, s.goroutines)
	}
	h0, hl := s.heaps[0], s.heaps[len(s.heaps)-1]
	monotonic := len(s.heaps) > 5
	for i := 1; i < len(s.heaps) && monotonic; i++ {
		monotonic = s.heaps[i] > s.heaps[i-1]
	}
	if hl > 4*h0+64<<20 || (monotonic && hl > 2*h0+16<<20) {
		s.t.Errorf("heap after GC grew from %s to %s over %d quiet points", mib(h0), mib(hl), len(s.heaps))
	}
}
