package cmswstest

import (
	"maps"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// nodeCounters are a node's running totals. Guarded by Cluster.mu.
type nodeCounters struct {
	accepted          int
	refusedConns      int
	subscribeRequests int
	unchangedRequests int
	refusedSubscribes int
	authFailures      int
	tokensIssued      int
	tokensRejected    int
	messagesSent      int
	closes            map[string]int
	violations        map[string]int
}

func newNodeCounters() nodeCounters {
	return nodeCounters{closes: map[string]int{}, violations: map[string]int{}}
}

// Stats is what the fake observed, per node name.
type Stats struct {
	Nodes map[string]NodeStats
}

// NodeStats is one node's view of its clients.
type NodeStats struct {
	// Connections are the open events connections, in accept order.
	Connections []ConnStats
	// Accepted counts upgraded events connections; RefusedConnections those
	// refused with 503 because MaxConnections were open.
	Accepted           int
	RefusedConnections int
	// SubscribeRequests received; RefusedSubscribes answered with a
	// non-success ack (more than MaxSubscriptions entries).
	SubscribeRequests int
	RefusedSubscribes int
	// UnchangedRequests are the SubscribeRequests that repeated the
	// connection's set exactly (a client's probe or sync request): they
	// change nothing and replay nothing.
	UnchangedRequests int
	// AuthFailures: token requests with bad or missing credentials.
	AuthFailures int
	// TokensIssued by POST /api/v1/authTokens; TokensRejected: events
	// connections refused with 401 (unknown or expired token).
	TokensIssued   int
	TokensRejected int
	// MessagesSent: numbered messages written on all connections.
	MessagesSent int
	// Closes counts ended connections by Close* reason.
	Closes map[string]int
	// ProtocolViolations counts client misbehaviour by Violation* reason.
	ProtocolViolations map[string]int

	// RESTRequests counts REST API requests by resource, answered or
	// not; RESTAuthFailures those refused for bad or missing credentials.
	RESTRequests     map[cmsrest.Resource]int
	RESTAuthFailures int
	// RESTMaxConcurrent is the most REST requests the node had in
	// progress at once: a poller that keeps one in flight leaves it at 1.
	RESTMaxConcurrent int
}

// ConnStats describes one open connection.
type ConnStats struct {
	// ID numbers the node's accepted connections from 0, in accept order.
	ID            uint64
	Subscriptions int // subscriptions in the current set
	Active        int // of which active
	Stalled       bool
	Queued        int   // messages waiting for the window
	Sent, Acked   int64 // highest messageId sent and acked
}

// Violations returns the total of ProtocolViolations.
func (s NodeStats) Violations() int {
	n := 0
	for _, v := range s.ProtocolViolations {
		n += v
	}
	return n
}

// Stats returns a snapshot of every node's counters.
func (c *Cluster) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Stats{Nodes: make(map[string]NodeStats, len(c.nodes))}
	for _, n := range c.nodes {
		ns := NodeStats{
			Accepted:           n.stats.accepted,
			RefusedConnections: n.stats.refusedConns,
			SubscribeRequests:  n.stats.subscribeRequests,
			RefusedSubscribes:  n.stats.refusedSubscribes,
			UnchangedRequests:  n.stats.unchangedRequests,
			AuthFailures:       n.stats.authFailures,
			TokensIssued:       n.stats.tokensIssued,
			TokensRejected:     n.stats.tokensRejected,
			MessagesSent:       n.stats.messagesSent,
			Closes:             maps.Clone(n.stats.closes),
			ProtocolViolations: maps.Clone(n.stats.violations),
			RESTRequests:       maps.Clone(n.rest.requests),
			RESTAuthFailures:   n.rest.authFailures,
			RESTMaxConcurrent:  n.rest.maxInFlight,
		}
		for _, cn := range n.conns {
			cs := ConnStats{
				ID:            cn.id,
				Subscriptions: len(cn.subList),
				Stalled:       cn.stalled,
				Queued:        len(cn.out.pending),
				Sent:          cn.out.sent,
				Acked:         cn.out.acked,
			}
			for _, s := range cn.subList {
				if s.active {
					cs.Active++
				}
			}
			ns.Connections = append(ns.Connections, cs)
		}
		out.Nodes[n.name] = ns
	}
	return out
}
