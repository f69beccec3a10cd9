package collector

import (
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// SetRESTEnabled says, per node, whether its REST API is polled: only
// those nodes render cms_rest_* and the REST-derived series. Turning it
// off forgets what the node's poller reported. Unknown names are ignored.
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

// HandleREST applies one REST result of a node's poller. Results of nodes
// not in the model, or whose polling is off, are ignored (a poller may
// report once more while a reload stops it).
func (c *Collector) HandleREST(res cmsrest.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[res.Node]
	if !ok || n.rest == nil {
		level.Debug(c.logger).Log("msg", "REST result for a node not polled ignored", "node", res.Node, "resource", res.Resource)
		return
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
	}
	s.latest[res.Resource] = res
}
