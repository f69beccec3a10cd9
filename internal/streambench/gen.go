package streambench

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Stream kinds.
const (
	// StreamCalls is a calls snapshot followed by single-entry
	// callListUpdates: participant counts dominate, with some recording,
	// streaming, lock, name and distributedInstances changes and a few
	// calls starting and ending.
	StreamCalls = "calls"
	// StreamRoster is a calls snapshot and one roster per call followed by
	// single-entry rosterUpdates: activeSpeaker toggles dominate (about
	// 70 %), then mute toggles, presenter and layout changes, and a few
	// joins and leaves, each followed by the callListUpdate of the call's
	// new participant count, as CMS sends them.
	StreamRoster = "roster"
)

// Message types of the stream.
const (
	typeCallList = "callListUpdate"
	typeRoster   = "rosterUpdate"
)

// Params say which stream to generate. The same Params give the same
// stream, byte for byte, in every process: the server and the parent
// generate it independently from the seed.
type Params struct {
	Kind string `json:"kind"`
	Seed uint64 `json:"seed"`
	// Calls in the snapshot.
	Calls int `json:"calls"`
	// Participants per call at the start (roster stream).
	Participants int `json:"participants"`
	// Messages after the snapshots: the measured stream.
	Messages int `json:"messages"`
}

// Call is one call's state as the calls resource shows it.
type Call struct {
	ID, Correlator, Name, CallType          string
	Participants, DistributedInstances      int
	Recording, Streaming, EndpointRecording bool
	Locked                                  bool
}

// Participant is one participant's state as the callRoster resource shows
// it.
type Participant struct {
	ID, Name, URI, State, Direction, Layout string
	AudioMuted, VideoMuted                  bool
	TxAudioMuted, TxVideoMuted              bool
	ActiveSpeaker, Presenter, CanMove       bool
	EndpointRecording                       bool
}

// Counters are the live transitions of a stream: what the exporter's
// *_total counters must have counted.
type Counters struct {
	MeetingsStarted, MeetingsEnded       int
	RecordingsStarted, RecordingsStopped int
	StreamsStarted, StreamsStopped       int
	ParticipantsJoined, ParticipantsLeft int
}

// count adds one to on or off.
func (Counters) count(now bool, on, off *int) {
	if now {
		*on++
	} else {
		*off++
	}
}

// State is the cluster as the stream describes it: one node's calls and
// the rosters of the calls that have one.
type State struct {
	Calls map[string]*Call
	// Order is the calls in the order they were added (snapshot order
	// first), so that everything derived from a State is deterministic.
	Order []string
	// Rosters by call id; a participant list in join order.
	Rosters  map[string][]*Participant
	Counters Counters
}

func newState() *State {
	return &State{Calls: map[string]*Call{}, Rosters: map[string][]*Participant{}}
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := newState()
	c.Order = slices.Clone(s.Order)
	c.Counters = s.Counters
	for id, cl := range s.Calls {
		v := *cl
		c.Calls[id] = &v
	}
	for id, ps := range s.Rosters {
		list := make([]*Participant, len(ps))
		for i, p := range ps {
			v := *p
			list[i] = &v
		}
		c.Rosters[id] = list
	}
	return c
}

// CallIDs returns the live calls in the order they were added.
func (s *State) CallIDs() []string {
	out := make([]string, 0, len(s.Calls))
	for _, id := range s.Order {
		if s.Calls[id] != nil {
			out = append(out, id)
		}
	}
	return out
}

// Msg is one message of the measured stream, encoded except for its
// messageId and subscriptionIndex, which the server splices in at send
// time (the index depends on the client's subscription).
type Msg struct {
	Type string
	// Target is the call whose roster the message is about (rosterUpdate);
	// empty for callListUpdate.
	Target string
	// Body is the frame after `"subscriptionIndex":N,`.
	Body []byte
}

// Stream is a generated stream: the state the snapshots show, the
// messages, and the state after the last message.
type Stream struct {
	Params  Params
	Initial *State
	Final   *State
	Msgs    []Msg
}

