// Package collector is the exporter's model of a CMS cluster. It receives
// the typed events of the cmsws clients (one per node and connection),
// applies them in order to an in-memory model of the active calls, their
// meetings and the meetings' rosters, and renders that model as const
// metrics when Prometheus scrapes (it is a prometheus.Collector).
//
// Which meeting's roster is subscribed where is the planner's business: the
// model tells it what exists (PlanInput) and learns what was decided
// (SetPlan), which it needs for coverage, the budget metrics and the
// labels of the per-call roster series.
//
// It knows nothing about sockets: everything it learns arrives through
// Handle, and everything that depends on time advances through Tick, so the
// model is deterministic under test and in capture replays.
package collector

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/go-kit/log"
)

// Defaults for Options.
const (
	DefaultSnapshotTimeout = time.Minute
	DefaultLockSettle      = 5 * time.Second
	// forgetFor is how long the model remembers the ids of calls and
	// participants it dropped without being told they ended (a snapshot
	// that did not repeat them, a node down for too long): an add of such an
	// id is a late or repeated report of something that existed all along,
	// never a start or a join. CMS ids are GUIDs, never reused, so the only
	// cost of remembering is memory; 15 minutes outlast the 10-minute
	// windows of the meeting alerts.
	forgetFor = 15 * time.Minute
	// forgetCheckInterval is how often forgetOld scans.
	forgetCheckInterval = time.Minute
	// tickInterval is how often Run advances the time-based rules. It bounds
	// how late a lock settles, a fallback snapshot end or a down node's
	// calls expire, nothing more.
	tickInterval = 250 * time.Millisecond
)

// Options configure a Collector. The zero value is usable.
type Options struct {
	Logger log.Logger
	// PerCallMetrics false omits the per-call series (cms_call_*); the
	// aggregates stay. For clusters where one series per call is too many.
	PerCallMetrics bool
	// SnapshotTimeout is the fallback end of a snapshot. CMS marks no end
	// of a snapshot; the client marks it with a sync request, whose
	// subscriptionUpdate comes after the snapshot (see cmsws), and the first
	// live update ends it too. Should neither come, the snapshot is taken
	// as complete once nothing arrived on its subscription for this long
	// (logged as a warning). Default 1m.
	SnapshotTimeout time.Duration
	// LockSettle is how long a new call instance may keep the "locked" CMS
	// announces every call with before the lock is believed. Default 5s.
	LockSettle time.Duration
	// Now is the clock; default time.Now. Tests and replays inject theirs.
	Now func() time.Time
	// MeetingNames is what the name label of cms_call_info carries: the
	// name (NamesShow, the default), a digest of it (NamesHash) or nothing
	// (NamesOmit). See NameMode.
	MeetingNames NameMode
}

// Collector holds the model and renders it. All methods are safe for
// concurrent use; one mutex guards the whole model, which is cheap because
// every operation on it is O(1) per update, and a scrape holds it only to
// copy what it renders (see scrape).
type Collector struct {
	logger          log.Logger
	snapshotTimeout time.Duration
	settle          time.Duration
	now             func() time.Time
	d               *descs

	// mu guards the model and counts its changes (see modelLock).
	mu                modelLock
	perCall           bool
	names             NameMode
	nodes             map[string]*node
	meetings          map[meetingKey]*meeting
	unsettled         map[*call]struct{}
	totals            transitionTotals
	participantTotals participantTotals
	plan              plan
	// stashed are the rosters of meetings that went because their calls
	// were dropped without an end (a sweep, an expiry): should a call come
	// back, its meeting gets its roster back. Kept forgetFor.
	stashed map[meetingKey]stashedRoster
	// nextForget is when forgetOld scans next.
	nextForget time.Time
	// coverageFull is the last logged coverage state (see checkCoverage).
	coverageFull bool
	// cacheEpoch changes with any option the cached per-call and roster
	// series depend on beyond their rows (see keep); such an option's
	// setter clears the caches and bumps it. None does yet.
	cacheEpoch uint64

	// scrapes coalesces concurrent scrapes; it has its own locks.
	scrapes scrapes
}

// New returns an empty Collector.
func New(o Options) *Collector {
	c := &Collector{
		logger:          o.Logger,
		perCall:         o.PerCallMetrics,
		names:           o.MeetingNames,
		snapshotTimeout: o.SnapshotTimeout,
		settle:          o.LockSettle,
		now:             o.Now,
		d:               newDescs(),
		nodes:           make(map[string]*node),
		meetings:        make(map[meetingKey]*meeting),
		unsettled:       make(map[*call]struct{}),
		stashed:         make(map[meetingKey]stashedRoster),
		// With no meeting, coverage is complete: nothing to log at start.
		coverageFull: true,
	}
	if c.logger == nil {
		c.logger = log.NewNopLogger()
	}
	if c.snapshotTimeout <= 0 {
		c.snapshotTimeout = DefaultSnapshotTimeout
	}
	if c.settle <= 0 {
		c.settle = DefaultLockSettle
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// SetPerCallMetrics switches the per-call series (cms_call_*) on or off at
// run time, for a configuration reload that changes per_call_metrics. The
// model keeps every call either way; only rendering changes.
// Describe always lists the per-call families, so switching them on after
// registration is legal.
func (c *Collector) SetPerCallMetrics(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.perCall = on
}

// Tick advances the rules that depend on time passing without events: the
// fallback end of a snapshot (of calls or of a roster), the settling of new
// calls' lock state, the expiry of a down node's calls, forgetting dropped
// ids, and the coverage log line.
//
// A Tick that changes nothing rendered (most of them) leaves the model's
// generation alone, so the last render stays reusable; each rule that
// fires counts as a change. Forgetting ids and the coverage log change
// nothing rendered.
func (c *Collector) Tick(now time.Time) {
	c.mu.lockUnchanged()
	defer c.mu.Unlock()
	for _, name := range c.sortedNodeNames() {
		n := c.nodes[name]
		if n.phase.active && now.Sub(n.phase.last) >= c.snapshotTimeout {
			c.mu.changed()
			c.endSnapshot(n, snapshotEndTimeout)
		}
		for _, number := range n.connectionNumbers() {
			conn := n.connections[number]
			for _, s := range conn.subs {
				if s.feed != nil && s.feed.snapshot && now.Sub(s.feed.last) >= c.snapshotTimeout {
					c.mu.changed()
					c.endRosterSnapshot(n, conn, s, snapshotEndTimeout)
				}
			}
		}
		if !n.up && !n.expired && n.keepDown > 0 && !n.downSince.IsZero() && now.Sub(n.downSince) >= n.keepDown {
			c.mu.changed()
			c.expireCalls(n, now)
		}
	}
	c.forgetOld(now)
	for cl := range c.unsettled {
		if now.Sub(cl.addedAt) >= c.settle {
			c.mu.changed()
			c.settleLock(cl)
		}
	}
	c.checkCoverage()
}

// Run calls Tick every 250ms until ctx is done. It runs in the caller's
// goroutine.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Tick(c.now())
		}
	}
}

// sortedNodeNames makes multi-node work (and thus log order) deterministic.
func (c *Collector) sortedNodeNames() []string {
	return slices.Sorted(maps.Keys(c.nodes))
}
