package collector

import (
	"maps"
	"slices"
	"sync"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// Nothing a render shows depends on the clock at scrape time: timestamps
// are those of events, ages are what the nodes answered. So a render is
// right for as long as the model is unchanged, and reusing it is exact. A
// series computed from the clock at render time would have to be rendered
// outside the reuse.

// modelLock is the model's one mutex plus its generation: a number that
// every change of the model bumps, so a scrape can tell that the model is
// as it was at the last render and reuse that render.
//
// Lock bumps the generation, so every method that may change the model
// (Handle, HandleREST, SetPlan, AddNode, ...) counts as a change without
// saying so, and a new one cannot forget to. Readers, and Tick, whose
// usual run changes nothing, take lockUnchanged instead (Tick calls changed
// when it does change something). A reader taking Lock costs only a render
// that could have been reused; a writer taking lockUnchanged would serve
// stale series, so lockUnchanged is for code that changes nothing a render
// reads.
type modelLock struct {
	mu  sync.Mutex
	gen uint64
}

// Lock takes the lock for a change of the model.
func (l *modelLock) Lock() {
	l.mu.Lock()
	l.gen++
}

// lockUnchanged takes the lock for reading, or for a change that calls
// changed itself.
func (l *modelLock) lockUnchanged() { l.mu.Lock() }

// changed bumps the generation. Callers hold the lock.
func (l *modelLock) changed() { l.gen++ }

func (l *modelLock) Unlock() { l.mu.Unlock() }

// scrapes coalesces concurrent scrapes: one render at a time, shared by
// every scrape that arrived before it copied the model, and reused while
// the model's generation has not moved. The collector keeps at most two
// renders (the last one, for reuse, and the one being built) however many
// scrapes wait; a scrape still sending a render keeps that one alive until
// it is done. Renders share the cached series, so what a render owns is
// its slice (16 bytes a series) and the series it had to build.
type scrapes struct {
	// build is held by the scrape rendering; the next one waits for it.
	build sync.Mutex
	// mu guards next: the flight that the scrapes arriving now join, whose
	// snapshot is not taken yet (so its result is at least as recent as
	// their arrival).
	mu   sync.Mutex
	next *flight
	// last is the latest render and the generation it was taken at;
	// guarded by build.
	last    []prometheus.Metric
	lastGen uint64
	lastOK  bool
	// lastCached is how many series sets (cached or not) the last copy
	// had: the size of the next one's slice.
	lastCached int
}

// flight is one render and the scrapes waiting for it.
type flight struct {
	done chan struct{}
	ms   []prometheus.Metric
	// joined counts the scrapes that joined it (guarded by scrapes.mu).
	joined int
}

// scrape returns the model's metrics: those of a render whose snapshot was
// taken after the call began. The slice is shared: read only.
func (c *Collector) scrape() []prometheus.Metric {
	s := &c.scrapes
	s.mu.Lock()
	if f := s.next; f != nil {
		f.joined++
		s.mu.Unlock()
		<-f.done
		return f.ms
	}
	f := &flight{done: make(chan struct{})}
	s.next = f
	s.mu.Unlock()
	defer close(f.done)

	s.build.Lock()
	defer s.build.Unlock()
	c.mu.lockUnchanged()
	// From here on a new scrape must start a new flight: this one's
	// snapshot may predate it.
	s.mu.Lock()
	s.next = nil
	s.mu.Unlock()
	if s.lastOK && s.lastGen == c.mu.gen {
		c.mu.Unlock()
		f.ms = s.last
		return f.ms
	}
	c.mu.Unlock()
	// The copy's slice, sized like the last one, is allocated (and zeroed)
	// without the lock.
	cached := make([][]prometheus.Metric, 0, s.lastCached+s.lastCached/8+64)
	c.mu.lockUnchanged()
	snap := c.snapshot(cached)
	c.mu.Unlock()

	f.ms = c.build(snap)
	c.keep(snap)
	s.last, s.lastGen, s.lastOK = f.ms, snap.gen, true
	s.lastCached = len(snap.cached) + len(snap.calls) + len(snap.rosters)
	return f.ms
}

// modelSnapshot is what one render needs of the model, copied under the
// lock: values, and the cached per-call and roster series (immutable once
// built), so the metrics are built without the lock while Handle goes on.
// The copy is O(calls) pointer copies and small values; building a const
// metric costs far more, and only the series whose cache is cold are built.
type modelSnapshot struct {
	gen uint64
	// epoch is the model's cacheEpoch at the copy: rows built from it are
	// kept only if no option they depend on changed meanwhile.
	epoch uint64
	// cached are the cached series of calls and rosters, shared with the
	// model's caches: slice headers only, flattened without the lock.
	cached [][]prometheus.Metric
	// calls and rosters are the per-call and per-meeting roster series
	// whose cache was cold: built outside the lock, then kept (see keep).
	calls   []callCopy
	rosters []rosterCopy
	nodes   []nodeSnap
	cluster clusterSnap
	roster  rosterSnap
	budget  []budgetRow
	drift   driftSnap
}

// snapshot copies what a render needs, appending the cached series sets to
// cached (grown if the model outgrew it). Callers hold c.mu. O(calls +
// meetings + subscriptions) word copies, no const metric built.
func (c *Collector) snapshot(cached [][]prometheus.Metric) *modelSnapshot {
	size := 0
	if c.perCall {
		for _, n := range c.nodes {
			size += len(n.calls)
		}
		size += len(c.meetings)
	}
	s := &modelSnapshot{gen: c.mu.gen, epoch: c.cacheEpoch, cached: slices.Grow(cached[:0], size),
		nodes: make([]nodeSnap, 0, len(c.nodes))}
	for _, n := range c.nodes {
		s.nodes = append(s.nodes, c.snapNode(s, n))
	}
	s.cluster = c.snapCluster()
	s.roster = c.snapRosters(s)
	s.budget = c.snapBudget()
	s.drift = c.snapDrift()
	return s
}

// build makes the metrics of a snapshot. It runs without the lock: it
// reads only the snapshot and what never changes (the descriptors, the
// logger).
func (c *Collector) build(s *modelSnapshot) []prometheus.Metric {
	// Besides the per-call series: about 60 per node plus 2 per
	// subscription pair, and 60 for the cluster.
	size := 60 + callSeries*len(s.calls) + (numStates+numFlags)*len(s.rosters)
	for _, ms := range s.cached {
		size += len(ms)
	}
	for i := range s.nodes {
		size += 60 + 2*len(s.nodes[i].subs)
	}
	r := renderer{d: c.d, out: make([]prometheus.Metric, 0, size)}
	for _, ms := range s.cached {
		r.out = append(r.out, ms...)
	}
	for i := range s.nodes {
		renderNode(&r, &s.nodes[i])
	}
	for i := range s.calls {
		s.calls[i].ms = c.renderCall(&s.calls[i])
		r.out = append(r.out, s.calls[i].ms...)
	}
	for i := range s.rosters {
		s.rosters[i].ms = c.renderRoster(&s.rosters[i])
		r.out = append(r.out, s.rosters[i].ms...)
	}
	renderCluster(&r, &s.cluster)
	renderRosters(&r, &s.roster)
	renderBudget(&r, s.budget)
	renderDrift(&r, s.drift)
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "series dropped from the scrape", "count", r.errs, "err", r.err)
	}
	return r.out
}

