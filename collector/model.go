package collector

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// node is one configured Call Bridge as seen through its events clients.
type node struct {
	name string

	// links are the node's event connections by slot number. Link 0 is the
	// primary one: it carries the calls subscription and drives cms_up and
	// the calls snapshot. Links 1..3 carry roster subscriptions only. Link 0
	// always exists; the others appear with their first event.
	links map[int]*link

	// calls are kept across a disconnect (no gaps on a blip) and replaced by
	// the next snapshot.
	calls map[string]*call
	phase snapshotPhase

	// synced: the current primary connection's calls snapshot is complete.
	// syncedOnce: some connection's snapshot completed since AddNode.
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
	// forgotten are the calls dropped without CMS saying they ended; see
	// forgetFor.
	forgotten forgottenIDs

	// stats aggregate the node's links: dashboards know cms_events_* by
	// node, and a link label would change every series' identity.
	stats nodeStats
}

func newNode(name string) *node {
	return &node{
		name:  name,
		links: map[int]*link{0: newLink(0)},
		calls: make(map[string]*call),
		stats: newNodeStats(),
	}
}

// primary is link 0, the connection carrying the calls subscription.
func (n *node) primary() *link { return n.links[0] }

// callsLive reports whether some calls subscription of the primary
// connection is live (cms_up).
func (n *node) callsLive() bool {
	l := n.primary()
	if !l.connected {
		return false
	}
	for _, s := range l.callSubs {
		if s.live {
			return true
		}
	}
	return false
}

