package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// SetRESTEnabled says, per node, whether its REST API is polled: those
// nodes render cms_rest_* (cms_rest_up 0 until a first answer); for the
// others, what their poller reported is forgotten (the reload stopped it).
// Unknown names are ignored.
func (c *Collector) SetRESTEnabled(enabled map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, n := range c.nodes {
		switch {
		case enabled[name] && n.rest == nil:
			n.rest = newRESTState()
		case !enabled[name]:
			n.rest = nil
		}
	}
}

// HandleREST applies one REST result of a node's poller. A result is what
// turns a node's REST series on (a poller may answer before the reload
// that started it calls SetRESTEnabled); results for nodes not in the
// model are ignored.
func (c *Collector) HandleREST(res cmsrest.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[res.Node]
	if !ok {
		level.Debug(c.logger).Log("msg", "REST result for a node not in the model ignored", "node", res.Node, "resource", res.Resource)
		return
	}
	if n.rest == nil {
		n.rest = newRESTState()
	}
	s := n.rest
	s.requests[res.Resource]++
	if res.Err != nil {
		f := s.failures[res.Resource]
		if f == nil {
			f = make(map[string]float64, len(cmsrest.Failures))
			s.failures[res.Resource] = f
		}
		f[knownOrOther(res.Reason, cmsrest.Failures)]++
	} else {
		s.lastSuccess[res.Resource] = res.Time
		if res.Resource == cmsrest.ResourceStatus {
			s.expectedAtStatus, s.comparable = c.expectedLegs()
		}
	}
	s.latest[res.Resource] = res
}

// expectedLegs is the call legs the event model explains: the participants
// of every meeting (once per meeting) plus the distribution links between
// the nodes hosting it (a meeting on k nodes has k(k-1), the sum of its
// instances' distributedInstances). ok says every node's events are synced,
// so the model is complete. Callers hold c.mu. O(meetings + calls).
func (c *Collector) expectedLegs() (legs int, ok bool) {
	for _, m := range c.meetings {
		legs += m.state().participants
	}
	ok = true
	for _, n := range c.nodes {
		ok = ok && n.synced && n.primary().connected
		for _, cl := range n.calls {
			legs += cl.st.distributedInstances
		}
	}
	return legs, ok
}
