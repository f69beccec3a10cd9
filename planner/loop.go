package planner

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// DefaultInterval is the default batch interval: long enough that a burst
// of meetings starting together costs one subscribeRequest per connection,
// short enough that a new meeting's roster shows up promptly.
const DefaultInterval = 500 * time.Millisecond

// Model is the call model as the planner sees it.
type Model interface {
	// PlanInput returns the meetings, the avoid set and which configured
	// connections are connected.
	PlanInput() (meetings []Meeting, avoid map[string]map[string]bool, connected []Connection)
	// SetPlan records the plan and the subscription set of every connected
	// connection, for the coverage and budget metrics. The Elements slices are
	// the shared cmsws ones: do not modify them.
	SetPlan(Plan, map[Connection][]cmsws.Subscription)
}

// Clients sets the desired subscriptions of one connection; it reports
// false when there is no such connection (e.g. the node was just removed).
// Setting an unchanged set must be cheap and send nothing.
type Clients interface {
	SetSubscriptions(node string, number int, subs []cmsws.Subscription) bool
}

// Options configure a Runner.
type Options struct {
	Interval         time.Duration // batch interval; 0 means DefaultInterval
	Include, Exclude []*regexp.Regexp
	Capacity         func(Connection) int // nil means DefaultCapacity
	Logger           log.Logger           // nil means no logging
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Capacity == nil {
		o.Capacity = DefaultCapacity
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	return o
}

// Runner runs the plan: it keeps the previous plan (for stability) and the
// connections it has pushed to, so it can reset a connection that stops
// being usable.
type Runner struct {
	model   Model
	clients Clients

	mu   sync.Mutex // guards opts
	opts Options

	stepMu sync.Mutex // serialises Step; guards prev and pushed
	prev   Plan
	pushed map[Connection]bool
}

// NewRunner returns a Runner; nothing runs until Step or Run.
func NewRunner(m Model, c Clients, o Options) *Runner {
	return &Runner{model: m, clients: c, opts: o.withDefaults(), pushed: map[Connection]bool{}}
}

// SetOptions replaces the options, e.g. after a configuration reload (new
// include/exclude patterns). The next Step uses them; a new Interval takes
// effect after the current wait.
func (r *Runner) SetOptions(o Options) {
	r.mu.Lock()
	r.opts = o.withDefaults()
	r.mu.Unlock()
}

func (r *Runner) options() Options {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts
}

// Run plans at once, then every batch interval, until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	for ctx.Err() == nil {
		r.Step()
		t := time.NewTimer(r.options().Interval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// Step does one iteration synchronously: it computes the plan from the
// model's current input, pushes every usable connection's complete
// subscription set (unchanged sets included: the client ignores them),
// tells the model, and returns the plan.
//
// A connection that was pushed to before and is no longer usable gets its
// base set once (connection 0: `calls` only; the others: nothing), so that
// when it reconnects it does not resubscribe rosters that now live
// elsewhere.
func (r *Runner) Step() Plan {
	o := r.options()
	r.stepMu.Lock()
	defer r.stepMu.Unlock()

	meetings, avoid, connected := r.model.PlanInput()
	plan := Compute(Input{
		Meetings:    meetings,
		Connections: connected,
		Capacity:    o.Capacity,
		Include:     o.Include,
		Exclude:     o.Exclude,
		Avoid:       avoid,
	}, r.prev)
	r.prev = plan

	sets := Subscriptions(plan, connected)
	connections := make([]Connection, 0, len(sets))
	for s := range sets {
		connections = append(connections, s)
	}
	slices.SortFunc(connections, compareConnections)
	now := make(map[Connection]bool, len(connections))
	for _, s := range connections {
		now[s] = true
		r.push(o.Logger, s, sets[s])
	}
	gone := make([]Connection, 0)
	for s := range r.pushed {
		if !now[s] {
			gone = append(gone, s)
		}
	}
	slices.SortFunc(gone, compareConnections)
	for _, s := range gone {
		r.push(o.Logger, s, BaseSet(s.Number))
	}
	r.pushed = now

	r.model.SetPlan(plan, sets)
	return plan
}

func (r *Runner) push(logger log.Logger, s Connection, subs []cmsws.Subscription) {
	if !r.clients.SetSubscriptions(s.Node, s.Number, subs) {
		// Normal for a moment around a reload; the next plan no longer
		// lists the connection once the model drops it.
		level.Debug(logger).Log("msg", "no events connection for planned subscriptions", "node", s.Node, "connection", s.Number)
	}
}

// Subscriptions builds the complete subscription set of every connection in
// connections (duplicates ignored) for plan: its BaseSet first, then one
// callRoster subscription per placement on the connection, in call id
// order. Indexes are left 0: the client assigns them.
func Subscriptions(plan Plan, connections []Connection) map[Connection][]cmsws.Subscription {
	sets := make(map[Connection][]cmsws.Subscription, len(connections))
	for _, s := range connections {
		if _, dup := sets[s]; !dup {
			sets[s] = BaseSet(s.Number)
		}
	}
	calls := make(map[Connection][]string, len(sets))
	for _, p := range plan.Placements {
		if _, ok := sets[p.Connection]; ok {
			calls[p.Connection] = append(calls[p.Connection], p.Call)
		}
	}
	for s, cs := range calls {
		slices.Sort(cs)
		for _, c := range cs {
			sets[s] = append(sets[s], cmsws.Subscription{
				Type: cmsws.ResourceCallRoster, Call: c, Elements: cmsws.CallRosterElements,
			})
		}
	}
	return sets
}

// BaseSet is what a connection carries with no roster placed on it: on
// connection 0 the node's `calls` subscription, with every element the
// model uses; nothing on the others. It is also each connection's initial
// set when its client starts.
func BaseSet(number int) []cmsws.Subscription {
	if number == 0 {
		return []cmsws.Subscription{{Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}}
	}
	return []cmsws.Subscription{}
}
