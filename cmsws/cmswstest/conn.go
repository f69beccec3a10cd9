package cmswstest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// writeTimeout bounds one socket write, so a client that stops reading
// ends in a write error instead of a goroutine stuck forever.
const writeTimeout = 10 * time.Second

// conn is one events WebSocket. Fields below wmu are guarded by Cluster.mu.
type conn struct {
	// id numbers the node's accepted connections from 0, as the exporter
	// numbers a node's connections (the connection label): with one
	// connection per node that never dropped, they agree in the logs.
	id   uint64
	node *node
	tc   *tls.Conn // nil until the handshake is done
	raw  net.Conn  // the TCP connection under tc; closing it is "at once"
	wmu  sync.Mutex
	wake chan struct{} // capacity 1: something may be sendable
	done chan struct{} // closed when the connection ends

	closed  bool
	stalled bool
	// holdNext, when set, holds the next numbered message enqueued (and
	// thereby everything after it) until that time.
	holdNext time.Time
	// deferred are accepted requests waiting to be processed, in order
	// (see DelayRequests).
	deferred []deferredRequest
	subs     map[int]*sub
	subList  []*sub // subs sorted by index, for deterministic fan-out
	out      outQueue
}

type deferredRequest struct {
	due time.Time
	m   *cmsws.Message
}

// sub is one subscription of a connection.
type sub struct {
	index  int
	typ    cmsws.Resource
	call   string
	el     elements
	active bool // false once deactivated
	// window: activated (its snapshot queued), and neither listed since
	// nor sent a message with an update or a remove; adds sent meanwhile
	// cannot be told from the snapshot.
	window bool
}

// serveEvents implements GET /events/v1?authToken=T: token and connection
// limit are checked before the upgrade, as the real server refuses them with
// an HTTP status, then the connection is hijacked and served by hand.
func (c *Cluster) serveEvents(n *node, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !c.tokenAccepted(n, w, r) {
		return
	}
	key, err := checkUpgrade(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cn := c.admit(n, w, r)
	if cn == nil {
		return
	}
	defer c.wg.Done()
	tc, br, ok := c.upgrade(cn, w, key)
	if !ok {
		return
	}

	c.mu.Lock()
	if cn.closed { // dropped or shut down while upgrading
		c.mu.Unlock()
		_ = tc.NetConn().Close()
		return
	}
	cn.tc, cn.raw = tc, tc.NetConn()
	c.wg.Add(1)
	c.mu.Unlock()
	c.logf("cmswstest: %s: events connection %d open from %s", n.name, cn.id, r.RemoteAddr)

	go c.writeLoop(cn)
	c.readLoop(cn, br)
}

// tokenAccepted checks the authToken of an events request, answering 401
// and counting the rejection when it is unknown or expired.
func (c *Cluster) tokenAccepted(n *node, w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("authToken")
	c.mu.Lock()
	if n.eventsRefused {
		c.mu.Unlock()
		http.Error(w, "events service unavailable", http.StatusServiceUnavailable)
		return false
	}
	if !n.tokenValid(tok, c.opts.Now(), c.opts.TokenTTL) {
		n.stats.tokensRejected++
		c.mu.Unlock()
		c.logf("cmswstest: %s: events connection refused from %s: unknown or expired token", n.name, r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return false
	}
	c.mu.Unlock()
	return true
}

// admit reserves a connection slot on n before the upgrade, so that
// concurrent upgrades cannot exceed the limit, and registers the handler
// goroutine (the caller, which becomes the reader; it calls c.wg.Done).
// At the limit it answers 503 and returns nil.
func (c *Cluster) admit(n *node, w http.ResponseWriter, r *http.Request) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(n.conns) >= c.opts.MaxConnections {
		n.stats.refusedConns++
		c.logf("cmswstest: %s: events connection refused from %s: %d connections open", n.name, r.RemoteAddr, c.opts.MaxConnections)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return nil
	}
	cn := &conn{
		id:   n.connSeq,
		node: n,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		subs: map[int]*sub{},
	}
	n.connSeq++
	n.conns = append(n.conns, cn)
	n.stats.accepted++
	c.wg.Add(1)
	return cn
}

// upgrade hijacks the request's TLS connection and writes the WebSocket
// handshake answer; on failure it closes cn and reports false.
func (c *Cluster) upgrade(cn *conn, w http.ResponseWriter, key string) (*tls.Conn, *bufio.Reader, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		c.closeConn(cn, CloseReadError)
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return nil, nil, false
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		c.closeConn(cn, CloseReadError)
		c.logf("cmswstest: %s: hijack: %v", cn.node.name, err)
		return nil, nil, false
	}
	tc, ok := nc.(*tls.Conn)
	if !ok {
		_ = nc.Close()
		c.closeConn(cn, CloseReadError)
		return nil, nil, false
	}
	_ = nc.SetDeadline(time.Time{})
	_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := nc.Write(handshakeResponse(key)); err != nil {
		_ = tc.NetConn().Close()
		c.closeConn(cn, CloseWriteError)
		return nil, nil, false
	}
	return tc, brw.Reader, true
}