// keep stores the series build made into the per-call and per-meeting
// caches, so the next scrape copies them instead of building them again.
// A row is kept only if what it was built from is still what the model
// holds: the call's state, the roster's counts and instance. Anything else
// a series depends on must be copied into the rows and, when it changes,
// bump cacheEpoch.
func (c *Collector) keep(s *modelSnapshot) {
	if len(s.calls) == 0 && len(s.rosters) == 0 {
		return
	}
	c.mu.lockUnchanged()
	defer c.mu.Unlock()
	if c.cacheEpoch != s.epoch {
		return
	}
	for _, row := range s.calls {
		if cl := row.cl; cl.rendered == nil && cl.st == row.st {
			cl.rendered = row.ms
		}
	}
	for _, row := range s.rosters {
		if ro := row.ro; ro.agg == row.agg && (ro.rendered == nil || ro.renderedFor != row.inst) {
			ro.rendered, ro.renderedFor = row.ms, row.inst
		}
	}
}

// callCopy is a call whose per-call series must be built: a copy of what
// they show, and the call to cache them on.
type callCopy struct {
	cl   *call // for keep only: never read outside the lock
	node string
	id   string // the call's label value
	st   callState
	// names is the meeting-name mode at the copy: renderCall runs
	// without the lock, so it must not read c.names.
	names NameMode
	ms    []prometheus.Metric
}

// rosterCopy is a meeting's roster whose per-call series must be built, on
// the instance inst.
type rosterCopy struct {
	ro   *roster // for keep only
	inst *call   // for keep only
	node string
	id   string // the call's label value
	agg  rosterAgg
	ms   []prometheus.Metric
}

// cloneREST copies a node's REST state for a snapshot. The results
// themselves are shared: a Result is never changed once HandleREST stored
// it (a new one replaces it).
func cloneREST(s *restState) *restState {
	if s == nil {
		return nil
	}
	out := *s
	out.latest = maps.Clone(s.latest)
	out.requests = maps.Clone(s.requests)
	out.lastSuccess = maps.Clone(s.lastSuccess)
	out.failures = make(map[cmsrest.Resource]map[string]float64, len(s.failures))
	for res, f := range s.failures {
		out.failures[res] = maps.Clone(f)
	}
	return &out
}

// cloneStats copies a node's self-metrics for a snapshot.
func cloneStats(s *nodeStats) nodeStats {
	out := *s
	out.connectFailures = maps.Clone(s.connectFailures)
	out.disconnects = maps.Clone(s.disconnects)
	out.messages = maps.Clone(s.messages)
	out.errors = maps.Clone(s.errors)
	return out
}
