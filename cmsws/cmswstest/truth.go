package cmswstest

// Truth is the cluster state as the fake has told it, or will have told it
// once every queue drains, to its subscribers. It is a deep copy.
type Truth struct {
	// Nodes holds every node, also those without calls.
	Nodes map[string]NodeTruth
	// Meetings by callCorrelator.
	Meetings map[string]MeetingTruth
}

// NodeTruth is what a calls subscription on the node reports.
type NodeTruth struct {
	Calls map[string]CallTruth // by call id
}

// CallTruth is one call instance as its node reports it.
type CallTruth struct {
	ID, Node, Correlator, Name, CallType string
	Participants                         int // cluster-wide roster size
	DistributedInstances                 int // other hosting nodes
	Recording, Streaming                 bool
	EndpointRecording                    bool
	Locked                               bool
	JoinAudioMuteOverride                *bool
}

// MeetingTruth is one meeting across the cluster.
type MeetingTruth struct {
	Correlator, Name, CallType string
	Recording, Streaming       bool
	EndpointRecording, Locked  bool
	// Calls maps hosting node → that node's call id.
	Calls map[string]string
	// Participants by id: what a callRoster subscription on any hosting
	// node lists.
	Participants map[string]ParticipantTruth
}

// ParticipantTruth is one roster entry.
type ParticipantTruth struct {
	ID, Node                    string // Node hosts the participant
	Name, URI, State, Direction string
	Layout                      string
	AudioMuted, VideoMuted      bool
	TxAudioMuted, TxVideoMuted  bool
	Presenter, ActiveSpeaker    bool
	EndpointRecording, CanMove  bool
	MovedParticipant            string
	MovedParticipantCallBridge  string
}

// Truth returns the current ground truth.
func (c *Cluster) Truth() Truth {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := Truth{Nodes: make(map[string]NodeTruth, len(c.nodes)), Meetings: make(map[string]MeetingTruth, len(c.meetings))}
	for _, n := range c.nodes {
		nt := NodeTruth{Calls: make(map[string]CallTruth, len(n.instances))}
		for id, inst := range n.instances {
			v := inst.meeting.view()
			nt.Calls[id] = CallTruth{
				ID: id, Node: n.name, Correlator: v.correlator, Name: v.name, CallType: v.callType,
				Participants: v.participants, DistributedInstances: v.distributed,
				Recording: v.recording, Streaming: v.streaming, EndpointRecording: v.endpointRecording,
				Locked: v.locked, JoinAudioMuteOverride: clonePtr(v.joinAudioMuteOverride),
			}
		}
		t.Nodes[n.name] = nt
	}
	for corr, m := range c.meetings {
		mt := MeetingTruth{
			Correlator: corr, Name: m.name, CallType: m.callType,
			Recording: m.recording, Streaming: m.streaming, EndpointRecording: m.endpointRecording, Locked: m.locked,
			Calls:        make(map[string]string, len(m.instances)),
			Participants: make(map[string]ParticipantTruth, len(m.participants)),
		}
		for nn, inst := range m.instances {
			mt.Calls[nn] = inst.id
		}
		for id, p := range m.participants {
			v := p.view
			mt.Participants[id] = ParticipantTruth{
				ID: id, Node: p.node.name, Name: v.name, URI: v.uri, State: v.state, Direction: v.direction,
				Layout: v.layout, AudioMuted: v.audioMuted, VideoMuted: v.videoMuted,
				TxAudioMuted: v.txAudioMuted, TxVideoMuted: v.txVideoMuted, Presenter: v.presenter,
				ActiveSpeaker: v.activeSpeaker, EndpointRecording: v.endpointRecording, CanMove: v.canMove,
				MovedParticipant: v.movedParticipant, MovedParticipantCallBridge: v.movedBridge,
			}
		}
		t.Meetings[corr] = mt
	}
	return t
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
