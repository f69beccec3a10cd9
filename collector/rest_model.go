package collector

import (
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// restState is what a node's REST poller last reported: per resource, the
// outcome of its latest request, and the poller's own counters. A resource
// whose latest request failed renders nothing: a number the node no longer
// confirms must not look current.
type restState struct {
	// latest is the last result per resource (failed or not).
	latest map[cmsrest.Resource]cmsrest.Result
	// requests and failures count by resource (failures also by reason);
	// lastSuccess is when each resource last answered.
	requests    map[cmsrest.Resource]float64
	failures    map[cmsrest.Resource]map[string]float64
	lastSuccess map[cmsrest.Resource]time.Time
	// expectedAtStatus is the call legs the event model explained when the
	// latest status answer came, and comparable whether every node's
	// events were synced then (see renderDrift).
	expectedAtStatus int
	comparable       bool
}

func newRESTState() *restState {
	return &restState{
		latest:      make(map[cmsrest.Resource]cmsrest.Result),
		requests:    make(map[cmsrest.Resource]float64),
		failures:    make(map[cmsrest.Resource]map[string]float64),
		lastSuccess: make(map[cmsrest.Resource]time.Time),
	}
}

// answered returns the latest result of resource when it succeeded.
func (s *restState) answered(resource cmsrest.Resource) (cmsrest.Result, bool) {
	r, ok := s.latest[resource]
	if !ok || r.Err != nil {
		return cmsrest.Result{}, false
	}
	return r, true
}

// up: at least one resource answered and none's latest request failed.
func (s *restState) up() bool {
	if len(s.latest) == 0 {
		return false
	}
	for _, r := range s.latest {
		if r.Err != nil {
			return false
		}
	}
	return true
}

// callLegs is the node's callLegsActive from a current status answer.
func (s *restState) callLegs() (int64, bool) {
	r, ok := s.answered(cmsrest.ResourceStatus)
	if !ok || r.Status == nil || r.Status.CallLegsActive == nil {
		return 0, false
	}
	return *r.Status.CallLegsActive, true
}
