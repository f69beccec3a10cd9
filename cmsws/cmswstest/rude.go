package cmswstest

import (
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// NoSubscription is the index InjectInSequence passes to its frame builder for
// a connection it was asked to reach whatever it holds (resource "").
const NoSubscription = -1

// InjectInSequence sends a rude but well-numbered message: on every open
// events connection of node that holds an active subscription to resource
// (every open connection for resource ""), one text frame built by frame
// from the connection's next messageId and that subscription's index
// (NoSubscription for resource ""). The frame is queued, numbered and
// windowed like any message of the fake, so a client's sequence check stays
// quiet and its ack is the expected one; what the frame says (an unknown
// type, an update for a call nobody has, a value of the wrong type, nulls)
// is up to the test. It must carry the messageId it is given, or the
// connection waits for an ack that never comes.
//
// An injected message on a subscription counts as a message that is not
// all adds: it ends the subscription's snapshot window, as it does for a
// client (see Transitions). InjectRaw is the tool for frames that are not
// messages at all. It returns how many connections got one.
func (c *Cluster) InjectInSequence(node string, resource cmsws.Resource, frame func(id int64, index int) []byte) int {
	count := 0
	c.eachConn(node, func(cn *conn) {
		if cn.closed {
			return
		}
		index := NoSubscription
		if resource != "" {
			s := firstActive(cn, resource)
			if s == nil {
				return
			}
			index = s.index
			s.window = false
		}
		q := &cn.out
		q.lastID++
		om := outMsg{id: q.lastID, outFrame: outFrame{opcode: OpText, fin: true, payload: frame(q.lastID, index)}}
		if !cn.holdNext.IsZero() {
			om.notBefore, cn.holdNext = cn.holdNext, time.Time{}
		}
		c.enqueueFrame(cn, om)
		count++
	})
	return count
}

// firstActive is cn's active subscription to resource with the lowest
// index, nil when it holds none. Caller holds c.mu.
func firstActive(cn *conn, resource cmsws.Resource) *sub {
	for _, s := range cn.subList {
		if s.active && s.typ == resource {
			return s
		}
	}
	return nil
}
