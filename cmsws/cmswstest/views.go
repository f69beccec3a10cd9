package cmswstest

import "github.com/cms-exporter/cms_exporter/cmsws"

// elements is the set of element names a subscription asked for. Only
// these are sent, and only changes of these trigger an update.
type elements map[string]bool

func newElements(list []string) elements {
	el := make(elements, len(list))
	for _, e := range list {
		el[e] = true
	}
	return el
}

// callView is everything CMS reports about a call instance. All instances
// of a meeting share one view: participants is the cluster-wide roster
// size and distributed the number of other hosting nodes.
type callView struct {
	name                  string
	participants          int
	distributed           int
	recording             bool
	endpointRecording     bool
	streaming             bool
	locked                bool
	callType              string
	correlator            string
	joinAudioMuteOverride *bool
}

// participantView is everything CMS reports about a roster entry.
type participantView struct {
	name, uri, state, direction, layout string
	audioMuted, videoMuted              bool
	txAudioMuted, txVideoMuted          bool
	activeSpeaker, presenter            bool
	endpointRecording, canMove          bool
	importance                          *float64
	movedParticipant, movedBridge       string // "" = unset (null)
}

func activeInactive(on bool) string {
	if on {
		return "active"
	}
	return "inactive"
}

// put sets dst to cur when the element is wanted and, for an update, changed.
func put[T comparable](el elements, name string, full bool, old, cur T, dst *cmsws.Field[T]) bool {
	if !el[name] || (!full && old == cur) {
		return false
	}
	*dst = cmsws.Set(cur)
	return true
}

// putNullable is put for values whose unset state is JSON null.
func putNullable[T comparable](el elements, name string, full bool, old, cur *T, dst *cmsws.Field[T]) bool {
	same := (old == nil && cur == nil) || (old != nil && cur != nil && *old == *cur)
	if !el[name] || (!full && same) {
		return false
	}
	if cur == nil {
		*dst = cmsws.NullField[T]()
	} else {
		*dst = cmsws.Set(*cur)
	}
	return true
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// callUpdate builds a callListUpdate entry. With old == nil it is an add
// carrying every wanted element; otherwise an update carrying the wanted
// elements that changed, and ok is false when there are none.
func callUpdate(el elements, id string, old *callView, cur callView) (u cmsws.CallUpdate, ok bool) {
	full := old == nil
	var o callView
	if !full {
		o = *old
	}
	u = cmsws.CallUpdate{Call: id, UpdateType: cmsws.UpdateUpdate}
	if full {
		u.UpdateType = cmsws.UpdateAdd
	}
	ok = callElements(el, full, o, cur, callsLock, &u.CallElements)
	return u, ok || full
}

// callElements fills the elements calls and callInfo share, wanted and
// changed (or all wanted, when full); lock spells lockState the way the
// resource does. It reports whether it set any.
func callElements(el elements, full bool, o, cur callView, lock func(bool) string, e *cmsws.CallElements) bool {
	ok := put(el, "name", full, o.name, cur.name, &e.Name)
	ok = put(el, "participants", full, o.participants, cur.participants, &e.Participants) || ok
	ok = put(el, "distributedInstances", full, o.distributed, cur.distributed, &e.DistributedInstances) || ok
	ok = put(el, "recording", full, activeInactive(o.recording), activeInactive(cur.recording), &e.Recording) || ok
	ok = put(el, "endpointRecording", full, activeInactive(o.endpointRecording), activeInactive(cur.endpointRecording), &e.EndpointRecording) || ok
	ok = put(el, "streaming", full, activeInactive(o.streaming), activeInactive(cur.streaming), &e.Streaming) || ok
	ok = put(el, "lockState", full, lock(o.locked), lock(cur.locked), &e.LockState) || ok
	ok = put(el, "callType", full, o.callType, cur.callType, &e.CallType) || ok
	ok = put(el, "callCorrelator", full, o.correlator, cur.correlator, &e.CallCorrelator) || ok
	return ok
}

// callsLock is lockState as the calls resource spells it.
func callsLock(locked bool) string {
	if locked {
		return "locked"
	}
	return "notLocked"
}

// infoLock is lockState as the callInfo resource spells it (Events Guide).
func infoLock(locked bool) string {
	if locked {
		return "locked"
	}
	return "unlocked"
}

// callInfo builds a callInfoUpdate body: with old == nil the full snapshot,
// nulls included; otherwise the wanted elements that changed.
func callInfo(el elements, old *callView, cur callView) (ci cmsws.CallInfo, ok bool) {
	full := old == nil
	var o callView
	if !full {
		o = *old
	}
	ok = callElements(el, full, o, cur, infoLock, &ci.CallElements)
	ok = putNullable(el, "joinAudioMuteOverride", full, o.joinAudioMuteOverride, cur.joinAudioMuteOverride, &ci.JoinAudioMuteOverride) || ok
	return ci, ok || full
}

// rosterUpdate builds a rosterUpdate entry (add or update) like callUpdate.
func rosterUpdate(el elements, id string, old *participantView, cur participantView) (u cmsws.RosterUpdate, ok bool) {
	full := old == nil
	var o participantView
	if !full {
		o = *old
	}
	u = cmsws.RosterUpdate{Participant: id, UpdateType: cmsws.UpdateUpdate}
	if full {
		u.UpdateType = cmsws.UpdateAdd
	}
	ok = put(el, "name", full, o.name, cur.name, &u.Name)
	ok = put(el, "uri", full, o.uri, cur.uri, &u.URI) || ok
	ok = put(el, "state", full, o.state, cur.state, &u.State) || ok
	ok = put(el, "direction", full, o.direction, cur.direction, &u.Direction) || ok
	ok = put(el, "audioMuted", full, o.audioMuted, cur.audioMuted, &u.AudioMuted) || ok
	ok = put(el, "videoMuted", full, o.videoMuted, cur.videoMuted, &u.VideoMuted) || ok
	ok = put(el, "txAudioMuted", full, o.txAudioMuted, cur.txAudioMuted, &u.TxAudioMuted) || ok
	ok = put(el, "txVideoMuted", full, o.txVideoMuted, cur.txVideoMuted, &u.TxVideoMuted) || ok
	ok = putNullable(el, "importance", full, o.importance, cur.importance, &u.Importance) || ok
	ok = put(el, "layout", full, o.layout, cur.layout, &u.Layout) || ok
	ok = put(el, "activeSpeaker", full, o.activeSpeaker, cur.activeSpeaker, &u.ActiveSpeaker) || ok
	ok = put(el, "presenter", full, o.presenter, cur.presenter, &u.Presenter) || ok
	ok = put(el, "endpointRecording", full, activeInactive(o.endpointRecording), activeInactive(cur.endpointRecording), &u.EndpointRecording) || ok
	ok = put(el, "canMove", full, o.canMove, cur.canMove, &u.CanMove) || ok
	ok = putNullable(el, "movedParticipant", full, strPtr(o.movedParticipant), strPtr(cur.movedParticipant), &u.MovedParticipant) || ok
	ok = putNullable(el, "movedParticipantCallBridge", full, strPtr(o.movedBridge), strPtr(cur.movedBridge), &u.MovedParticipantCallBridge) || ok
	return u, ok || full
}
