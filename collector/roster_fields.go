package collector

import (
	"encoding/hex"
	"slices"

	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// applyParticipantFields applies the elements of one roster update to
// st under the Field rules (see applyField): Null unsets an element (off
// / unset), and an on/off string outside its two values is invalid.
// Enumerations CMS may extend (state, direction, layout) map an unknown
// value to "other" instead: a newer CMS must not make participants
// invisible. Name, uri, importance and canMove are not kept (see
// participantState).
func (c *Collector) applyParticipantFields(a participantApplier, u *cmsws.RosterUpdate, st *participantState) {
	applyField(a, "state", u.State, readState, stateOther, &st.state, &st.set, pelState)
	applyField(a, "direction", u.Direction, readDirection, 0, &st.direction, &st.set, pelDirection)
	applyField(a, "layout", u.Layout, readLayout, 0, &st.layout, &st.set, pelLayout)
	applyFlag(a, st, "audioMuted", u.AudioMuted, readBool, flagAudioMuted, pelAudioMuted)
	applyFlag(a, st, "videoMuted", u.VideoMuted, readBool, flagVideoMuted, pelVideoMuted)
	applyFlag(a, st, "txAudioMuted", u.TxAudioMuted, readBool, flagTxAudioMuted, pelTxAudioMuted)
	applyFlag(a, st, "txVideoMuted", u.TxVideoMuted, readBool, flagTxVideoMuted, pelTxVideoMuted)
	applyFlag(a, st, "presenter", u.Presenter, readBool, flagPresenter, pelPresenter)
	applyFlag(a, st, "activeSpeaker", u.ActiveSpeaker, readBool, flagActiveSpeaker, pelActiveSpeaker)
	applyFlag(a, st, "endpointRecording", u.EndpointRecording, readActive, flagEndpointRecording, pelEndpointRecording)
	// CMS has been seen sending garbage in movedParticipant (GUID-shaped,
	// but not a GUID): that is not an error of ours to count, it just does
	// not make the participant "moved".
	f := u.MovedParticipant
	if applyField(a, "movedParticipant", f, readMoved, participantGUID{}, &st.movedFrom, &st.set, pelMovedParticipant) &&
		f.State == cmsws.Valid && !st.movedFrom.ok && f.Value != "" {
		level.Debug(a.c.logger).Log("msg", "movedParticipant is not a GUID; participant not counted as moved",
			"node", a.n.name, "call", labelValue(a.callID), "participant", cleanLabel(a.participant), "connection", a.conn.number)
	}
}

// participantApplier carries what an invalid-value log line of a roster
// update names.
type participantApplier struct {
	c           *Collector
	n           *node
	conn        *connection
	callID      string
	participant string
}

func (a participantApplier) reportInvalid(element, raw string) {
	a.n.stats.errors[reasonInvalidValue]++
	a.c.warn(a.n, reasonInvalidValue, "msg", "invalid value in rosterUpdate left unchanged",
		"call", labelValue(a.callID), "participant", cleanLabel(a.participant),
		"element", element, "value", logValue(raw), "connection", a.conn.number)
}

// applyFlag applies an on/off element, which is flag of st.flags.
func applyFlag[T any](a participantApplier, st *participantState, element string, f cmsws.Field[T], read func(T) (bool, bool), flag participantFlag, el participantElements) {
	on := st.flags.has(flag)
	if applyField(a, element, f, read, false, &on, &st.set, el) {
		st.flags.set(flag, on)
	}
}

// readChoice reads an enumerated element CMS may extend: known[i] is
// offset+i, anything else (never invalid) is other.
func readChoice(v string, known []string, other uint8, offset int) (uint8, bool) {
	if i := slices.Index(known, v); i >= 0 && v != "" {
		return uint8(i + offset), true
	}
	return other, true
}

func readState(v string) (uint8, bool) {
	return readChoice(v, participantStates[:stateOther], stateOther, 0)
}

func readDirection(v string) (uint8, bool) { return readChoice(v, participantDirections, 0, 0) }

func readLayout(v string) (uint8, bool) { return readChoice(v, knownLayouts, 0, 1) }

// readMoved reads movedParticipant: a well-formed GUID, or not moved.
func readMoved(v string) (participantGUID, bool) {
	guid, ok := parseGUID(v)
	return participantGUID{guid: guid, ok: ok}, true
}

// parseGUID parses the 8-4-4-4-12 hex form, and nothing else.
func parseGUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	var digits [32]byte
	j := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		digits[j] = s[i]
		j++
	}
	if _, err := hex.Decode(out[:], digits[:]); err != nil {
		return [16]byte{}, false
	}
	return out, true
}
