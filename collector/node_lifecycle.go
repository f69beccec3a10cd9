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
	c.nodes[name] = c.newNode(name)
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

// updateUp recomputes cms_up and logs the change, never the steady state.
func (c *Collector) updateUp(n *node) {
	up := n.callsLive()
	if up == n.up {
		return
	}
	n.up = up
	if up {
		n.downSince = time.Time{}
		n.expired = false
	} else {
		n.downSince = c.now()
	}
	session := n.primary().session
	if up {
		level.Info(c.logger).Log("msg", "node events stream up", "node", n.name, "session", session)
	} else {
		level.Info(c.logger).Log("msg", "node events stream down", "node", n.name, "session", session, "calls_kept", len(n.calls))
	}
}

// Why a snapshot phase ended, as logged (snapshot_end).
const (
	snapshotEndSync       = "sync"        // the subscription was listed again after its activation
	snapshotEndLiveUpdate = "live update" // a message with an update or remove
	snapshotEndTimeout    = "timeout"     // nothing marked the end within SnapshotTimeout
)

// startSnapshot opens the replace-on-relist window of a calls subscription
// that became active: until its end, adds are the node's calls as CMS sees
// them now, not starts. reactivated: the subscription came back from
// deactivated (see endSnapshot).
func (c *Collector) startSnapshot(n *node, index int, reactivated bool) {
	now := c.now()
	n.phase = snapshotPhase{active: true, index: index, gen: n.phase.gen + 1, began: now, last: now, reactivated: reactivated}
	n.synced = false
	level.Debug(c.logger).Log("msg", "calls snapshot started", "node", n.name, "session", n.primary().session, "index", index, "reactivated", reactivated)
}

// endSnapshot closes the snapshot phase: every call the snapshot did not
// (re)add is stale (it ended while we were not listening) and leaves
// silently, remembered for forgetFor; the node's calls are now known.
//
// Except when a subscription that came back from deactivated replayed
// nothing: whether CMS replays then is not documented, and an empty replay
// cannot be told from none, so the calls are kept (and the node is not
// called synced): the client subscribes again under a fresh index, whose
// snapshot settles it.
func (c *Collector) endSnapshot(n *node, why string) {
	n.phase.active = false
	now := c.now()
	if n.phase.reactivated && n.phase.messages == 0 {
		level.Info(c.logger).Log("msg", "calls subscription active again without a replay; calls kept until a snapshot confirms them",
			"node", n.name, "session", n.primary().session, "calls", len(n.calls), "snapshot_end", why)
		return
	}
	dropped := 0
	for _, cl := range n.calls {
		if cl.snapGen != n.phase.gen {
			c.forgetCall(cl, now.Add(forgetFor))
			dropped++
		}
	}
	n.forgotten.startClock(now.Add(forgetFor))
	n.synced = true
	n.syncedOnce = true
	n.expired = false
	lvl := level.Info
	if why == snapshotEndTimeout {
		// The sync request's answer never came: the end is a guess.
		lvl = level.Warn
	}
	lvl(c.logger).Log("msg", "node calls synced", "node", n.name, "session", n.primary().session,
		"calls", len(n.calls), "stale_dropped", dropped, "snapshot_end", why, "snapshot_messages", n.phase.messages,
		"took", now.Sub(n.phase.began))
}

// expireCalls drops the calls of a node that stayed down for keepDown:
// they leave every series, not counted as ended (nobody knows whether they
// did), and are remembered until the node's next snapshot, so its adds
// bring back what still runs without counting starts.
func (c *Collector) expireCalls(n *node, now time.Time) {
	dropped := len(n.calls)
	for _, cl := range n.calls {
		c.forgetCall(cl, time.Time{})
	}
	n.expired = true
	level.Info(c.logger).Log("msg", "node events stream down too long: its calls leave the metrics until it is back",
		"node", n.name, "down_for", now.Sub(n.downSince).Round(time.Second), "keep_calls_when_down", n.keepDown, "calls", dropped)
}

// forgetOld drops the remembered ids, ended calls and stashed rosters
// whose time has come. It scans them, so it runs once a minute, not at every tick: a
// minute more or less of memory changes nothing, and after a node expired
// there may be thousands of ids to scan.
func (c *Collector) forgetOld(now time.Time) {
	if now.Before(c.nextForget) {
		return
	}
	c.nextForget = now.Add(forgetCheckInterval)
	for _, n := range c.nodes {
		n.forgotten.expire(now)
		for id, e := range n.ended {
			if !now.Before(e.until) {
				delete(n.ended, id)
			}
		}
		// Say how many warnings were held back, once a minute at most,
		// even when the flood that caused them has stopped.
		n.warnings.Flush()
	}
	for k, st := range c.stashed {
		if !now.Before(st.until) {
			delete(c.stashed, k)
		}
	}
}
