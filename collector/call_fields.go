package collector

import (
	"slices"
	"strconv"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// applyFields applies the elements of one call update to st, following the
// Field rules: Absent leaves the element unchanged, Null unsets it ("" / 0 /
// off), Valid sets it, and Invalid — the wrong JSON type, or a string
// outside the documented values — leaves it unchanged and is counted and
// logged. It reports whether lockState was updated (to a value or null),
// which is what settles a new call's lock.
func (c *Collector) applyFields(n *node, u *cmsws.CallUpdate, st *callState) (lockTouched bool) {
	a := fieldApplier{c: c, n: n, callID: u.Call, st: st}
	a.str("name", u.Name, elName, &st.name, nil)
	a.str("callCorrelator", u.CallCorrelator, elCallCorrelator, &st.correlator, nil)
	a.str("callType", u.CallType, elCallType, &st.callType, knownCallTypes)
	a.count("participants", u.Participants, elParticipants, &st.participants)
	a.count("distributedInstances", u.DistributedInstances, elDistributedInstances, &st.distributedInstances)
	a.enum("recording", u.Recording, elRecording, &st.recording, activeValues)
	a.enum("streaming", u.Streaming, elStreaming, &st.streaming, activeValues)
	a.enum("endpointRecording", u.EndpointRecording, elEndpointRecording, &st.endpointRecording, activeValues)
	return a.enum("lockState", u.LockState, elLockState, &st.locked, lockValues)
}

// activeValues and lockValues map CMS's enum strings to on/off. The guide
// uses "unlocked" for callInfo and real traffic "notLocked": both are off.
var (
	activeValues = map[string]bool{"active": true, "inactive": false}
	lockValues   = map[string]bool{"locked": true, "notLocked": false, "unlocked": false}
)

type fieldApplier struct {
	c      *Collector
	n      *node
	callID string
	st     *callState
}

// str applies a string element; known, if set, is its closed set of values.
func (a fieldApplier) str(element string, f cmsws.Field[string], bit elementSet, dst *string, known []string) {
	switch f.State {
	case cmsws.Null:
		*dst = ""
		a.st.set &^= bit
	case cmsws.Valid:
		if known != nil && !slices.Contains(known, f.Value) {
			a.c.reportInvalid(a.n, a.callID, element, strconv.Quote(f.Value))
			return
		}
		*dst = cleanLabel(f.Value)
		a.st.set |= bit
	case cmsws.Invalid:
		a.c.reportInvalid(a.n, a.callID, element, f.Raw)
	}
}

// count applies a non-negative integer element.
func (a fieldApplier) count(element string, f cmsws.Field[int], bit elementSet, dst *int) {
	switch f.State {
	case cmsws.Null:
		*dst = 0
		a.st.set &^= bit
	case cmsws.Valid:
		if f.Value < 0 {
			a.c.reportInvalid(a.n, a.callID, element, strconv.Itoa(f.Value))
			return
		}
		*dst = f.Value
		a.st.set |= bit
	case cmsws.Invalid:
		a.c.reportInvalid(a.n, a.callID, element, f.Raw)
	}
}

// enum applies an on/off element spelled as strings; it reports whether the
// element was updated (Null or a known value).
func (a fieldApplier) enum(element string, f cmsws.Field[string], bit elementSet, dst *bool, values map[string]bool) bool {
	switch f.State {
	case cmsws.Null:
		*dst = false
		a.st.set &^= bit
		return true
	case cmsws.Valid:
		on, ok := values[f.Value]
		if !ok {
			a.c.reportInvalid(a.n, a.callID, element, strconv.Quote(f.Value))
			return false
		}
		*dst = on
		a.st.set |= bit
		return true
	case cmsws.Invalid:
		a.c.reportInvalid(a.n, a.callID, element, f.Raw)
	}
	return false
}