// readLoop reads client frames until the connection ends.
func (c *Cluster) readLoop(cn *conn, br *bufio.Reader) {
	for {
		f, err := readFrame(br)
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				c.logf("cmswstest: %s: connection %d: closing at once: %s frame", cn.node.name, cn.id, fe.reason)
				c.closeConn(cn, fe.reason)
			} else {
				c.closeConn(cn, CloseReadError)
			}
			return
		}
		c.mu.Lock()
		stalled, closed := cn.stalled, cn.closed
		c.mu.Unlock()
		if closed {
			return
		}
		if stalled {
			<-cn.done // stop reading until dropped or shut down
			return
		}
		switch f.opcode {
		case OpClose:
			cn.wmu.Lock()
			_ = cn.tc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = cn.tc.Write(appendFrame(nil, OpClose, true, closePayload(f.payload)))
			cn.wmu.Unlock()
			c.closeConn(cn, CloseClientClose)
			return
		case OpText:
			c.handleText(cn, f.payload)
		}
	}
}

// Protocol violation reasons counted in NodeStats.ProtocolViolations.
const (
	ViolationMalformed       = "malformed"        // a text frame DecodeFrame refused
	ViolationUnknownType     = "unknown_type"     // a client message that is not a subscribeRequest
	ViolationAckOutOfOrder   = "ack_out_of_order" // an ack skipping unacked messages (taken as cumulative)
	ViolationAckUnknown      = "ack_unknown"      // an ack for a message not sent, or already acked
	ViolationAckStatus       = "ack_status"       // an ack with a status other than success
	ViolationSubscribeFailed = "subscribe_failed" // a subscribeRequest answered with failure
)

// handleText processes one client text frame.
func (c *Cluster) handleText(cn *conn, payload []byte) {
	fr, err := cmsws.DecodeFrame(payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.closed {
		return
	}
	st := &cn.node.stats
	if fr == nil || (fr.Ack == nil && fr.Message == nil) {
		st.violations[ViolationMalformed]++
		c.logf("cmswstest: %s: connection %d: undecodable frame: %v", cn.node.name, cn.id, err)
		return
	}
	if fr.Ack != nil {
		c.onAck(cn, fr.Ack)
		return
	}
	m := fr.Message
	if err != nil {
		st.violations[ViolationMalformed]++
		c.logf("cmswstest: %s: connection %d: bad message %d: %v", cn.node.name, cn.id, m.MessageID, err)
		c.enqueueAck(cn, m.MessageID, "failure")
		return
	}
	switch m.Type {
	case cmsws.TypeSubscribeRequest:
		c.subscribe(cn, m)
	default:
		st.violations[ViolationUnknownType]++
		c.logf("cmswstest: %s: connection %d: unexpected message type %q", cn.node.name, cn.id, m.Type)
		c.enqueueAck(cn, m.MessageID, "failure")
	}
}

// closeConn ends a connection once; later calls are no-ops.
func (c *Cluster) closeConn(cn *conn, reason string) {
	c.mu.Lock()
	c.closeConnLocked(cn, reason)
	c.mu.Unlock()
}

// closeConnLocked marks cn closed, frees its slot, counts the reason and
// closes the TCP connection under the TLS layer: no close frame, no
// close_notify, like CMS (and closing a TCP socket never blocks).
// Caller holds c.mu.
func (c *Cluster) closeConnLocked(cn *conn, reason string) {
	if cn.closed {
		return
	}
	cn.closed = true
	n := cn.node
	n.stats.closes[reason]++
	// A new slice, not an in-place delete: fan-out loops may be ranging
	// over n.conns when a queue overflow closes a connection.
	n.conns = slices.DeleteFunc(slices.Clone(n.conns), func(x *conn) bool { return x == cn })
	close(cn.done)
	if reason != CloseShutdown {
		c.logf("cmswstest: %s: events connection %d closed: %s", n.name, cn.id, reason)
	}
	if cn.raw != nil {
		_ = cn.raw.Close()
	}
}
