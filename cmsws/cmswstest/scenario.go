package cmswstest

import (
	"fmt"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Values CMS uses, for validation and for the traffic generator.
var (
	callTypes         = []string{"coSpace", "adHoc", "lyncConferencing", "forwarding"}
	participantStates = []string{"initial", "ringing", "connected", "onHold"}
	directions        = []string{"incoming", "outgoing"}
)

const (
	stateInitial   = "initial"
	stateConnected = "connected"
)

// MeetingOptions describe a meeting to start.
type MeetingOptions struct {
	Name string
	// CallType is coSpace (default), adHoc, lyncConferencing or forwarding.
	CallType string
	// Correlator reuses a callCorrelator, as a space that starts again
	// does; empty = a new GUID. It must not belong to a running meeting.
	Correlator           string
	Recording, Streaming bool
	EndpointRecording    bool
	Locked               bool
	// EmptyNameFirst announces every new instance with name "" and fills
	// the name in with the lockState update, as seen in captures.
	EmptyNameFirst        bool
	JoinAudioMuteOverride *bool
}

// ParticipantOptions describe a participant joining.
type ParticipantOptions struct {
	Name, URI string
	// State is the state of the add (default connected). Shape the usual
	// initial → ringing → connected sequence with UpdateParticipant.
	State string
	// Direction is incoming (default) or outgoing.
	Direction                  string
	Layout                     string // default allEqual
	AudioMuted, VideoMuted     bool
	TxAudioMuted, TxVideoMuted bool
	Presenter                  bool
	CanMove                    bool
}

// ParticipantChange lists what UpdateParticipant changes; nil = unchanged.
type ParticipantChange struct {
	State                      *string
	AudioMuted, VideoMuted     *bool
	TxAudioMuted, TxVideoMuted *bool
	Presenter, ActiveSpeaker   *bool
	EndpointRecording          *bool
	Layout, Name, URI          *string
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// lock takes c.mu and fails when the cluster is closed.
func (c *Cluster) lock() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	return nil
}

func (c *Cluster) meeting(correlator string) (*meeting, error) {
	m := c.meetings[correlator]
	if m == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMeeting, correlator)
	}
	return m, nil
}

// StartMeeting starts a meeting with one instance on node and returns its
// callCorrelator. Its calls subscribers see the add with lockState locked,
// then the unlock.
func (c *Cluster) StartMeeting(node string, o MeetingOptions) (string, error) {
	if o.CallType == "" {
		o.CallType = "coSpace"
	}
	if !oneOf(o.CallType, callTypes) {
		return "", fmt.Errorf("%w: call type %q", ErrInvalid, o.CallType)
	}
	if err := c.lock(); err != nil {
		return "", err
	}
	defer c.mu.Unlock()
	n, err := c.node(node)
	if err != nil {
		return "", err
	}
	corr := o.Correlator
	if corr == "" {
		corr = c.newGUID()
	} else if c.meetings[corr] != nil {
		return "", fmt.Errorf("%w: correlator %q is running", ErrInvalid, corr)
	}
	m := &meeting{
		correlator: corr, seq: c.nextSeq(), name: o.Name, callType: o.CallType,
		recording: o.Recording, streaming: o.Streaming, endpointRecording: o.EndpointRecording,
		locked: o.Locked, emptyNameFirst: o.EmptyNameFirst, joinAudioMuteOverride: clonePtr(o.JoinAudioMuteOverride),
		instances: map[string]*instance{}, participants: map[string]*participant{},
	}
	c.meetings[corr] = m
	c.changeMeeting(m, func() { c.addInstance(m, n) })
	return corr, nil
}

// DistributeMeeting adds an instance of the meeting on another node.
func (c *Cluster) DistributeMeeting(correlator, node string) error {
	return c.withMeeting(correlator, func(m *meeting) error {
		n, err := c.node(node)
		if err != nil {
			return err
		}
		if m.instances[n.name] != nil {
			return fmt.Errorf("%w: %s on %s", ErrAlreadyHosted, correlator, node)
		}
		c.changeMeeting(m, func() { c.addInstance(m, n) })
		return nil
	})
}

// withMeeting runs fn on the meeting under the cluster lock: the prologue
// every scenario step shares.
func (c *Cluster) withMeeting(correlator string, fn func(m *meeting) error) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	m, err := c.meeting(correlator)
	if err != nil {
		return err
	}
	return fn(m)
}

