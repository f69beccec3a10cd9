package cmsws

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// serverFrame builds a WebSocket frame as a server sends it (unmasked
// unless mask is set).
func serverFrame(fin bool, opcode byte, payload []byte, mask bool) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var f []byte
	n := len(payload)
	var mbit byte
	if mask {
		mbit = 0x80
	}
	switch {
	case n < 126:
		f = []byte{b0, mbit | byte(n)}
	case n < 1<<16:
		f = []byte{b0, mbit | 126, byte(n >> 8), byte(n)}
	default:
		f = []byte{b0, mbit | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	if mask {
		f = append(f, 1, 2, 3, 4)
	}
	return append(f, payload...)
}

// TestFrameWalkCountsEndedMessages: however the stream is cut into reads,
// the walk counts exactly the data messages whose final frame has fully
// passed, at the read where it ends: not control frames, not the first
// fragments of a message.
func TestFrameWalkCountsEndedMessages(t *testing.T) {
	type part struct {
		frame []byte
		ends  bool // a data message ends with this frame
	}
	parts := []part{
		{serverFrame(true, 1, []byte(`{"type":"message"}`), false), true},
		{serverFrame(true, 1, nil, false), true},                            // empty text message
		{serverFrame(true, 9, []byte("ping"), false), false},                // control frame
		{serverFrame(true, 1, bytes.Repeat([]byte("x"), 125), false), true}, // longest 7-bit length
		{serverFrame(true, 1, bytes.Repeat([]byte("x"), 126), false), true}, // 16-bit length
		{serverFrame(false, 1, bytes.Repeat([]byte("a"), 300), false), false},
		{serverFrame(false, 0, bytes.Repeat([]byte("b"), 10), false), false},
		{serverFrame(true, 0, bytes.Repeat([]byte("c"), 70000), false), true}, // 64-bit length ends a fragmented message
		{serverFrame(true, 8, []byte{3, 232}, false), false},                  // close
		{serverFrame(true, 2, []byte{1, 2, 3}, true), true},                   // masked binary
	}
	stream := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	var endAt []int // stream offsets at which a message has ended
	for _, p := range parts {
		stream = append(stream, p.frame...)
		if p.ends {
			endAt = append(endAt, len(stream))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var w frameWalk
		var got int64
		for pos := 0; pos < len(stream); {
			n := 1
			if trial > 0 {
				n = 1 + rng.IntN(200)
				if trial%3 == 0 {
					n = 1 + rng.IntN(len(stream))
				}
			}
			end := min(len(stream), pos+n)
			got += w.advance(stream[pos:end])
			want := int64(0)
			for _, e := range endAt {
				if e <= end {
					want++
				}
			}
			if got != want {
				t.Fatalf("trial %d: after %d bytes the walk counts %d ended messages, want %d", trial, end, got, want)
			}
			pos = end
		}
	}
}

// scriptedConn is an in-memory net.Conn: reads come from a script, writes
// are recorded one by one.
type scriptedConn struct {
	net.Conn
	reads    [][]byte
	writes   [][]byte
	writeErr error
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if len(c.reads) == 0 {
		return 0, errors.New("script ended")
	}
	n := copy(p, c.reads[0])
	c.reads[0] = c.reads[0][n:]
	if len(c.reads[0]) == 0 {
		c.reads = c.reads[1:]
	}
	return n, nil
}

func (c *scriptedConn) Write(p []byte) (int, error) {
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// TestAckConnHoldsAcksOfABurst plays the session's part: three messages
// arrive in one read, and their acks leave in one write, in order; a
// message with nothing behind it is acked at once; held acks leave before
// any other frame and before the next read.
func TestAckConnHoldsAcksOfABurst(t *testing.T) {
	m := func(i int) []byte { return serverFrame(true, 1, []byte{byte('0' + i)}, false) }
	burst := append(append(m(1), m(2)...), m(3)...)
	under := &scriptedConn{reads: [][]byte{append([]byte("HTTP/1.1 101 \r\n\r\n"), burst...), m(4), m(5)}}
	c := newAckConn(under, time.Second)
	buf := make([]byte, 4096)

	ack := func(id string, more bool) {
		t.Helper()
		if more {
			c.holdNextAck()
		}
		if _, err := c.Write([]byte("ack" + id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Read(buf); err != nil { // gorilla fills its buffer: three messages
		t.Fatal(err)
	}
	for i, wantMore := range []bool{true, true, false} {
		more := c.messageRead()
		if more != wantMore {
			t.Fatalf("message %d: more = %v, want %v", i+1, more, wantMore)
		}
		ack(string(rune('1'+i)), more)
	}
	if len(under.writes) != 1 || string(under.writes[0]) != "ack1ack2ack3" {
		t.Fatalf("writes %q, want the three acks in one write", under.writes)
	}

	// Message 4 arrives alone: its ack goes at once.
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	ack("4", c.messageRead())
	if len(under.writes) != 2 || string(under.writes[1]) != "ack4" {
		t.Fatalf("writes %q, want ack4 written alone", under.writes)
	}

	// A held ack leaves before a request written meanwhile ...
	c.holdNextAck()
	if _, err := c.Write([]byte("ackX")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Write([]byte("request")); err != nil || n != len("request") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := string(under.writes[2]); got != "ackXrequest" {
		t.Fatalf("write %q, want the held ack before the request", got)
	}
	// ... and before the next read.
	c.holdNextAck()
	if _, err := c.Write([]byte("ackY")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 4 || string(under.writes[3]) != "ackY" {
		t.Fatalf("writes %q, want ackY flushed by the read", under.writes)
	}
}

// A held ack that cannot be written fails the next read as a write error,
// and every write after it.
func TestAckConnHeldWriteFailure(t *testing.T) {
	under := &scriptedConn{reads: [][]byte{[]byte("HTTP/1.1 101 \r\n\r\n")}}
	c := newAckConn(under, time.Second)
	c.holdNextAck()
	if _, err := c.Write([]byte("ack")); err != nil {
		t.Fatal(err)
	}
	under.writeErr = errors.New("broken pipe")
	if _, err := c.Read(make([]byte, 64)); !errors.Is(err, errHeldAckWrite) {
		t.Fatalf("read error %v, want errHeldAckWrite", err)
	}
	if _, err := c.Write([]byte("request")); !errors.Is(err, errHeldAckWrite) {
		t.Fatalf("write error %v, want errHeldAckWrite", err)
	}
}
