package cmswstest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
)

// WebSocket opcodes (RFC 6455 §5.2), exported for InjectFrame.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close reasons counted in NodeStats.Closes. The first five are the
// rudeness CMS shows to frames it does not accept.
const (
	CloseFragmented    = "fragmented"     // FIN=0 or a continuation frame
	ClosePing          = "ping"           // a ping control frame
	ClosePong          = "pong"           // a pong control frame
	CloseBinary        = "binary"         // a binary data frame
	CloseUnmasked      = "unmasked"       // a client frame without mask
	CloseReservedBits  = "reserved_bits"  // RSV bits set: no extension was negotiated
	CloseBadOpcode     = "bad_opcode"     // an opcode RFC 6455 does not define
	CloseTooBig        = "too_big"        // a frame larger than maxFramePayload
	CloseClientClose   = "client_close"   // the client sent a close frame; answered and closed
	CloseReadError     = "read_error"     // EOF or a socket error while reading
	CloseWriteError    = "write_error"    // a write failed or timed out
	CloseDropped       = "dropped"        // DropConnections
	CloseRestart       = "restart"        // RestartNode
	CloseQueueOverflow = "queue_overflow" // the client fell too far behind (Options.MaxQueue)
	CloseShutdown      = "shutdown"       // Cluster.Close
)

// maxFramePayload bounds one client frame. A full 100-subscription request
// is about 20 KB; anything far beyond is a broken or hostile client.
const maxFramePayload = 1 << 20

// websocketGUID is the fixed string of RFC 6455 §1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkUpgrade validates the client's opening handshake. It returns the
// Sec-WebSocket-Key, or an error fit for a 400 response.
func checkUpgrade(r *http.Request) (string, error) {
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return "", errors.New("missing Connection: Upgrade")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return "", errors.New("missing Upgrade: websocket")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return "", errors.New("unsupported Sec-WebSocket-Version")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if dec, err := base64.StdEncoding.DecodeString(key); err != nil || len(dec) != 16 {
		return "", errors.New("bad Sec-WebSocket-Key")
	}
	return key, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// handshakeResponse is the 101 answer. No Sec-WebSocket-Extensions: CMS
// negotiates none, so a client offering permessage-deflate must not use it.
func handshakeResponse(key string) []byte {
	return []byte("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n")
}

// frame is one client frame.
type frame struct {
	opcode  byte
	payload []byte
}

// frameError is a frame the server refuses; reason is one of the Close*
// values and ends the connection at once.
type frameError struct{ reason string }

func (e *frameError) Error() string { return "refused frame: " + e.reason }

// readFrame reads one client frame. It refuses, before reading the
// payload, everything CMS refuses, so the caller can drop the connection
// "at once" like the real server does.
func readFrame(br *bufio.Reader) (frame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return frame{}, err
	}
	fin := hdr[0]&0x80 != 0
	rsv := hdr[0] & 0x70
	opcode := hdr[0] & 0x0F
	masked := hdr[1]&0x80 != 0
	switch {
	case rsv != 0:
		return frame{}, &frameError{CloseReservedBits}
	case opcode == OpContinuation || (!fin && opcode != OpClose):
		return frame{}, &frameError{CloseFragmented}
	case opcode == OpPing:
		return frame{}, &frameError{ClosePing}
	case opcode == OpPong:
		return frame{}, &frameError{ClosePong}
	case opcode == OpBinary:
		return frame{}, &frameError{CloseBinary}
	case opcode != OpText && opcode != OpClose:
		return frame{}, &frameError{CloseBadOpcode}
	case !fin:
		return frame{}, &frameError{CloseFragmented}
	case !masked:
		return frame{}, &frameError{CloseUnmasked}
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > maxFramePayload {
		return frame{}, &frameError{CloseTooBig}
	}
	var mask [4]byte
	if _, err := io.ReadFull(br, mask[:]); err != nil {
		return frame{}, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return frame{}, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return frame{opcode: opcode, payload: payload}, nil
}

// appendFrame renders an unmasked server frame. fin=false is only used by
// InjectFrame to test clients against fragmented server messages.
func appendFrame(dst []byte, opcode byte, fin bool, payload []byte) []byte {
	b0 := opcode & 0x0F
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closePayload echoes the status code of a client close frame (RFC 6455
// §5.5.1), or sends 1000 when the client gave none.
func closePayload(client []byte) []byte {
	if len(client) >= 2 {
		return client[:2]
	}
	return []byte{0x03, 0xE8}
}