// EndInstance ends the meeting's instance on node: its local participants
// leave (reason callEnded), then the call is removed with reason allLeft.
// The meeting goes on elsewhere if it has other instances.
func (c *Cluster) EndInstance(correlator, node string) error {
	return c.withMeeting(correlator, func(m *meeting) error {
		inst := m.instances[node]
		if inst == nil {
			return fmt.Errorf("%w: %s on %s", ErrNotHosted, correlator, node)
		}
		c.endInstance(inst, "callEnded")
		return nil
	})
}

// endInstance makes inst's local participants leave with reason, then
// drops inst if it still exists. Caller holds c.mu.
func (c *Cluster) endInstance(inst *instance, reason string) {
	m := inst.meeting
	for _, p := range m.localParticipants(inst.node) {
		c.leave(p, reason)
	}
	if m.instances[inst.node.name] == inst {
		c.changeMeeting(m, func() { dropInstance(inst) })
	}
}

// EndMeeting ends every instance of the meeting.
func (c *Cluster) EndMeeting(correlator string) error {
	return c.withMeeting(correlator, func(m *meeting) error {
		for _, inst := range sortedValues(m.instances) {
			c.endInstance(inst, "callEnded")
		}
		return nil
	})
}

// setMeeting applies a call-level change and publishes it.
func (c *Cluster) setMeeting(correlator string, fn func(m *meeting)) error {
	return c.withMeeting(correlator, func(m *meeting) error {
		c.changeMeeting(m, func() { fn(m) })
		return nil
	})
}

// SetRecording starts or stops recording of the meeting.
func (c *Cluster) SetRecording(correlator string, on bool) error {
	return c.setMeeting(correlator, func(m *meeting) { m.recording = on })
}

// SetStreaming starts or stops streaming of the meeting.
func (c *Cluster) SetStreaming(correlator string, on bool) error {
	return c.setMeeting(correlator, func(m *meeting) { m.streaming = on })
}

// SetLocked locks or unlocks the meeting.
func (c *Cluster) SetLocked(correlator string, on bool) error {
	return c.setMeeting(correlator, func(m *meeting) { m.locked = on })
}

// SetName renames the meeting.
func (c *Cluster) SetName(correlator, name string) error {
	return c.setMeeting(correlator, func(m *meeting) { m.name = name })
}

// SetLayout changes the layout of every participant of the meeting, in one
// rosterUpdate carrying several entries, as CMS does.
func (c *Cluster) SetLayout(correlator, layout string) error {
	if layout == "" {
		return fmt.Errorf("%w: empty layout", ErrInvalid)
	}
	return c.withMeeting(correlator, func(m *meeting) error {
		var changes []rosterChange
		for _, p := range sortedValues(m.participants) {
			if p.view.layout != layout {
				old := p.view
				p.view.layout = layout
				changes = append(changes, rosterChange{p: p, updateType: cmsws.UpdateUpdate, old: &old})
			}
		}
		c.publishRoster(m, changes)
		return nil
	})
}

// AddParticipant adds a participant hosted on node. When node does not host
// the meeting yet, an instance is started there first, as a participant
// joining through that Call Bridge would.
func (c *Cluster) AddParticipant(correlator, node string, o ParticipantOptions) (string, error) {
	if o.State == "" {
		o.State = stateConnected
	}
	if o.Direction == "" {
		o.Direction = "incoming"
	}
	if o.Layout == "" {
		o.Layout = "allEqual"
	}
	if !oneOf(o.State, participantStates) || !oneOf(o.Direction, directions) {
		return "", fmt.Errorf("%w: state %q, direction %q", ErrInvalid, o.State, o.Direction)
	}
	var id string
	err := c.withMeeting(correlator, func(m *meeting) error {
		n, err := c.node(node)
		if err != nil {
			return err
		}
		id = c.join(m, n, participantView{
			name: o.Name, uri: o.URI, state: o.State, direction: o.Direction, layout: o.Layout,
			audioMuted: o.AudioMuted, videoMuted: o.VideoMuted, txAudioMuted: o.TxAudioMuted,
			txVideoMuted: o.TxVideoMuted, presenter: o.Presenter, canMove: o.CanMove,
		}).id
		return nil
	})
	return id, err
}

