package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// call is one call instance on one node.
type call struct {
	node *node
	// id is the call id as CMS sent it: the key everywhere, and what a
	// callRoster subscription names. label is its label value (labelValue).
	id    string
	label string
	st    callState

	addedAt   time.Time
	liveAdded bool // announced by a live add (not a snapshot)
	// settled: its lockState can be believed (see settleLock).
	settled bool
	snapGen uint64
	meeting *meeting
	// rosterRefused: CMS deactivated a callRoster subscription to this call
	// while the model held it (the call had ended, or the node would not
	// serve its roster). The planner avoids the call's node for its meeting
	// while this call is the instance a subscription there would name, so
	// the refused subscription is not asked for again in a loop. It lives
	// and dies with this call, not with the node: a new instance of the
	// meeting on the same node was never refused. An active subscription to
	// the call clears it.
	rosterRefused bool
	// rendered caches the call's per-call series between scrapes; most
	// calls do not change between two scrapes, and building const metrics
	// is most of a scrape's cost. setState clears it.
	rendered []prometheus.Metric
}

// callState is the part of a call that updates change. It is a value so an
// update can be applied to a copy first and compared.
type callState struct {
	// correlator and name are raw, as CMS sent them (see readText).
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
	set callElements
}

// callElements is a set of the elements of a call, one bit each.
type callElements uint16

const (
	elName callElements = 1 << iota
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
	// heldLock is the lock state the meeting was believed to have when its
	// last settled instance left it (see detach); state shows it while no
	// instance is settled. CMS locks meetings, not calls: a new instance's
	// announced "locked" says nothing yet, so until one settles the
	// meeting's lock is what it was, not "unlocked" (which would count an
	// unlock, then a lock when the instance settles locked).
	heldLock bool
}

// instanceOn returns the meeting's instance on the named node that a
// roster subscription there names, or nil. Should there be several (a new
// call of the meeting listed while the ended one is still held), one whose
// roster was not refused goes first, so that a refused call held a while
// longer does not keep the node from serving the meeting; then the
// smallest id, so that the choice is stable.
func (m *meeting) instanceOn(nodeName string) *call {
	var found *call
	for _, cl := range m.instances {
		if cl.node.name == nodeName && (found == nil || preferredInstance(cl, found)) {
			found = cl
		}
	}
	return found
}

// preferredInstance reports whether a is the better of two instances of a
// meeting on one node to subscribe the roster of (see instanceOn).
func preferredInstance(a, b *call) bool {
	if a.rosterRefused != b.rosterRefused {
		return !a.rosterRefused
	}
	return a.id < b.id
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
	anySettled := false
	for _, cl := range m.instances {
		// CMS reports the cluster-wide count on every instance: max, not sum.
		s.participants = max(s.participants, cl.st.participants)
		s.recording = s.recording || cl.st.recording
		s.streaming = s.streaming || cl.st.streaming
		s.locked = s.locked || (cl.settled && cl.st.locked)
		anySettled = anySettled || cl.settled
	}
	if !anySettled {
		s.locked = m.heldLock
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
