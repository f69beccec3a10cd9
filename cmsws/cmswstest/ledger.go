package cmswstest

import "github.com/cms-exporter/cms_exporter/cmsws"

// Transitions counts the changes a client subscribed to every node's calls
// (and to the rosters the fake publishes to) was told of as they happened:
// the ground truth of an exporter's transition counters. Meeting-level
// changes count once per meeting, however many nodes report them.
//
// What a snapshot tells is no transition: a client cannot know when it
// happened. That includes an add sent on a subscription after its
// activation and before the fake listed that subscription again (the
// answer to the client's next request, see cmsws) or sent it a message that
// is not all adds (no snapshot holds an update or a remove): nothing on the
// wire tells such an add from the snapshot, so it counts as learnt, not as
// a start or a join. A change told to nobody (every node hosting the meeting
// unsubscribed) is not counted either, and when the meeting is next seen
// in a snapshot its state is simply learnt.
//
// The ledger orders changes as the fake queues them. Messages of different
// connections may reach a client in another order: a meeting that runs on
// a node whose snapshot is still on its way, and is then told live by
// another node, is a start for the ledger but maybe not for the client.
// Tests start meetings once the client watches every node.
type Transitions struct {
	MeetingsStarted, MeetingsEnded       int
	RecordingsStarted, RecordingsStopped int
	StreamsStarted, StreamsStopped       int
	MeetingsLocked, MeetingsUnlocked     int
	ParticipantsJoined                   int
	ParticipantsLeft                     int // all reasons
}

// Transitions returns the counts so far.
func (c *Cluster) Transitions() Transitions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ledger.counts
}

// ledger keeps Transitions and what the client has been told of each
// meeting. Guarded by Cluster.mu.
type ledger struct {
	counts Transitions
	seen   map[*meeting]*seenMeeting
}

// seenMeeting is a meeting as last told to the client: its meeting-level
// state (present at all, recording, ...) and its participants.
type seenMeeting struct {
	state        seenState
	participants map[string]bool
}

type seenState struct{ present, recording, streaming, locked bool }

func stateOf(m *meeting) seenState {
	return seenState{present: len(m.instances) > 0, recording: m.recording, streaming: m.streaming, locked: m.locked}
}

// told is how a change reached the client: live on some subscription past
// its snapshot window, or only as a snapshot (or within a window).
type told struct{ live, learnt bool }

// note records that a message of the change was queued on s of cn. A
// stalled connection never delivers it: nothing is told there.
func (t *told) note(cn *conn, s *sub) {
	switch {
	case cn.stalled || cn.closed:
	case s.window:
		t.learnt = true
	default:
		t.live = true
	}
}

func (l *ledger) meeting(m *meeting) *seenMeeting {
	if l.seen == nil {
		l.seen = map[*meeting]*seenMeeting{}
	}
	sm := l.seen[m]
	if sm == nil {
		sm = &seenMeeting{participants: map[string]bool{}}
		l.seen[m] = sm
	}
	return sm
}

// meetingChanged accounts for a call-level change of m after it was
// published as t says.
func (l *ledger) meetingChanged(m *meeting, t told) {
	now := stateOf(m)
	if t.live {
		sm := l.meeting(m)
		l.count(sm.state, now)
		sm.state = now
	} else if t.learnt {
		l.meeting(m).state = now
	}
	if !now.present {
		delete(l.seen, m) // nothing more can be told of it
	}
}

// learnt: a snapshot told the client m's state.
func (l *ledger) learnt(m *meeting) { l.meeting(m).state = stateOf(m) }

// learntRoster: a roster snapshot told the client m's participants.
func (l *ledger) learntRoster(m *meeting) {
	sm := l.meeting(m)
	clear(sm.participants)
	for id := range m.participants {
		sm.participants[id] = true
	}
}

// rosterChanged accounts for one roster change of m published as t says.
func (l *ledger) rosterChanged(m *meeting, ch rosterChange, t told) {
	if !t.live && !t.learnt {
		return
	}
	sm := l.meeting(m)
	switch ch.updateType {
	case cmsws.UpdateAdd:
		if t.live && !sm.participants[ch.p.id] {
			l.counts.ParticipantsJoined++
		}
		sm.participants[ch.p.id] = true
	case cmsws.UpdateRemove:
		if t.live && sm.participants[ch.p.id] {
			l.counts.ParticipantsLeft++
		}
		delete(sm.participants, ch.p.id)
	}
}

func (l *ledger) count(before, after seenState) {
	edge := func(b, a bool, on, off *int) {
		switch {
		case !b && a:
			*on++
		case b && !a:
			*off++
		}
	}
	c := &l.counts
	edge(before.present, after.present, &c.MeetingsStarted, &c.MeetingsEnded)
	// Absent counts as "off" in every respect: a meeting that starts
	// recording is a recording start, one that ends while recording a stop.
	if !before.present {
		before = seenState{}
	}
	if !after.present {
		after = seenState{}
	}
	edge(before.recording, after.recording, &c.RecordingsStarted, &c.RecordingsStopped)
	edge(before.streaming, after.streaming, &c.StreamsStarted, &c.StreamsStopped)
	edge(before.locked, after.locked, &c.MeetingsLocked, &c.MeetingsUnlocked)
}
