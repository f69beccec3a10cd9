package collector

import (
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// applyParticipantFields applies the elements of one roster update to st,
// with the same rules as for calls: Absent leaves an element unchanged,
// Null unsets it (off / unset), Valid sets it, and Invalid — the wrong JSON
// type, or an on/off string outside its two values — leaves it unchanged
// and is counted and logged. Enumerations CMS may extend (state, direction,
// layout) map an unknown value to "other" instead: a newer CMS must not
// make participants invisible. Name, uri, importance and canMove are not
// kept (see participantState).
func (c *Collector) applyParticipantFields(a participantApplier, u *cmsws.RosterUpdate, st *participantState) {
	a.choice("state", u.State, pelState, &st.state, participantStates[:stateOther], stateOther, 0, st)
	a.choice("direction", u.Direction, pelDirection, &st.direction, participantDirections, 0, 0, st)
	a.choice("layout", u.Layout, pelLayout, &st.layout, knownLayouts, 0, 1, st)
	a.flag("audioMuted", u.AudioMuted, flagAudioMuted, pelAudioMuted, st)
	a.flag("videoMuted", u.VideoMuted, flagVideoMuted, pelVideoMuted, st)
	a.flag("txAudioMuted", u.TxAudioMuted, flagTxAudioMuted, pelTxAudioMuted, st)
	a.flag("txVideoMuted", u.TxVideoMuted, flagTxVideoMuted, pelTxVideoMuted, st)
	a.flag("presenter", u.Presenter, flagPresenter, pelPresenter, st)
	a.flag("activeSpeaker", u.ActiveSpeaker, flagActiveSpeaker, pelActiveSpeaker, st)
	a.activeFlag("endpointRecording", u.EndpointRecording, flagEndpointRecording, pelEndpointRecording, st)
	a.moved(u.MovedParticipant, st)
}

// participantApplier carries what an invalid-value log line names.
type participantApplier struct {
	c           *Collector
	n           *node
	conn        *connection
	callID      string
	participant string
}

func (a participantApplier) reportInvalid(element, raw string) {
	a.n.stats.errors[reasonInvalidValue]++
	level.Warn(a.c.logger).Log("msg", "invalid value in rosterUpdate left unchanged",
		"node", a.n.name, "call", cleanLabel(a.callID), "participant", cleanLabel(a.participant),
		"element", element, "value", cleanLabel(raw), "connection", a.conn.number)
}

// flag applies a JSON boolean element.
func (a participantApplier) flag(element string, f cmsws.Field[bool], bit participantFlags, el participantElements, st *participantState) {
	switch f.State {
	case cmsws.Null:
		st.flags &^= bit
		st.set &^= el
	case cmsws.Valid:
		if f.Value {
			st.flags |= bit
		} else {
			st.flags &^= bit
		}
		st.set |= el
	case cmsws.Invalid:
		a.reportInvalid(element, f.Raw)
	}
}

// activeFlag applies an on/off element spelled active/inactive.
func (a participantApplier) activeFlag(element string, f cmsws.Field[string], bit participantFlags, el participantElements, st *participantState) {
	switch f.State {
	case cmsws.Null:
		st.flags &^= bit
		st.set &^= el
	case cmsws.Valid:
		on, ok := activeValues[f.Value]
		if !ok {
			a.reportInvalid(element, strconv.Quote(f.Value))
			return
		}
		if on {
			st.flags |= bit
		} else {
			st.flags &^= bit
		}
		st.set |= el
	case cmsws.Invalid:
		a.reportInvalid(element, f.Raw)
	}
}

// choice applies an enumerated string element as an index: known[i] is
// stored as offset+i, an unknown value and null as other.
func (a participantApplier) choice(element string, f cmsws.Field[string], el participantElements, dst *uint8, known []string, other uint8, offset int, st *participantState) {
	switch f.State {
	case cmsws.Null:
		*dst = other
		st.set &^= el
	case cmsws.Valid:
		if i := slices.Index(known, f.Value); i >= 0 && f.Value != "" {
			*dst = uint8(i + offset)
		} else {
			*dst = other
		}
		st.set |= el
	case cmsws.Invalid:
		a.reportInvalid(element, f.Raw)
	}
}

// moved applies movedParticipant. CMS has been seen sending garbage there
// (GUID-shaped, but not a GUID): that is not an error of ours to count, it
// just does not make the participant "moved".
func (a participantApplier) moved(f cmsws.Field[string], st *participantState) {
	switch f.State {
	case cmsws.Null:
		st.moved, st.movedFrom = false, [16]byte{}
		st.set &^= pelMovedParticipant
	case cmsws.Valid:
		st.movedFrom, st.moved = parseGUID(f.Value)
		st.set |= pelMovedParticipant
		if !st.moved && f.Value != "" {
			level.Debug(a.c.logger).Log("msg", "movedParticipant is not a GUID; participant not counted as moved",
				"node", a.n.name, "call", cleanLabel(a.callID), "participant", cleanLabel(a.participant), "connection", a.conn.number)
		}
	case cmsws.Invalid:
		a.reportInvalid("movedParticipant", f.Raw)
	}
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