// sortedLinks returns the link numbers in order, for deterministic work.
func (n *node) sortedLinks() []int {
	ids := make([]int, 0, len(n.links))
	for id := range n.links {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// link is one events connection of a node. Each has its own connection
// numbering (Event.Conn) and its own subscriptions; a disconnect of one link
// touches nothing of the others.
type link struct {
	id int
	// conn is the number of the current (or last) connection and connected
	// says whether it is up. Messages of any other connection are stale.
	conn      uint64
	connected bool
	// subs are the subscription states of the current connection, by index.
	subs map[int]*subscription
	// rosters indexes the callRoster subscriptions of subs by call id, so
	// that checking a meeting's placement costs O(1), not O(subscriptions).
	rosters map[string]*subscription
	// callSubs are the calls subscriptions of subs (normally one): cms_up
	// is evaluated after every event, and a link holds up to 100 roster
	// subscriptions that must not be scanned each time.
	callSubs map[int]*subscription
}

func newLink(id int) *link {
	return &link{id: id, subs: make(map[int]*subscription), rosters: make(map[string]*subscription),
		callSubs: make(map[int]*subscription)}
}

// subscription is the server-reported state of one subscription index.
type subscription struct {
	resource cmsws.Resource
	call     string
	state    string // bounded: pending, active, deactivated, other
	// live: it became active on this connection and was not deactivated
	// since. The liveness probe re-sends the unchanged request, which makes
	// CMS report pending then active again; that is neither an outage nor
	// a new snapshot, so "pending" does not clear live.
	live bool

	// callID is call as the model keys calls (cleaned), for callRoster.
	callID string
	// feed is the roster snapshot state of a callRoster subscription; nil
	// for other resources.
	feed *rosterFeed
	// strikes counts consecutive plans that no longer want this callRoster
	// subscription on its link; see SetPlan.
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

// call is one call instance on one node.
type call struct {
	node *node
	id   string
	st   callState

	addedAt   time.Time
	liveAdded bool // announced by a live add (not a snapshot)
	// settled: its lockState can be believed (see settleLock).
	settled bool
	snapGen uint64
	meeting *meeting
	// rendered caches the call's per-call series between scrapes; most
	// calls do not change between two scrapes, and building const metrics
	// is most of a scrape's cost. setState clears it.
	rendered []prometheus.Metric
}

// callState is the part of a call that updates change. It is a value so an
// update can be applied to a copy first and compared.
type callState struct {
	correlator           string
	name                 string
	callType             string // one of knownCallTypes, or "" when unset
	participants         int
	distributedInstances int
	recording            bool
	streaming            bool
	endpointRecording    bool
	locked               bool
	// set records which elements hold a value from CMS (rather than unset by
	// null or never sent), per element bit.
	set elementSet
}

type elementSet uint16

const (
	elName elementSet = 1 << iota
	elParticipants
	elDistributedInstances
	elRecording
	elEndpointRecording
	elStreaming
	elLockState
	elCallType
	elCallCorrelator
)

// meetingKey groups call instances into meetings: by correlator, or, for a
// call without one, by the call itself.
type meetingKey struct {
	correlator string
	node       string
	call       string
}

func keyFor(nodeName, callID string, st *callState) meetingKey {
	if st.correlator != "" {
		return meetingKey{correlator: st.correlator}
	}
	return meetingKey{node: nodeName, call: callID}
}

// planKey is the meeting's key towards the planner: its correlator, or for
// a call without one a string no correlator (a GUID) can take.
func (k meetingKey) planKey() string {
	if k.correlator != "" {
		return k.correlator
	}
	return "call:" + k.node + "/" + k.call
}

// meeting is the set of call instances sharing a key; typically one per
// hosting node, so a slice is the right container.
type meeting struct {
	key       meetingKey
	planKey   string
	instances []*call
	// roster is the meeting's participant list, fed by its roster
	// subscription(s); nil until one delivers something. It ends with the
	// meeting.
	roster *roster
	// avoid: nodes where a roster subscription for this meeting was
	// deactivated while the meeting still ran there; the planner should
	// place it elsewhere. An entry goes when the meeting leaves that node.
	avoid map[string]bool
}

// hostedOn reports whether some instance of the meeting is on n.
func (m *meeting) hostedOn(n *node) bool {
	for _, cl := range m.instances {
		if cl.node == n {
			return true
		}
	}
	return false
}

// instanceOn returns the meeting's instance on the named node (the one with
// the smallest id, should there be several), or nil.
func (m *meeting) instanceOn(nodeName string) *call {
	var found *call
	for _, cl := range m.instances {
		if cl.node.name == nodeName && (found == nil || cl.id < found.id) {
			found = cl
		}
	}
	return found
}

// ensureRoster returns the meeting's roster, creating an empty one.
func (m *meeting) ensureRoster() *roster {
	if m.roster == nil {
		m.roster = newRoster()
	}
	return m.roster
}

// meetingState is the meeting-level view that gauges show and transition
// counters compare. The zero value is "absent".
type meetingState struct {
	present      bool
	participants int
	recording    bool
	streaming    bool
	locked       bool
}

func (m *meeting) state() meetingState {
	if m == nil || len(m.instances) == 0 {
		return meetingState{}
	}
	s := meetingState{present: true}
	for _, cl := range m.instances {
		// CMS reports the cluster-wide count on every instance: max, not sum.
		s.participants = max(s.participants, cl.st.participants)
		s.recording = s.recording || cl.st.recording
		s.streaming = s.streaming || cl.st.streaming
		s.locked = s.locked || (cl.settled && cl.st.locked)
	}
	return s
}

// merge combines two meetings' states as if they were one.
func (s meetingState) merge(o meetingState) meetingState {
	return meetingState{
		present:      s.present || o.present,
		participants: max(s.participants, o.participants),
		recording:    s.recording || o.recording,
		streaming:    s.streaming || o.streaming,
		locked:       s.locked || o.locked,
	}
}

// callType picks the meeting's type deterministically: instances normally
// agree; if not, the alphabetically first known one wins.
func (m *meeting) callType() string {
	t := ""
	for _, cl := range m.instances {
		if ct := cl.st.callType; ct != "" && (t == "" || ct < t) {
			t = ct
		}
	}
	return t
}

// transitionTotals are the cluster-wide meeting transition counters. They
// survive RemoveNode: counters must never go backwards.
type transitionTotals struct {
	meetingsStarted   float64
	meetingsEnded     float64
	recordingsStarted float64
	recordingsStopped float64
	streamsStarted    float64
	streamsStopped    float64
	meetingsLocked    float64
	meetingsUnlocked  float64
}

// count adds the transitions between two meeting states caused by a live
// event. Absent counts as "off" in every respect.
func (t *transitionTotals) count(before, after meetingState) {
	edge := func(b, a bool, on, off *float64) {
		switch {
		case !b && a:
			*on++
		case b && !a:
			*off++
		}
	}
	edge(before.present, after.present, &t.meetingsStarted, &t.meetingsEnded)
	edge(before.recording, after.recording, &t.recordingsStarted, &t.recordingsStopped)
	edge(before.streaming, after.streaming, &t.streamsStarted, &t.streamsStopped)
	edge(before.locked, after.locked, &t.meetingsLocked, &t.meetingsUnlocked)
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
}

func newNodeStats() nodeStats {
	return nodeStats{
		connectFailures: make(map[string]float64),
		disconnects:     make(map[string]float64),
		messages:        make(map[string]float64),
		errors:          make(map[string]float64),
	}
}
