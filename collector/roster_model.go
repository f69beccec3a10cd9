package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// roster is one meeting's participant list and its aggregates. It is kept
// per meeting, not per subscription: during a re-home two subscriptions
// may feed it, and their reports of one join or leave must count once.
type roster struct {
	// participants holds one small value per participant, keyed by the
	// participant's GUID as CMS sends it. Values, not pointers: a large
	// roster is mostly this map, and pointers would double its memory and
	// its work for the garbage collector.
	participants map[string]participant
	// agg is maintained on every change (the old contribution subtracted,
	// the new one added), so rendering a meeting costs O(1), never
	// O(participants).
	agg rosterAgg
	// gen numbers the snapshots that replaced this roster. Participants
	// carry the generation that last confirmed them; the end of a snapshot
	// drops those it did not confirm.
	gen uint32
	// leavers are recently removed participants: a second report of the
	// same leave (from a second subscription during a re-home) must not
	// count, and a lagging subscription must not bring them back.
	leavers recentIDs
	// forgotten are participants a snapshot dropped because it did not
	// confirm them: should a late report add one again, that is no join.
	forgotten recentIDs
	// rendered caches the per-call series for renderedFor; any change of
	// agg clears it.
	rendered    []prometheus.Metric
	renderedFor *call
}

// stashedRoster is a roster kept after its meeting went silently.
type stashedRoster struct {
	r     *roster
	until time.Time
}

func newRoster() *roster {
	return &roster{participants: make(map[string]participant)}
}

// put installs p under id and keeps the aggregates right.
func (r *roster) put(id string, p participant) {
	old, existed := r.participants[id]
	r.participants[id] = p
	if existed {
		if old.st == p.st {
			return
		}
		r.agg.add(&old.st, -1)
	}
	r.agg.add(&p.st, 1)
	r.rendered = nil
}

// drop removes a participant and its contribution to the aggregates.
func (r *roster) drop(id string) {
	old, ok := r.participants[id]
	if !ok {
		return
	}
	delete(r.participants, id)
	r.agg.add(&old.st, -1)
	r.rendered = nil
}

// participant is one roster entry: its state and the snapshot generation
// that last confirmed it.
type participant struct {
	st  participantState
	gen uint32
}

// participantState is what the model knows of a participant. It is a
// comparable value, so an update can be applied to a copy and compared.
// Enumerated elements are small indexes, not strings: no allocation per
// participant beyond its map entry. Name and URI are deliberately not kept:
// they are never labels, and they would be most of the memory.
type participantState struct {
	flags     participantFlags
	set       participantElements
	state     uint8 // index in participantStates; stateOther also when unset
	direction uint8 // index in participantDirections; 0 = unset or other
	layout    uint8 // 1 + index in knownLayouts; 0 = unset or other
	// movedFrom is the participant this one was moved from, if
	// movedParticipant held a well-formed GUID. Garbage there is kept as
	// "not moved": never a key, never a label.
	movedFrom participantGUID
}

// participantGUID is a participant GUID as movedParticipant holds it; ok
// false: there is none (absent, null, or not a GUID).
type participantGUID struct {
	guid [16]byte
	ok   bool
}

// participantFlag is an on/off element of a participant: its bit in
// participantFlags and its index in rosterAgg's counts and in
// participantFlagMetrics.
type participantFlag uint8

const (
	flagAudioMuted participantFlag = iota
	flagVideoMuted
	flagTxAudioMuted
	flagTxVideoMuted
	flagPresenter
	flagActiveSpeaker
	flagEndpointRecording
	numFlags = iota
)

// participantFlags is the set of a participant's flags that are on.
type participantFlags uint8

func (s participantFlags) has(f participantFlag) bool { return s&(1<<f) != 0 }

func (s *participantFlags) set(f participantFlag, on bool) {
	if on {
		*s |= 1 << f
	} else {
		*s &^= 1 << f
	}
}

// participantElements records which elements hold a value from CMS
// (rather than unset by null or never sent).
type participantElements uint16

const (
	pelState participantElements = 1 << iota
	pelDirection
	pelAudioMuted
	pelVideoMuted
	pelTxAudioMuted
	pelTxVideoMuted
	pelPresenter
	pelActiveSpeaker
	pelEndpointRecording
	pelLayout
	pelMovedParticipant
)

// Participant states: the documented four and "other", last. A state CMS
// has not (validly) set counts as other.
var participantStates = [...]string{"initial", "ringing", "connected", "onHold", labelOther}

const (
	numStates  = len(participantStates)
	stateOther = uint8(numStates - 1)
)

var participantDirections = []string{"", "incoming", "outgoing"}

// knownLayouts are the layouts of the Events Guide 3.12.
var knownLayouts = []string{"allEqual", "speakerOnly", "telepresence", "stacked", "allEqualQuarters",
	"allEqualNinths", "allEqualSixteenths", "allEqualTwentyFifths", "onePlusFive", "onePlusSeven",
	"onePlusNine", "automatic", "onePlusN"}

// rosterAgg are a roster's counts by state and by flag.
type rosterAgg struct {
	states [numStates]int32
	flags  [numFlags]int32
}

func (a *rosterAgg) add(st *participantState, d int32) {
	a.states[st.state] += d
	for f := range participantFlag(numFlags) {
		if st.flags.has(f) {
			a.flags[f] += d
		}
	}
}

// recentIDs is a bounded set of recently seen ids: a ring buffer for the
// order plus a map for lookups. The oldest id is forgotten when it is full.
type recentIDs struct {
	ring []string
	next int
	set  map[string]struct{}
}

// Bounds of the recentIDs sets of a roster. A re-home echo of a leave
// arrives within seconds; 64 leaves in those seconds in one meeting would
// be a mass exodus, and the cost of forgetting is one extra count. A
// snapshot sweep may drop a whole roster, so its memory is larger.
const (
	maxRecentLeavers         = 64
	maxForgottenParticipants = 1024
)

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

// add remembers id, forgetting the oldest beyond capacity ids.
func (r *recentIDs) add(id string, capacity int) {
	if r.set == nil {
		r.set = make(map[string]struct{}, 4)
	}
	if r.has(id) {
		return
	}
	if len(r.ring) < capacity {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % capacity
	}
	r.set[id] = struct{}{}
}

// rosterFeed is the state of one callRoster subscription as a source of a
// meeting's roster: its snapshot phase and the roster it writes into.
type rosterFeed struct {
	// snapshot: the subscription became active and has so far delivered
	// only adds; they are its snapshot, not joins. The phase ends at the
	// first listing of the subscription after its activation (the sync
	// request's answer, queued behind the snapshot), at the first message
	// on it with anything else, or after SnapshotTimeout without a message
	// on it.
	snapshot bool
	last     time.Time
	// gen is the roster generation this feed's snapshot writes; r the
	// roster it writes into (nil until the subscription's call is known).
	gen uint32
	r   *roster
}

// participantTotals are the cluster-wide participant transition counters.
// They survive meetings and nodes: counters never go backwards.
type participantTotals struct {
	joined float64
	moved  float64
	left   [len(leaveReasons)]float64 // by leaveReasons index
}
