package collector

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/internal/ratelog"
)

// node is one configured Call Bridge as seen through its events clients.
type node struct {
	name string
	// warnings bounds the node's warning lines per reason (a server
	// flooding bad updates must not flood the log); counters are not
	// bounded. nil lets every line through.
	warnings *ratelog.Limiter
	// warnLog is the warning logger with the node's name: the summary of
	// held-back lines goes there too, so it says which node flooded.
	warnLog log.Logger

	// connections are the node's events connections by number. Connection
	// 0 is the primary one: it carries the calls subscription and drives
	// cms_up and the calls snapshot. Connections 1..3 carry roster
	// subscriptions only. Connection 0 always exists; the others appear
	// with their first event.
	connections map[int]*connection

	// calls are kept across a disconnect (no gaps on a blip) and replaced by
	// the next snapshot.
	calls map[string]*call
	phase snapshotPhase

	// synced: the calls snapshot of the primary connection's current session
	// is complete. syncedOnce: some session's snapshot completed since
	// AddNode.
	synced     bool
	syncedOnce bool
	// up is the last cms_up value, kept to log changes and to time an
	// outage: downSince is when it last went to 0 (zero while up).
	up        bool
	downSince time.Time
	// keepDown is how long calls stay after the node went down (0 =
	// until it is back); expired says they were dropped for it.
	keepDown time.Duration
	expired  bool
	// capacity is the participants the configuration says the node is
	// licensed or sized for; 0: not stated.
	capacity int
	// rest is what the node's REST poller reported; nil when its REST API
	// is not polled.
	rest *restState
	// forgotten are the calls dropped without CMS saying they ended; see
	// forgetFor.
	forgotten forgottenIDs
	// ended are the calls CMS said ended whose roster may still report
	// leaves; see endedCall.
	ended map[string]endedCall

	// lastError is the last connect failure or disconnect of any of the
	// node's connections, for the status page (the counters have them
	// all, by reason).
	lastError nodeError

	// stats aggregate the node's connections: dashboards know cms_events_*
	// by node, and a connection label would change every series' identity.
	stats nodeStats
}

func (c *Collector) newNode(name string) *node {
	return &node{
		name:        name,
		warnings:    ratelog.New(0, 0, c.now),
		warnLog:     level.Warn(log.With(c.logger, "node", name)),
		connections: map[int]*connection{0: newConnection(0)},
		calls:       make(map[string]*call),
		stats:       newNodeStats(),
	}
}

// primary is connection 0, the one carrying the calls subscription.
func (n *node) primary() *connection { return n.connections[0] }

// callsLive reports whether some calls subscription of the primary
// connection is live (cms_up).
func (n *node) callsLive() bool {
	conn := n.primary()
	if !conn.connected {
		return false
	}
	for _, s := range conn.callSubs {
		if s.live {
			return true
		}
	}
	return false
}

// rosterLiveBeyondPrimary reports whether a callRoster subscription of call
// is live on some connection of n other than the primary one.
func (n *node) rosterLiveBeyondPrimary(call string) bool {
	for _, conn := range n.connections {
		if conn.number == 0 {
			continue
		}
		if s := conn.rosters[call]; s != nil && s.live {
			return true
		}
	}
	return false
}

// connectionNumbers returns the connection numbers in order, for
// deterministic work.
func (n *node) connectionNumbers() []int {
	return slices.Sorted(maps.Keys(n.connections))
}

// nodeError is a connection failure as the status page shows it: its
// bounded reason, the client's error text (tokens already redacted by
// cmsws) and when it happened.
type nodeError struct {
	reason, err string
	at          time.Time
}

// noteError records a connect failure or disconnect of a node's
// connection. Our own shutdown of a connection is no error.
func (n *node) noteError(ev *cmsws.Event, reason string) {
	if ev.Kind == cmsws.EventDisconnected && ev.Reason == cmsws.DisconnectShutdown {
		return
	}
	text := reason
	if ev.Err != nil {
		text = ev.Err.Error()
	}
	n.lastError = nodeError{reason: reason, err: fmt.Sprintf("connection %d: %s", ev.Connection, text), at: ev.Time}
}