// Watched is the calls whose roster a client must subscribe to before the
// measured stream starts: every call of the roster stream, none of the
// calls stream (see cmsbench: its exporter excludes rosters there).
func (s *Stream) Watched() []string {
	if s.Params.Kind != StreamRoster {
		return nil
	}
	return s.Initial.CallIDs()
}

// layouts are CMS's layout values the stream uses.
var layouts = []string{"allEqual", "speakerOnly", "telepresence", "stacked", "onePlusFive", "onePlusSeven", "onePlusNine"}

// gen holds the generator's state.
type gen struct {
	rng    *rand.Rand
	st     *State
	live   []string // live call ids, for picks
	serial int
	buf    []byte
}

// Generate builds the stream p describes. It is deterministic: the same
// Params give the same Stream.
func Generate(p Params) (*Stream, error) {
	switch {
	case p.Kind != StreamCalls && p.Kind != StreamRoster:
		return nil, fmt.Errorf("stream %q: want %s or %s", p.Kind, StreamCalls, StreamRoster)
	case p.Calls < 1:
		return nil, fmt.Errorf("calls %d: want at least 1", p.Calls)
	case p.Messages < 1:
		return nil, fmt.Errorf("messages %d: want at least 1", p.Messages)
	case p.Kind == StreamRoster && p.Participants < 2:
		return nil, fmt.Errorf("participants %d: want at least 2", p.Participants)
	}
	g := &gen{rng: rand.New(rand.NewPCG(p.Seed, 0x636d7362656e6368)), st: newState()}
	for range p.Calls {
		c := g.newCall()
		c.Participants = 1 + g.rng.IntN(30)
		c.DistributedInstances = g.rng.IntN(3)
		c.Recording = g.rng.IntN(10) == 0
		c.Streaming = g.rng.IntN(20) == 0
		c.Locked = g.rng.IntN(8) == 0
		if p.Kind == StreamRoster {
			ps := make([]*Participant, p.Participants)
			for i := range ps {
				ps[i] = g.newParticipant()
				ps[i].AudioMuted = g.rng.IntN(4) == 0
				ps[i].VideoMuted = g.rng.IntN(6) == 0
			}
			ps[0].ActiveSpeaker = true
			g.st.Rosters[c.ID] = ps
			c.Participants = len(ps)
		}
	}
	s := &Stream{Params: p, Initial: g.st.Clone(), Msgs: make([]Msg, 0, p.Messages)}
	for len(s.Msgs) < p.Messages {
		if p.Kind == StreamCalls {
			s.Msgs = append(s.Msgs, g.callStep(p))
		} else {
			s.Msgs = append(s.Msgs, g.rosterStep(p, p.Messages-len(s.Msgs))...)
		}
	}
	// The generator kept the state as it wrote the messages: that is the
	// truth the exporter's metrics must show at the end.
	s.Final = g.st
	return s, nil
}

func (g *gen) uuid() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48|0x8000, b&0xffffffffffff)
}

func (g *gen) newCall() *Call {
	g.serial++
	c := &Call{ID: g.uuid(), Correlator: g.uuid(), Name: fmt.Sprintf("Space %03d", g.serial), CallType: "coSpace"}
	if g.rng.IntN(5) == 0 {
		c.CallType = "adHoc"
	}
	g.st.Calls[c.ID] = c
	g.st.Order = append(g.st.Order, c.ID)
	g.live = append(g.live, c.ID)
	return c
}

func (g *gen) newParticipant() *Participant {
	g.serial++
	return &Participant{ID: g.uuid(), Name: fmt.Sprintf("Participant %03d", g.serial),
		URI: fmt.Sprintf("user%03d@example.org", g.serial), State: "connected", Direction: "incoming",
		Layout: layouts[g.rng.IntN(len(layouts))]}
}

// beginList starts a message body; begin starts one with one entry.
func (g *gen) beginList() []byte { return append(g.buf[:0], `"updates":[`...) }

func (g *gen) begin() []byte { return append(g.beginList(), '{') }

func (g *gen) end(b []byte, typ, target string) Msg {
	b = append(b, "}]}}"...)
	g.buf = b
	return Msg{Type: typ, Target: target, Body: slices.Clone(b)}
}