// join adds a participant: roster add everywhere, then the new
// participants count on every instance. Caller holds c.mu.
func (c *Cluster) join(m *meeting, n *node, v participantView) *participant {
	var p *participant
	c.changeMeeting(m, func() {
		if m.instances[n.name] == nil {
			c.addInstance(m, n)
		}
		p = &participant{id: c.newGUID(), seq: c.nextSeq(), meeting: m, node: n, view: v}
		m.participants[p.id] = p
		c.participants[p.id] = p
		n.participantJoined()
		c.publishRoster(m, []rosterChange{{p: p, updateType: cmsws.UpdateAdd}})
	})
	return p
}

// leave removes a participant the way CMS does: back to state initial,
// then remove (reason only where it is hosted), then the new count; the
// last local participant leaving ends that node's instance. Caller holds c.mu.
func (c *Cluster) leave(p *participant, reason string) {
	m := p.meeting
	c.changeMeeting(m, func() {
		if p.view.state != stateInitial {
			old := p.view
			p.view.state = stateInitial
			c.publishRoster(m, []rosterChange{{p: p, updateType: cmsws.UpdateUpdate, old: &old}})
		}
		c.publishRoster(m, []rosterChange{{p: p, updateType: cmsws.UpdateRemove, reason: reason}})
		delete(m.participants, p.id)
		delete(c.participants, p.id)
		p.node.participantLeft()
		if inst := m.instances[p.node.name]; inst != nil && !m.hasLocal(p.node) {
			dropInstance(inst)
		}
	})
}

// UpdateParticipant changes a participant's roster elements.
func (c *Cluster) UpdateParticipant(id string, ch ParticipantChange) error {
	if ch.State != nil && !oneOf(*ch.State, participantStates) {
		return fmt.Errorf("%w: state %q", ErrInvalid, *ch.State)
	}
	return c.withParticipant(id, func(p *participant) error {
		old := p.view
		v := &p.view
		setIf(&v.state, ch.State)
		setIf(&v.audioMuted, ch.AudioMuted)
		setIf(&v.videoMuted, ch.VideoMuted)
		setIf(&v.txAudioMuted, ch.TxAudioMuted)
		setIf(&v.txVideoMuted, ch.TxVideoMuted)
		setIf(&v.presenter, ch.Presenter)
		setIf(&v.activeSpeaker, ch.ActiveSpeaker)
		setIf(&v.endpointRecording, ch.EndpointRecording)
		setIf(&v.layout, ch.Layout)
		setIf(&v.name, ch.Name)
		setIf(&v.uri, ch.URI)
		c.publishRoster(p.meeting, []rosterChange{{p: p, updateType: cmsws.UpdateUpdate, old: &old}})
		return nil
	})
}

// withParticipant runs fn on the participant under the cluster lock.
func (c *Cluster) withParticipant(id string, fn func(p *participant) error) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	p := c.participants[id]
	if p == nil {
		return fmt.Errorf("%w %q", ErrUnknownParticipant, id)
	}
	return fn(p)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// RemoveParticipant makes a participant leave; reason "" sends none.
func (c *Cluster) RemoveParticipant(id, reason string) error {
	return c.withParticipant(id, func(p *participant) error {
		c.leave(p, reason)
		return nil
	})
}

// MoveParticipant moves a participant to another meeting, hosted on toNode,
// the way Cisco Meeting Management does: the new participant is created
// (state initial, movedParticipant = old id, movedParticipantCallBridge =
// the old node's bridge GUID, mutes and layout carried over, presentation
// dropped), the old one is removed without a reason, then the new one
// connects. It returns the new participant id.
func (c *Cluster) MoveParticipant(id, toCorrelator, toNode string) (string, error) {
	var newID string
	err := c.withParticipant(id, func(p *participant) error {
		dst, err := c.meeting(toCorrelator)
		if err != nil {
			return err
		}
		if dst == p.meeting {
			return fmt.Errorf("%w: participant %s is already in %s", ErrInvalid, id, toCorrelator)
		}
		n, err := c.node(toNode)
		if err != nil {
			return err
		}
		v := p.view
		v.state = stateInitial
		v.presenter, v.activeSpeaker = false, false
		v.movedParticipant, v.movedBridge = p.id, p.node.bridgeID
		np := c.join(dst, n, v)
		c.leave(p, "")
		old := np.view
		np.view.state = stateConnected
		c.publishRoster(dst, []rosterChange{{p: np, updateType: cmsws.UpdateUpdate, old: &old}})
		newID = np.id
		return nil
	})
	return newID, err
}
