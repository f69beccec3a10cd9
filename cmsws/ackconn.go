package cmsws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ackConn sits between gorilla/websocket and the TLS connection and lets
// the reader send the acks of a burst in one write. Every server message
// is acked with a frame of its own; written one by one, each costs a TLS
// record and a system call, which on a burst (a snapshot, a mass join,
// a server that does not wait for acks) is a large share of the read
// path. When the message just read already has another complete one
// behind it in the read buffer, its ack may be held (holdNextAck): it
// leaves with the next ack that is not held, with any other frame, or,
// at the latest, before the next read from the socket. An ack is
// therefore never held while the client waits for the server, acks stay
// in order, and with a server that waits for each ack (CMS's stop-and-
// wait) nothing is held at all: no second message can be there yet.
//
// To know what the read buffer holds it walks the headers of the frames
// it hands to gorilla (server frames: unmasked, but a mask is skipped if
// present) and counts the data messages whose final frame has fully
// arrived. If the walk were ever wrong, the cost is an ack sent a little
// later or at once, never one lost: holding only ever defers a write to
// the next write or read.
type ackConn struct {
	net.Conn
	writeTimeout time.Duration

	mu      sync.Mutex
	held    []byte // acks held back, in order
	holdErr error  // the write of held acks failed: every later write fails too
	holdOne bool   // the next Write is an ack that may be held

	// Reader side, touched only by the goroutine reading the connection.
	walk     frameWalk
	complete int64 // data messages fully passed to gorilla
	read     int64 // data messages the session has read
}

// errHeldAckWrite wraps the failure to write held acks, which surfaces on
// a read: the session reports it as a write error.
var errHeldAckWrite = errors.New("write of held acks failed")

func newAckConn(c net.Conn, writeTimeout time.Duration) *ackConn {
	return &ackConn{Conn: c, writeTimeout: writeTimeout}
}

// messageRead tells the conn the session has read one more data message.
// It reports whether another complete one is already buffered behind it.
func (c *ackConn) messageRead() (more bool) {
	c.read++
	return c.complete > c.read
}

// holdNextAck lets the next Write, which must be the ack of the message
// just read, be held back.
func (c *ackConn) holdNextAck() {
	c.mu.Lock()
	c.holdOne = true
	c.mu.Unlock()
}

// Write writes p, with any held acks before it, in one write; or holds p
// if it is an ack allowed to wait.
func (c *ackConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holdErr != nil {
		return 0, c.holdErr
	}
	if c.holdOne {
		c.holdOne = false
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if len(c.held) == 0 {
		return c.Conn.Write(p)
	}
	prior := len(c.held)
	c.held = append(c.held, p...)
	n, err := c.flushLocked()
	// What the caller asked for is the tail of what was written.
	return max(0, n-prior), err
}

// flushLocked writes the held bytes. c.mu is held.
func (c *ackConn) flushLocked() (int, error) {
	n, err := c.Conn.Write(c.held)
	c.held = c.held[:0]
	if cap(c.held) > keepFrameBuffer {
		c.held = nil
	}
	if err != nil {
		c.holdErr = fmt.Errorf("%w: %w", errHeldAckWrite, err)
		return n, c.holdErr
	}
	return n, nil
}

// Read sends whatever is held before it may block, then reads and walks
// the frame headers of what it got.
func (c *ackConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.held) > 0 {
		// Held acks leave within the write timeout, as any write.
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			c.mu.Unlock()
			return 0, fmt.Errorf("%w: set write deadline: %w", errHeldAckWrite, err)
		}
		if _, err := c.flushLocked(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.complete += c.walk.advance(p[:n])
	return n, err
}

// frameWalk follows WebSocket frame boundaries through a byte stream fed
// in pieces of any size. The stream starts with the server's HTTP answer
// to the upgrade, which ends at the first empty line (a 101 has no body).
type frameWalk struct {
	framing bool     // past the HTTP answer
	eol     int      // bytes of "\r\n\r\n" matched so far
	hdr     [14]byte // the header being read
	hdrLen  int      // its bytes so far
	payload uint64   // payload bytes still to pass of the current frame
	final   bool     // the current frame ends a data message
}

// advance walks b and returns how many data messages ended in it.
func (w *frameWalk) advance(b []byte) (ended int64) {
	for len(b) > 0 && !w.framing {
		if b[0] == "\r\n\r\n"[w.eol] {
			w.eol++
		} else {
			w.eol = 0
			if b[0] == '\r' {
				w.eol = 1
			}
		}
		b = b[1:]
		w.framing = w.eol == 4
	}
	for len(b) > 0 {
		if w.payload > 0 {
			skip := uint64(len(b))
			if skip > w.payload {
				skip = w.payload
			}
			w.payload -= skip
			b = b[skip:]
			if w.payload == 0 && w.final {
				ended++
			}
			continue
		}
		w.hdr[w.hdrLen] = b[0]
		w.hdrLen++
		b = b[1:]
		need, ok := w.headerLen()
		if !ok || w.hdrLen < need {
			continue
		}
		length := uint64(w.hdr[1] & 0x7f)
		switch length {
		case 126:
			length = uint64(w.hdr[2])<<8 | uint64(w.hdr[3])
		case 127:
			length = 0
			for _, x := range w.hdr[2:10] {
				length = length<<8 | uint64(x)
			}
		}
		// FIN set, and a data or continuation opcode (control frames
		// are answered inside gorilla and never reach the session).
		w.final = w.hdr[0]&0x80 != 0 && w.hdr[0]&0x0f < 8
		w.payload, w.hdrLen = length, 0
		if length == 0 && w.final {
			ended++
		}
	}
	return ended
}

// headerLen is the full length of the header being read, once its first
// two bytes are known.
func (w *frameWalk) headerLen() (int, bool) {
	if w.hdrLen < 2 {
		return 0, false
	}
	n := 2
	switch w.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if w.hdr[1]&0x80 != 0 {
		n += 4 // masked: a server never is, but the key is skipped
	}
	return n, true
}

// dialTLS dials and completes the TLS handshake as gorilla/websocket would
// (server name from the address unless the configuration sets one), and
// returns the connection wrapped in an ackConn.
func dialTLS(d *net.Dialer, conf *tls.Config, writeTimeout time.Duration) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{}
		if conf != nil {
			cfg = conf.Clone()
		}
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		err = tc.HandshakeContext(ctx)
		if err == nil && !cfg.InsecureSkipVerify {
			err = tc.VerifyHostname(cfg.ServerName) // as gorilla does
		}
		if err != nil {
			raw.Close()
			return nil, err
		}
		return newAckConn(tc, writeTimeout), nil
	}
}