// callStep is one message of the calls stream.
func (g *gen) callStep(p Params) Msg {
	r := g.rng.IntN(1000)
	n := len(g.live)
	switch {
	case r >= 970 && (n < p.Calls+p.Calls/10 || n <= 1):
		return g.addCall()
	case r >= 970:
		return g.removeCall(g.live[g.rng.IntN(n)])
	case r >= 940 && n > 1 && n > p.Calls-p.Calls/10:
		return g.removeCall(g.live[g.rng.IntN(n)])
	case r >= 940:
		return g.addCall()
	}
	c := g.st.Calls[g.live[g.rng.IntN(n)]]
	b := g.begin()
	b = appendStringField(b, "call", c.ID)
	b = appendStringField(b, "updateType", "update")
	switch {
	case r < 700:
		d := 1 + g.rng.IntN(3)
		if c.Participants > d && g.rng.IntN(2) == 0 {
			d = -d
		}
		c.Participants += d
		b = appendIntField(b, "participants", c.Participants)
	case r < 760:
		c.Recording = !c.Recording
		g.st.Counters.count(c.Recording, &g.st.Counters.RecordingsStarted, &g.st.Counters.RecordingsStopped)
		b = appendStringField(b, "recording", activity(c.Recording))
	case r < 820:
		c.Streaming = !c.Streaming
		g.st.Counters.count(c.Streaming, &g.st.Counters.StreamsStarted, &g.st.Counters.StreamsStopped)
		b = appendStringField(b, "streaming", activity(c.Streaming))
	case r < 870:
		c.Locked = !c.Locked
		b = appendStringField(b, "lockState", lockState(c.Locked))
	case r < 900:
		c.Name = fmt.Sprintf("Space %03d (%d)", g.serial, r)
		g.serial++
		b = appendStringField(b, "name", c.Name)
	case r < 920:
		c.EndpointRecording = !c.EndpointRecording
		b = appendStringField(b, "endpointRecording", activity(c.EndpointRecording))
	default:
		c.DistributedInstances = g.rng.IntN(4)
		b = appendIntField(b, "distributedInstances", c.DistributedInstances)
	}
	return g.end(b, typeCallList, "")
}

func (g *gen) addCall() Msg {
	c := g.newCall()
	g.st.Counters.MeetingsStarted++
	b := appendCallAdd(g.beginList(), c)
	b = append(b, "]}}"...)
	g.buf = b
	return Msg{Type: typeCallList, Body: slices.Clone(b)}
}

func (g *gen) removeCall(id string) Msg {
	c := g.st.Calls[id]
	delete(g.st.Calls, id)
	delete(g.st.Rosters, id)
	i := slices.Index(g.live, id)
	g.live = slices.Delete(g.live, i, i+1)
	g.st.Counters.MeetingsEnded++
	if c.Recording {
		g.st.Counters.RecordingsStopped++
	}
	if c.Streaming {
		g.st.Counters.StreamsStopped++
	}
	b := g.begin()
	b = appendStringField(b, "call", id)
	b = appendStringField(b, "updateType", "remove")
	b = appendStringField(b, "reason", "allLeft")
	return g.end(b, typeCallList, "")
}

// rosterStep is one step of the roster stream: one rosterUpdate, followed
// by a callListUpdate when the step changed the call's participant count.
// room is how many messages the stream still takes: a join or leave needs
// two, so the last message is never half a step.
func (g *gen) rosterStep(p Params, room int) []Msg {
	id := g.live[g.rng.IntN(len(g.live))]
	ps := g.st.Rosters[id]
	r := g.rng.IntN(1000)
	if room < 2 {
		r %= 950
	}
	switch {
	case r >= 975 && (len(ps) < 2*p.Participants || len(ps) <= 1):
		return g.join(id)
	case r >= 975:
		return g.leave(id)
	case r >= 950 && len(ps) > 1:
		return g.leave(id)
	case r >= 950:
		return g.join(id)
	}
	pt := ps[g.rng.IntN(len(ps))]
	b := g.begin()
	b = appendStringField(b, "participant", pt.ID)
	b = appendStringField(b, "updateType", "update")
	switch {
	case r < 700:
		pt.ActiveSpeaker = !pt.ActiveSpeaker
		b = appendBoolField(b, "activeSpeaker", pt.ActiveSpeaker)
	case r < 800:
		pt.AudioMuted = !pt.AudioMuted
		b = appendBoolField(b, "audioMuted", pt.AudioMuted)
	case r < 870:
		pt.VideoMuted = !pt.VideoMuted
		b = appendBoolField(b, "videoMuted", pt.VideoMuted)
	case r < 900:
		pt.Presenter = !pt.Presenter
		b = appendBoolField(b, "presenter", pt.Presenter)
	default:
		pt.Layout = layouts[g.rng.IntN(len(layouts))]
		b = appendStringField(b, "layout", pt.Layout)
	}
	return []Msg{g.end(b, typeRoster, id)}
}

