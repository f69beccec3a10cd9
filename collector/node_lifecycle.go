package collector

import (
	"time"

	"github.com/go-kit/log/level"
)

// AddNode declares a configured node. It shows cms_up 0 until its events
// stream is up and its calls subscription active. Adding a known node is a
// no-op, so a config reload can simply re-add everything it still lists.
func (c *Collector) AddNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.nodes[name]; ok {
		return
	}
	c.nodes[name] = newNode(name)
}

// SetKeepCallsWhenDown sets, per node, how long the calls of a node whose
// events stream is down stay in the metrics: long enough that a blip leaves
// no gap, short enough that dashboards and capacity alerts stop counting
// meetings that may have ended meanwhile. 0 keeps them until the node is
// back. Nodes not in keep keep their setting; unknown names are ignored.
func (c *Collector) SetKeepCallsWhenDown(keep map[string]time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, d := range keep {
		if n, ok := c.nodes[name]; ok {
			n.keepDown = max(d, 0)
		}
	}
}

// SetCapacity sets the participants each node is licensed or sized for, as
// the configuration states them (capacity_participants), so that dashboards
// and alerts can compute utilisation without a hand-kept number in every
// query. It replaces every node's setting: a node not in capacity, or with
// 0, has none stated and shows no cms_node_capacity_participants. Unknown
// names are ignored.
func (c *Collector) SetCapacity(capacity map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, n := range c.nodes {
		n.capacity = max(capacity[name], 0)
	}
}

// RemoveNode forgets a node that a config reload removed: its calls leave
// their meetings silently (the node was not asked whether they ended) and all
// its series, including its self-metrics, disappear. Events that its client
// still delivers afterwards are ignored.
func (c *Collector) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	for _, cl := range n.calls {
		c.dropCall(cl)
	}
	delete(c.nodes, name)
	level.Info(c.logger).Log("msg", "node removed from the model", "node", name)
}

// AllSynced reports whether every added node has synced once. It backs the
// readiness endpoint: before that, /metrics would under-report calls. With
// no nodes it is vacuously true.
func (c *Collector) AllSynced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if !n.syncedOnce {
			return false
		}
	}
	return true
}