// connection is one events connection of a node, by its number in the
// node's configuration. Each has its own sessions (Event.Session numbers
// them: one per (re)connect) and its own subscriptions; a disconnect of one
// connection touches nothing of the others.
type connection struct {
	number int
	// session is the number of the current (or last) session and connected
	// says whether it is up. Messages of any other session are stale.
	session   uint64
	connected bool
	// subs are the subscription states of the current session, by index.
	subs map[int]*subscription
	// rosters indexes the callRoster subscriptions of subs by call id, so
	// that checking a meeting's placement costs O(1), not O(subscriptions).
	rosters map[string]*subscription
	// callSubs are the calls subscriptions of subs (normally one): cms_up
	// is evaluated after every event, and a connection holds up to 100 roster
	// subscriptions that must not be scanned each time.
	callSubs map[int]*subscription
}

func newConnection(number int) *connection {
	return &connection{number: number, subs: make(map[int]*subscription), rosters: make(map[string]*subscription),
		callSubs: make(map[int]*subscription)}
}

// subscription is the server-reported state of one subscription index.
type subscription struct {
	resource cmsws.Resource
	// call is the call id as the subscription names it, raw: the key of
	// the call in node.calls and of the subscription in connection.rosters.
	call  string
	state string // bounded: pending, active, deactivated, other
	// live: it became active in this session and was not deactivated
	// since. The liveness probe re-sends the unchanged request, which makes
	// CMS report pending then active again; that is neither an outage nor
	// a new snapshot, so "pending" does not clear live.
	live bool

	// feed is the roster snapshot state of a callRoster subscription; nil
	// for other resources.
	feed *rosterFeed
	// strikes counts consecutive plans that no longer want this callRoster
	// subscription on its connection; see SetPlan.
	strikes int
}

// snapshotPhase is the replace-on-relist window after a calls subscription
// became active: adds define the node's calls, and whatever they do not
// mention is stale when the phase ends.
type snapshotPhase struct {
	active bool
	index  int       // the calls subscription index the snapshot comes on
	gen    uint64    // increments per phase; calls re-added carry it
	began  time.Time // activation
	last   time.Time // activation or last snapshot message
	// messages counts the snapshot's messages. reactivated: the
	// subscription came back from deactivated rather than being new; if it
	// then replays nothing, that says nothing about the calls (see
	// endSnapshot).
	messages    int
	reactivated bool
}

// endedCall is what the model keeps of a call CMS said ended while a
// roster subscription of it was live: the roster its leaves apply to.
type endedCall struct {
	r     *roster
	until time.Time
}

// forgottenIDs remembers ids the model dropped without being told they
// ended, each until a time; the zero time means "until the node's next
// snapshot ends" (the calls of a node that stayed down). Nil until used.
type forgottenIDs map[string]time.Time

func (f forgottenIDs) has(id string) bool {
	_, ok := f[id]
	return ok
}

func (f *forgottenIDs) add(id string, until time.Time) {
	if *f == nil {
		*f = make(forgottenIDs)
	}
	(*f)[id] = until
}

// startClock gives the ids kept "until the next snapshot" their deadline.
func (f forgottenIDs) startClock(until time.Time) {
	for id, u := range f {
		if u.IsZero() {
			f[id] = until
		}
	}
}

// expire forgets the ids whose time has come.
func (f forgottenIDs) expire(now time.Time) {
	for id, u := range f {
		if !u.IsZero() && !now.Before(u) {
			delete(f, id)
		}
	}
}

// nodeStats are a node's cms_events_* self-metrics. They live in the model
// (not in client_golang counters) so RemoveNode drops them with the node.
// Every map key is a bounded label value.
type nodeStats struct {
	connects        float64
	connectFailures map[string]float64
	disconnects     map[string]float64
	messages        map[string]float64
	errors          map[string]float64
	lastMessage     time.Time
	probes          float64
	probeLatency    time.Duration
	// rejected counts values outside their plausible range, by element.
	rejected [numBounded]float64
}

func newNodeStats() nodeStats {
	return nodeStats{
		connectFailures: make(map[string]float64),
		disconnects:     make(map[string]float64),
		messages:        make(map[string]float64),
		errors:          make(map[string]float64),
	}
}

// warn logs a warning about node n through its limiter, under key (a
// bounded reason): the first lines of a flood are logged, the rest counted
// and summed up. Counters are the caller's business and never limited.
func (c *Collector) warn(n *node, key string, keyvals ...any) {
	n.warnings.Log(n.warnLog, key, keyvals...)
}
