package cmswstest

import (
	"encoding/json"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// This file is the one place that knows how a connection's messages are
// numbered, queued, windowed and acknowledged.

// outQueue is a connection's outbound state. Guarded by Cluster.mu.
type outQueue struct {
	// urgent frames (acks of client messages, injected frames) are not
	// numbered and not windowed: they go out before any queued message.
	urgent []outFrame
	// pending messages are numbered at enqueue time and sent in order while
	// fewer than AckWindow sent messages are unacked. Injected frames (id 0)
	// keep their place in the order but take no window slot.
	pending []outMsg
	lastID  int64 // last messageId assigned (ids start at 1 per connection)
	sent    int64 // highest messageId handed to the writer
	acked   int64 // highest messageId acknowledged
	// injected holds messageIds seen in injected raw frames, so that the
	// client's acks of them are not counted as violations.
	injected map[int64]bool
}

type outFrame struct {
	opcode  byte
	fin     bool
	payload []byte
}

type outMsg struct {
	id int64 // 0: an injected frame, not numbered
	outFrame
	// notBefore holds this message, and so every message after it, until
	// then (a snapshot held back; see DelaySnapshots).
	notBefore time.Time
}

// idle reports whether nothing is queued and everything sent is acked.
func (cn *conn) idle() bool {
	q := &cn.out
	return len(q.urgent) == 0 && len(q.pending) == 0 && q.sent == q.acked
}

// signal wakes the writer without blocking.
func (cn *conn) signal() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// enqueue numbers m, encodes it and queues it. Caller holds c.mu.
func (c *Cluster) enqueue(cn *conn, m *cmsws.Message) {
	if cn.closed {
		return
	}
	q := &cn.out
	q.lastID++
	m.MessageID = q.lastID
	data, err := cmsws.EncodeMessage(m)
	if err != nil { // cannot happen with the types we build; never crash
		c.logf("cmswstest: %s: encode %s: %v", cn.node.name, m.Type, err)
		q.lastID--
		return
	}
	om := outMsg{id: m.MessageID, outFrame: outFrame{opcode: OpText, fin: true, payload: data}}
	if !cn.holdNext.IsZero() {
		om.notBefore, cn.holdNext = cn.holdNext, time.Time{}
	}
	c.enqueueFrame(cn, om)
}

// enqueueFrame appends to the ordered queue. Caller holds c.mu.
func (c *Cluster) enqueueFrame(cn *conn, m outMsg) {
	if cn.closed {
		return
	}
	q := &cn.out
	q.pending = append(q.pending, m)
	if len(q.pending) > c.opts.MaxQueue {
		c.closeConnLocked(cn, CloseQueueOverflow)
		return
	}
	cn.signal()
}

// enqueueAck answers a client message. Caller holds c.mu.
func (c *Cluster) enqueueAck(cn *conn, id int64, status string) {
	c.enqueueUrgent(cn, outFrame{opcode: OpText, fin: true, payload: cmsws.EncodeAck(id, status)})
}

// enqueueUrgent queues an unnumbered frame. Caller holds c.mu.
func (c *Cluster) enqueueUrgent(cn *conn, f outFrame) {
	if cn.closed {
		return
	}
	cn.out.urgent = append(cn.out.urgent, f)
	cn.signal()
}

// noteInjected remembers the messageId of an injected raw text frame, if
// it has one. Caller holds c.mu.
func (cn *conn) noteInjected(payload []byte) {
	var env struct {
		Message struct {
			MessageID *int64 `json:"messageId"`
		} `json:"message"`
	}
	if json.Unmarshal(payload, &env) != nil || env.Message.MessageID == nil {
		return
	}
	if cn.out.injected == nil {
		cn.out.injected = map[int64]bool{}
	}
	cn.out.injected[*env.Message.MessageID] = true
}

// onAck consumes a client ack. Acks must arrive in order; an ack that skips
// ahead is counted and taken as cumulative, so one slip does not wedge the
// connection, while an ack for nothing outstanding is counted and ignored.
// Caller holds c.mu.
func (c *Cluster) onAck(cn *conn, a *cmsws.Ack) {
	q := &cn.out
	st := &cn.node.stats
	if a.Status != cmsws.AckSuccess {
		st.violations[ViolationAckStatus]++
		c.logf("cmswstest: %s: connection %d: ack %d with status %q", cn.node.name, cn.id, a.MessageID, a.Status)
	}
	switch {
	case a.MessageID == q.acked+1 && a.MessageID <= q.sent:
		q.acked = a.MessageID
	case a.MessageID > q.acked+1 && a.MessageID <= q.sent:
		st.violations[ViolationAckOutOfOrder]++
		c.logf("cmswstest: %s: connection %d: ack %d while %d is unacked", cn.node.name, cn.id, a.MessageID, q.acked+1)
		q.acked = a.MessageID
	case q.injected[a.MessageID]:
		delete(q.injected, a.MessageID)
	default:
		st.violations[ViolationAckUnknown]++
		c.logf("cmswstest: %s: connection %d: ack %d for nothing outstanding (acked %d, sent %d)", cn.node.name, cn.id, a.MessageID, q.acked, q.sent)
	}
	cn.signal()
}

// takeSendable removes what may be written now: every urgent frame, then
// queued messages while the ack window has room and none is held back.
// Caller holds c.mu.
func (c *Cluster) takeSendable(cn *conn, buf []byte) []byte {
	if cn.stalled {
		return buf
	}
	now := time.Now()
	q := &cn.out
	for _, f := range q.urgent {
		buf = appendFrame(buf, f.opcode, f.fin, f.payload)
	}
	clear(q.urgent)
	q.urgent = q.urgent[:0]
	n := 0
	for ; n < len(q.pending); n++ {
		m := q.pending[n]
		if now.Before(m.notBefore) {
			break
		}
		if m.id != 0 {
			if q.sent-q.acked >= int64(c.opts.AckWindow) {
				break
			}
			q.sent = m.id
			cn.node.stats.messagesSent++
		}
		buf = appendFrame(buf, m.opcode, m.fin, m.payload)
	}
	if n > 0 {
		// Reslice rather than copy: with a window of 1 and a long queue,
		// copying the tail on every send would be quadratic.
		clear(q.pending[:n])
		q.pending = q.pending[n:]
	}
	return buf
}

// heldUntil is when the head of the queue may go, if it is held back;
// zero otherwise. Caller holds c.mu.
func (cn *conn) heldUntil() time.Time {
	if q := &cn.out; len(q.pending) > 0 && time.Now().Before(q.pending[0].notBefore) {
		return q.pending[0].notBefore
	}
	return time.Time{}
}

// writeLoop is the only writer of queued frames.
func (c *Cluster) writeLoop(cn *conn) {
	defer c.wg.Done()
	var buf []byte
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	defer hold.Stop()
	for {
		c.mu.Lock()
		if cn.closed {
			c.mu.Unlock()
			return
		}
		buf = c.takeSendable(cn, buf[:0])
		until := cn.heldUntil()
		c.mu.Unlock()
		if len(buf) == 0 {
			if !until.IsZero() {
				hold.Reset(time.Until(until))
			}
			select {
			case <-cn.wake:
			case <-hold.C:
			case <-cn.done:
				return
			}
			hold.Stop()
			continue
		}
		cn.wmu.Lock()
		_ = cn.tc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := cn.tc.Write(buf)
		cn.wmu.Unlock()
		if err != nil {
			c.closeConn(cn, CloseWriteError)
			return
		}
	}
}
