package collector

import (
	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Plausibility bounds of the numbers the model reads. A value of the right
// JSON type can still be nonsense (participants: 2147483648000, a garbage
// or wrapped integer); summed into the cluster gauges it would make every
// dashboard and capacity alert lie. A value
// outside its bound is treated like an invalid one: left unchanged, logged,
// counted as invalid_value, and counted by element in
// cms_events_values_rejected_total.
//
// The roster elements the model keeps are all booleans and enumerations
// (importance, the one number, is not kept), so only call elements are
// bounded.
const (
	// maxCallParticipants is far above the largest meeting a CMS cluster
	// can host (a few thousand participants), yet small enough that a sum
	// over thousands of meetings stays an exact float.
	maxCallParticipants = 100_000
	// maxDistributedInstances is far above the Call Bridges of the largest
	// CMS cluster (tens): a meeting cannot be on more other nodes than exist.
	maxDistributedInstances = 1_000
)

// boundedElement is an element with a plausible range: its index in
// boundedElements and in nodeStats.rejected.
type boundedElement int

const (
	boundParticipants boundedElement = iota
	boundDistributedInstances
	numBounded = iota
)

// boundedElements are the ranges, 0 to max, and the labels of their
// rejection counter. Both labels come from this fixed table.
var boundedElements = [numBounded]struct {
	resource cmsws.Resource
	element  string
	max      int
}{
	boundParticipants:         {cmsws.ResourceCalls, "participants", maxCallParticipants},
	boundDistributedInstances: {cmsws.ResourceCalls, "distributedInstances", maxDistributedInstances},
}

// applyCount applies a bounded count of a call update: a valid value
// outside 0..max is rejected (left unchanged, counted and reported); the
// rest follows the Field rules of applyField.
func (a callApplier) applyCount(b boundedElement, f cmsws.Field[int], dst *int, set *callElements, bit callElements) {
	def := &boundedElements[b]
	if f.State == cmsws.Valid && (f.Value < 0 || f.Value > def.max) {
		a.n.stats.rejected[b]++
		a.reportInvalid(def.element, formatValue(f.Value))
		return
	}
	applyField(a, def.element, f, readInt, 0, dst, set, bit)
}

// readInt reads an integer whose range applyCount has checked.
func readInt(v int) (int, bool) { return v, true }

// renderRejected renders a node's rejection counters, every bounded element
// at zero too, so rate() sees the first rejection.
func renderRejected(r *renderer, n *nodeSnap) {
	for b, def := range boundedElements {
		r.counter(mEventsValuesRejected, n.stats.rejected[b], n.name, string(def.resource), def.element)
	}
}
