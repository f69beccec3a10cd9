package collector

import (
	"slices"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// applyCallFields applies the elements of one call update to st under the
// Field rules (see applyField): Null unsets an element ("" / 0 / off), and
// a string outside an element's documented values or a count outside its
// plausible range (see bounds.go) is invalid. It reports whether lockState was updated (to a value or null),
// which is what settles a new call's lock.
func (c *Collector) applyCallFields(n *node, u *cmsws.CallUpdate, st *callState) (lockTouched bool) {
	a := callApplier{c: c, n: n, callID: u.Call}
	applyField(a, "name", u.Name, readText, "", &st.name, &st.set, elName)
	applyField(a, "callCorrelator", u.CallCorrelator, readText, "", &st.correlator, &st.set, elCallCorrelator)
	applyField(a, "callType", u.CallType, readCallType, "", &st.callType, &st.set, elCallType)
	a.applyCount(boundParticipants, u.Participants, &st.participants, &st.set, elParticipants)
	a.applyCount(boundDistributedInstances, u.DistributedInstances, &st.distributedInstances, &st.set, elDistributedInstances)
	applyField(a, "recording", u.Recording, readActive, false, &st.recording, &st.set, elRecording)
	applyField(a, "streaming", u.Streaming, readActive, false, &st.streaming, &st.set, elStreaming)
	applyField(a, "endpointRecording", u.EndpointRecording, readActive, false, &st.endpointRecording, &st.set, elEndpointRecording)
	return applyField(a, "lockState", u.LockState, readLock, false, &st.locked, &st.set, elLockState)
}

// callApplier reports an invalid value of a call update with the node and
// call it came for.
type callApplier struct {
	c      *Collector
	n      *node
	callID string
}

func (a callApplier) reportInvalid(element, raw string) {
	a.c.reportInvalidCallValue(a.n, a.callID, element, raw)
}

// readText reads a free-text element. It is kept raw: the correlator is a
// key (two correlators that clean alike are two meetings) and the name is
// what the roster include/exclude patterns match; both are cleaned only
// where they become label values.
func readText(v string) (string, bool) { return v, true }

// readCallType reads callType: one of knownCallTypes, else invalid.
func readCallType(v string) (string, bool) { return v, slices.Contains(knownCallTypes[:], v) }

// readLock reads lockState.
func readLock(v string) (bool, bool) {
	on, ok := lockValues[v]
	return on, ok
}
