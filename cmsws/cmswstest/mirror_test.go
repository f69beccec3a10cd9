package cmswstest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// mirror is a test events client that does what the exporter does: it
// subscribes to calls, follows every call with a callRoster subscription,
// rebuilds the state from the stream, and acks each message only after
// applying it (and after sending any subscribeRequest it caused), so that
// an idle server means an up-to-date mirror. It also checks the protocol
// invariants it can see and records violations.
type mirror struct {
	t    *testing.T
	node string
	ws   *websocket.Conn
	done chan struct{}

	mu        sync.Mutex
	calls     map[string]CallTruth
	rosters   map[string]map[string]ParticipantTruth // by call id
	subs      map[int]cmsws.Subscription             // the set last requested
	state     map[int]string                         // index → last reported state
	rosterIdx map[string]int                         // call id → roster index
	nextIndex int
	lastID    int64
	clientID  int64
	errs      []string
}

func newMirror(t *testing.T, c *Cluster, node string) *mirror {
	t.Helper()
	ws, status, err := dialToken(t, c, node, token(t, c, node))
	if err != nil {
		t.Fatalf("mirror %s: status %d: %v", node, status, err)
	}
	m := &mirror{
		t: t, node: node, ws: ws, done: make(chan struct{}),
		calls: map[string]CallTruth{}, rosters: map[string]map[string]ParticipantTruth{},
		subs: map[int]cmsws.Subscription{1: callsSub(1)}, state: map[int]string{},
		rosterIdx: map[string]int{}, nextIndex: 2,
	}
	m.mu.Lock()
	m.sendSubscribe()
	m.mu.Unlock()
	go m.run()
	t.Cleanup(m.close)
	return m
}

func (m *mirror) close() {
	_ = m.ws.Close()
	<-m.done
}

func (m *mirror) errorf(format string, args ...any) {
	if len(m.errs) < 20 {
		m.errs = append(m.errs, fmt.Sprintf(m.node+": "+format, args...))
	}
}

// sendSubscribe sends the current set. Caller holds m.mu.
func (m *mirror) sendSubscribe() {
	m.clientID++
	subs := make([]cmsws.Subscription, 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	slices.SortFunc(subs, func(a, b cmsws.Subscription) int { return cmp.Compare(a.Index, b.Index) })
	data, _ := cmsws.EncodeMessage(&cmsws.Message{MessageID: m.clientID, Type: cmsws.TypeSubscribeRequest, Subscriptions: subs})
	_ = m.ws.WriteMessage(websocket.TextMessage, data)
}

func (m *mirror) run() {
	defer close(m.done)
	for {
		_, data, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		fr, err := cmsws.DecodeFrame(data)
		m.mu.Lock()
		switch {
		case err != nil:
			m.errorf("decode: %v", err)
		case fr.Ack != nil:
			if fr.Ack.Status != cmsws.AckSuccess {
				m.errorf("ack %+v", fr.Ack)
			}
		default:
			msg := fr.Message
			if msg.MessageID != m.lastID+1 {
				m.errorf("messageId %d after %d", msg.MessageID, m.lastID)
			}
			m.lastID = msg.MessageID
			m.apply(msg)
			_ = m.ws.WriteMessage(websocket.TextMessage, cmsws.EncodeAck(msg.MessageID, cmsws.AckSuccess))
		}
		m.mu.Unlock()
	}
}

// apply folds one message into the mirror. Caller holds m.mu.
func (m *mirror) apply(msg *cmsws.Message) {
	if msg.Type == cmsws.TypeSubscriptionUpdate {
		for _, s := range msg.Statuses {
			m.state[s.Index] = s.State
			if sub, ok := m.subs[s.Index]; ok && s.State == cmsws.StateDeactivated && sub.Type == cmsws.ResourceCallRoster {
				delete(m.rosters, sub.Call)
			}
		}
		return
	}
	if msg.SubscriptionIndex == nil {
		m.errorf("message %s without subscriptionIndex", msg.Type)
		return
	}
	idx := *msg.SubscriptionIndex
	sub, current := m.subs[idx]
	if !current {
		return // a cancelled subscription's late update
	}
	if m.state[idx] != cmsws.StateActive {
		m.errorf("%s for index %d in state %q", msg.Type, idx, m.state[idx])
	}
	switch msg.Type {
	case cmsws.TypeCallListUpdate:
		resub := false
		for _, u := range msg.CallUpdates {
			resub = m.applyCall(u) || resub
		}
		if resub {
			m.sendSubscribe()
		}
	case cmsws.TypeRosterUpdate:
		r := m.rosters[sub.Call]
		if r == nil {
			r = map[string]ParticipantTruth{}
			m.rosters[sub.Call] = r
		}
		for _, u := range msg.RosterUpdates {
			m.applyRoster(r, u)
		}
	default:
		m.errorf("unexpected %s", msg.Type)
	}
}

// applyCall applies a calls update and reports whether the roster
// subscriptions must change. Caller holds m.mu.
func (m *mirror) applyCall(u cmsws.CallUpdate) bool {
	ct, known := m.calls[u.Call]
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		for name, f := range map[string]cmsws.FieldState{"name": u.Name.State, "participants": u.Participants.State,
			"distributedInstances": u.DistributedInstances.State, "recording": u.Recording.State, "streaming": u.Streaming.State,
			"endpointRecording": u.EndpointRecording.State, "lockState": u.LockState.State, "callType": u.CallType.State,
			"callCorrelator": u.CallCorrelator.State} {
			if f != cmsws.Valid {
				m.errorf("add of %s: %s is %s", u.Call, name, f)
			}
		}
		ct = CallTruth{ID: u.Call, Node: m.node}
	case cmsws.UpdateUpdate:
		if !known {
			m.errorf("update of unknown call %s", u.Call)
		}
	case cmsws.UpdateRemove:
		if !known || u.Reason.Value != reasonAllLeft {
			m.errorf("remove of %s (known %v), reason %+v", u.Call, known, u.Reason)
		}
		delete(m.calls, u.Call)
		delete(m.rosters, u.Call)
		if idx, ok := m.rosterIdx[u.Call]; ok {
			delete(m.rosterIdx, u.Call)
			delete(m.subs, idx)
			return true
		}
		return false
	}
	setF(&ct.Name, u.Name)
	setF(&ct.Participants, u.Participants)
	setF(&ct.DistributedInstances, u.DistributedInstances)
	setF(&ct.CallType, u.CallType)
	setF(&ct.Correlator, u.CallCorrelator)
	setOn(&ct.Recording, u.Recording, "active")
	setOn(&ct.Streaming, u.Streaming, "active")
	setOn(&ct.EndpointRecording, u.EndpointRecording, "active")
	setOn(&ct.Locked, u.LockState, "locked")
	m.calls[u.Call] = ct
	if _, ok := m.rosterIdx[u.Call]; !ok && len(m.subs) < 100 {
		idx := m.nextIndex // never reused
		m.nextIndex++
		m.rosterIdx[u.Call] = idx
		m.subs[idx] = rosterSub(idx, u.Call)
		return true
	}
	return false
}