func (g *gen) join(id string) []Msg {
	pt := g.newParticipant()
	g.st.Rosters[id] = append(g.st.Rosters[id], pt)
	g.st.Counters.ParticipantsJoined++
	b := appendParticipantAdd(g.beginList(), pt)
	b = append(b, "]}}"...)
	g.buf = b
	m := Msg{Type: typeRoster, Target: id, Body: slices.Clone(b)}
	return []Msg{m, g.participantCount(id)}
}

func (g *gen) leave(id string) []Msg {
	ps := g.st.Rosters[id]
	i := g.rng.IntN(len(ps))
	pt := ps[i]
	g.st.Rosters[id] = slices.Delete(ps, i, i+1)
	g.st.Counters.ParticipantsLeft++
	b := g.begin()
	b = appendStringField(b, "participant", pt.ID)
	b = appendStringField(b, "updateType", "remove")
	b = appendStringField(b, "reason", "remoteTeardown")
	return []Msg{g.end(b, typeRoster, id), g.participantCount(id)}
}

func (g *gen) participantCount(id string) Msg {
	c := g.st.Calls[id]
	c.Participants = len(g.st.Rosters[id])
	b := g.begin()
	b = appendStringField(b, "call", id)
	b = appendStringField(b, "updateType", "update")
	b = appendIntField(b, "participants", c.Participants)
	return g.end(b, typeCallList, "")
}

// appendCallAdd appends a call's add entry, keys in CMS's order.
func appendCallAdd(b []byte, c *Call) []byte {
	if n := len(b); n > 0 && b[n-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '{')
	b = appendStringField(b, "call", c.ID)
	b = appendStringField(b, "updateType", "add")
	b = appendStringField(b, "callCorrelator", c.Correlator)
	b = appendStringField(b, "name", c.Name)
	b = appendIntField(b, "participants", c.Participants)
	b = appendIntField(b, "distributedInstances", c.DistributedInstances)
	b = appendStringField(b, "streaming", activity(c.Streaming))
	b = appendStringField(b, "recording", activity(c.Recording))
	b = appendStringField(b, "endpointRecording", activity(c.EndpointRecording))
	b = appendStringField(b, "lockState", lockState(c.Locked))
	b = appendStringField(b, "callType", c.CallType)
	return append(b, '}')
}

// appendParticipantAdd appends a participant's add entry, keys in CMS's
// order.
func appendParticipantAdd(b []byte, p *Participant) []byte {
	if n := len(b); n > 0 && b[n-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '{')
	b = appendStringField(b, "participant", p.ID)
	b = appendStringField(b, "updateType", "add")
	b = appendStringField(b, "name", p.Name)
	b = appendStringField(b, "uri", p.URI)
	b = appendStringField(b, "state", p.State)
	b = appendStringField(b, "direction", p.Direction)
	b = appendBoolField(b, "canMove", p.CanMove)
	b = appendBoolField(b, "audioMuted", p.AudioMuted)
	b = appendBoolField(b, "videoMuted", p.VideoMuted)
	b = append(appendKey(b, "importance"), "null"...)
	b = appendStringField(b, "layout", p.Layout)
	b = appendBoolField(b, "activeSpeaker", p.ActiveSpeaker)
	b = appendBoolField(b, "presenter", p.Presenter)
	b = appendStringField(b, "endpointRecording", activity(p.EndpointRecording))
	return append(b, '}')
}
