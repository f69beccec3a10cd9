package cmsws

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// scanMessageID finds the messageId of the envelope's "message" object in a
// frame that may be broken JSON: truncated, with a stray byte, with a type
// the decoder refused. CMS waits for the ack of every message before it sends
// the next one, so a message that cannot be decoded must still be acked when
// its id can be read, or the node's stream stalls for good while probes keep
// it looking up.
//
// It reads the frame as a stream of JSON tokens, never allocating on the
// common path and never panicking, and answers only for a "messageId" key
// directly inside an object that is the value of a "message" key directly
// inside the top-level object: never the messageId of a messageAck (an ack of
// our own request must not be answered), never one nested deeper, never one
// inside a string value. It refuses a frame whose envelope "type" is a string
// other than "message" (an ack, or an envelope kind it cannot know).
//
// Where encoding/json would decode the frame, the answer is the one it gives:
// keys match case-insensitively and after unescaping, the last occurrence of
// a key wins, and the id is an integer literal that fits an int64 (the fuzz
// target checks this agreement). On broken input the last id read before the
// damage is kept, unless the input ends right after its digits (it may have
// been cut short).
func scanMessageID(data []byte) (int64, bool) {
	var (
		sc     = jsonScanner{data: data}
		inMsg  bool // the container open at depth 2 is the envelope's message object
		expect = expectValue
		key    keyKind // the key whose value comes next, at depth 1 or 2
		id     int64
		found  bool
		other  bool // the envelope's "type" is a string other than "message"
	)
	for {
		tok, start, end := sc.next()
		depth := sc.depth // after the token: an opener counts, a closer does not
		switch tok {
		case tokEOF, tokError:
			return id, found && !other
		case tokOpenObject, tokOpenArray:
			if depth == 2 {
				// A new message value replaces the last one, as in encoding/json.
				inMsg = key == keyMessage && tok == tokOpenObject
				if key == keyMessage {
					found = false
				}
			}
			expect = expectValue
			if tok == tokOpenObject {
				expect = expectKey
			}
			key = keyOther
		case tokClose:
			if depth <= 0 {
				// The top-level value is complete: what may follow is
				// garbage encoding/json refuses, but the id read stands.
				return id, found && !other
			}
			expect, key = expectComma, keyOther
		case tokColon:
			expect = expectValue
		case tokComma:
			expect = expectKey
			if sc.inArray() {
				expect = expectValue
			}
			key = keyOther
		case tokString:
			if expect == expectKey {
				key = keyOther
				lit := data[start:end]
				switch {
				case depth == 1 && keyIs(lit, "message"):
					key = keyMessage
				case depth == 1 && keyIs(lit, "type"):
					key = keyType
				case depth == 2 && inMsg && keyIs(lit, "messageId"):
					key = keyMessageID
				}
				expect = expectColon
				continue
			}
			switch {
			case depth == 1 && key == keyMessage:
				found = false
			case depth == 1 && key == keyType:
				other = !stringIs(data[start:end], EnvelopeMessage)
			case depth == 2 && inMsg && key == keyMessageID:
				found, id = false, 0
			}
			expect, key = expectComma, keyOther
		case tokLiteral:
			switch {
			case depth == 1 && key == keyMessage:
				found = false
			case depth == 1 && key == keyType:
				other = false // null (or garbage): no other kind named
			case depth == 2 && inMsg && key == keyMessageID:
				// A number that ends the input may have been cut short.
				v, err := strconv.ParseInt(string(data[start:end]), 10, 64)
				found = err == nil && end < len(data)
				id = v
				if !found {
					id = 0
				}
			}
			expect, key = expectComma, keyOther
		}
	}
}

type expectKind uint8

const (
	expectValue expectKind = iota
	expectKey
	expectColon
	expectComma
)

type keyKind uint8

const (
	keyOther keyKind = iota
	keyMessage
	keyType
	keyMessageID
)

// keyIs reports whether the raw JSON string lit (quotes included) names key
// the way encoding/json matches a struct field: after unescaping, folded.
func keyIs(lit []byte, key string) bool {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return bytes.EqualFold(body, []byte(key))
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return false
	}
	return bytes.EqualFold([]byte(s), []byte(key))
}

// stringIs reports whether the raw JSON string lit equals v exactly, after
// unescaping (a value, not a key: no folding).
func stringIs(lit []byte, v string) bool {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body) == v
	}
	var s string
	return json.Unmarshal(lit, &s) == nil && s == v
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokError
	tokOpenObject
	tokOpenArray
	tokClose
	tokString
	tokColon
	tokComma
	tokLiteral // number, true, false, null, or any run of other bytes
)

// jsonScanner splits JSON text into tokens, tolerating anything: a byte it
// does not expect becomes part of a literal, an unterminated string ends the
// input. It remembers, for the first 64 levels, whether a container is an
// array, which is all scanMessageID needs to know whether a comma is followed
// by a key.
type jsonScanner struct {
	data   []byte
	pos    int
	depth  int
	arrays uint64 // bit d-1 set: the container at depth d is an array
}

// inArray reports whether the innermost open container is an array.
func (s *jsonScanner) inArray() bool {
	return s.depth >= 1 && s.depth <= 64 && s.arrays&(1<<(s.depth-1)) != 0
}

// next returns the next token and its bounds in data.
func (s *jsonScanner) next() (tokKind, int, int) {
	d := s.data
	for s.pos < len(d) && (d[s.pos] == ' ' || d[s.pos] == '\t' || d[s.pos] == '\n' || d[s.pos] == '\r') {
		s.pos++
	}
	if s.pos >= len(d) {
		return tokEOF, s.pos, s.pos
	}
	start := s.pos
	c := d[s.pos]
	s.pos++
	switch c {
	case '{', '[':
		s.depth++
		// depth may be below 1 after stray closers: those levels are
		// not tracked (inArray says no).
		if s.depth >= 1 && s.depth <= 64 {
			if c == '[' {
				s.arrays |= 1 << (s.depth - 1)
			} else {
				s.arrays &^= 1 << (s.depth - 1)
			}
		}
		if c == '{' {
			return tokOpenObject, start, s.pos
		}
		return tokOpenArray, start, s.pos
	case '}', ']':
		s.depth--
		return tokClose, start, s.pos
	case ':':
		return tokColon, start, s.pos
	case ',':
		return tokComma, start, s.pos
	case '"':
		// Jump from quote to quote with bytes.IndexByte (vectorised):
		// strings are most of a frame's bytes. A quote ends the string
		// unless an odd run of backslashes precedes it inside the string.
		for {
			i := bytes.IndexByte(d[s.pos:], '"')
			if i < 0 {
				s.pos = len(d)
				return tokError, start, s.pos // unterminated string: the input ends inside it
			}
			q := s.pos + i
			s.pos = q + 1
			n := 0
			for q-1-n > start && d[q-1-n] == '\\' {
				n++
			}
			if n%2 == 0 {
				return tokString, start, s.pos
			}
		}
	}
	for s.pos < len(d) {
		switch d[s.pos] {
		case ' ', '\t', '\n', '\r', '{', '}', '[', ']', ':', ',', '"':
			return tokLiteral, start, s.pos
		}
		s.pos++
	}
	return tokLiteral, start, s.pos
}