func (m *mirror) applyRoster(r map[string]ParticipantTruth, u cmsws.RosterUpdate) {
	p, known := r[u.Participant]
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		p = ParticipantTruth{ID: u.Participant}
	case cmsws.UpdateUpdate:
		if !known {
			m.errorf("roster update of unknown %s", u.Participant)
		}
	case cmsws.UpdateRemove:
		if !known {
			m.errorf("roster remove of unknown %s", u.Participant)
		}
		delete(r, u.Participant)
		return
	}
	setF(&p.Name, u.Name)
	setF(&p.URI, u.URI)
	setF(&p.State, u.State)
	setF(&p.Direction, u.Direction)
	setF(&p.Layout, u.Layout)
	setF(&p.AudioMuted, u.AudioMuted)
	setF(&p.VideoMuted, u.VideoMuted)
	setF(&p.TxAudioMuted, u.TxAudioMuted)
	setF(&p.TxVideoMuted, u.TxVideoMuted)
	setF(&p.Presenter, u.Presenter)
	setF(&p.ActiveSpeaker, u.ActiveSpeaker)
	setF(&p.CanMove, u.CanMove)
	setF(&p.MovedParticipant, u.MovedParticipant)
	setF(&p.MovedParticipantCallBridge, u.MovedParticipantCallBridge)
	setOn(&p.EndpointRecording, u.EndpointRecording, "active")
	r[u.Participant] = p
}

func setF[T any](dst *T, f cmsws.Field[T]) {
	switch f.State {
	case cmsws.Valid:
		*dst = f.Value
	case cmsws.Null:
		var zero T
		*dst = zero
	}
}

func setOn(dst *bool, f cmsws.Field[string], on string) {
	if f.State == cmsws.Valid {
		*dst = f.Value == on
	}
}

// diff compares the mirror with tr; nil means equal. Every call of the
// node must have an active roster subscription whose roster equals the
// meeting's participants.
func (m *mirror) diff(tr Truth) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > 0 {
		return fmt.Errorf("protocol errors: %v", m.errs)
	}
	want := tr.Nodes[m.node].Calls
	if !maps.Equal(m.calls, want) {
		return fmt.Errorf("%s calls differ:\n mirror %+v\n truth  %+v", m.node, m.calls, want)
	}
	for id, ct := range want {
		idx, ok := m.rosterIdx[id]
		if !ok || m.state[idx] != cmsws.StateActive {
			return fmt.Errorf("%s: call %s has no active roster subscription (index %d, %q)", m.node, id, idx, m.state[idx])
		}
		wantR := map[string]ParticipantTruth{}
		for pid, p := range tr.Meetings[ct.Correlator].Participants {
			p.Node = "" // not on the wire
			wantR[pid] = p
		}
		if !maps.Equal(m.rosters[id], wantR) {
			return fmt.Errorf("%s: roster of %s differs:\n mirror %+v\n truth  %+v", m.node, id, m.rosters[id], wantR)
		}
	}
	return nil
}

func (m *mirror) protocolErrors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}
