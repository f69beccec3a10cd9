package cmswstest

import (
	"cmp"
	"slices"
)

// meeting is the calls sharing one callCorrelator. Guarded by Cluster.mu.
type meeting struct {
	correlator            string
	seq                   uint64
	name, callType        string
	recording, streaming  bool
	endpointRecording     bool
	locked                bool
	joinAudioMuteOverride *bool
	emptyNameFirst        bool                    // new instances announce name "" first
	instances             map[string]*instance    // by node name
	participants          map[string]*participant // by id
}

// instance is a meeting's call on one node, with that node's call id.
type instance struct {
	id      string
	seq     uint64
	node    *node
	meeting *meeting
}

// participant is one roster entry, hosted on one node of its meeting.
type participant struct {
	id      string
	seq     uint64
	meeting *meeting
	node    *node
	view    participantView
}

// view is what every instance of m reports.
func (m *meeting) view() callView {
	d := len(m.instances) - 1
	if d < 0 {
		d = 0
	}
	return callView{
		name:                  m.name,
		participants:          len(m.participants),
		distributed:           d,
		recording:             m.recording,
		endpointRecording:     m.endpointRecording,
		streaming:             m.streaming,
		locked:                m.locked,
		callType:              m.callType,
		correlator:            m.correlator,
		joinAudioMuteOverride: m.joinAudioMuteOverride,
	}
}

func bySeq[T interface{ getSeq() uint64 }](a, b T) int { return cmp.Compare(a.getSeq(), b.getSeq()) }

func (i *instance) getSeq() uint64    { return i.seq }
func (p *participant) getSeq() uint64 { return p.seq }
func (m *meeting) getSeq() uint64     { return m.seq }

func sortedValues[K comparable, T interface{ getSeq() uint64 }](m map[K]T) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, bySeq[T])
	return out
}

// localParticipants returns m's participants hosted on n, in join order.
func (m *meeting) localParticipants(n *node) []*participant {
	var out []*participant
	for _, p := range sortedValues(m.participants) {
		if p.node == n {
			out = append(out, p)
		}
	}
	return out
}

func (m *meeting) hasLocal(n *node) bool {
	for _, p := range m.participants {
		if p.node == n {
			return true
		}
	}
	return false
}

func (c *Cluster) nextSeq() uint64 {
	c.seq++
	return c.seq
}

// addInstance creates m's call on n. The caller publishes it through
// changeMeeting. Caller holds c.mu.
func (c *Cluster) addInstance(m *meeting, n *node) *instance {
	inst := &instance{id: c.newGUID(), seq: c.nextSeq(), node: n, meeting: m}
	m.instances[n.name] = inst
	n.instances[inst.id] = inst
	return inst
}

// dropInstance removes m's call on n. Caller holds c.mu, inside changeMeeting.
func dropInstance(inst *instance) {
	delete(inst.meeting.instances, inst.node.name)
	delete(inst.node.instances, inst.id)
}
