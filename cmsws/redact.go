package cmsws

import (
	"strings"
	"unicode/utf8"
)

// Frame dumps in log lines. At info level a frame is logged shortened and
// redacted: CMS frames carry participant names, URIs and call names, which
// do not belong in a log that is kept and shipped. Config.LogFullFrames (set
// by main at debug level) logs them as they arrived, up to fullFrameLen.
const (
	redactedFrameLen = 120
	fullFrameLen     = 2048
)

// redacted replaces whatever the dump does not show.
const redacted = "…"

// safeValueKeys are the elements whose string values are protocol words or
// ids (GUIDs), never a person's or a space's name or address. A string value
// under any other key is replaced: what is not known to be harmless is
// redacted, so an element a newer CMS adds cannot leak a name.
var safeValueKeys = map[string]bool{
	"type": true, "updateType": true, "state": true, "reason": true, "status": true,
	"layout": true, "callType": true, "recording": true, "endpointRecording": true,
	"streaming": true, "lockState": true, "direction": true,
	"call": true, "participant": true, "callCorrelator": true,
	"movedParticipant": true, "movedParticipantCallBridge": true,
}

// frameForLog returns the dump of frame for a log line: as it is (up to
// fullFrameLen) when full, else redacted and shortened.
func frameForLog(frame []byte, full bool) string {
	if full {
		return truncate(strings.ToValidUTF8(string(frame), "\uFFFD"), fullFrameLen)
	}
	return redactFrame(frame, redactedFrameLen)
}

// redactFrame renders frame compactly with every string value replaced by
// "…" unless its key is in safeValueKeys and the value looks like a word or
// an id, every key that is not a plain identifier replaced too, and every
// run of bytes that is not a JSON number or literal replaced, then cuts it
// at about limit bytes. It reads the frame as tokens, so it works on broken
// JSON: a stray quote can confuse which strings are keys, but a string is
// only ever shown when it is identifier-like, so no name or address gets
// through either way.
func redactFrame(frame []byte, limit int) string {
	var (
		b      strings.Builder
		sc     = jsonScanner{data: frame}
		expect = expectValue
		key    string // the key whose value comes next; "" if none or unsafe
	)
	b.Grow(limit + 8)
	for b.Len() < limit {
		tok, start, end := sc.next()
		lit := frame[start:end]
		switch tok {
		case tokEOF:
			return b.String()
		case tokError:
			b.WriteString(`"` + redacted)
			return b.String()
		case tokOpenObject, tokOpenArray:
			b.Write(lit)
			expect, key = expectValue, ""
			if tok == tokOpenObject {
				expect = expectKey
			}
		case tokClose:
			b.Write(lit)
			expect, key = expectComma, ""
		case tokColon:
			b.Write(lit)
			expect = expectValue
		case tokComma:
			b.Write(lit)
			expect = expectKey
			if sc.inArray() {
				expect = expectValue
			}
		case tokString:
			body := string(lit[1 : len(lit)-1])
			if expect == expectKey {
				expect, key = expectColon, ""
				if isIdent(body, 40) {
					b.Write(lit)
					if safeValueKeys[body] {
						key = body
					}
				} else {
					b.WriteString(`"` + redacted + `"`)
				}
				continue
			}
			if key != "" && isIdent(body, 64) {
				b.Write(lit)
			} else {
				b.WriteString(`"` + redacted + `"`)
			}
			expect = expectComma
			if !sc.inArray() {
				key = "" // elements of a list keep their list's key
			}
		case tokLiteral:
			if isJSONLiteral(lit) {
				b.Write(lit)
			} else {
				b.WriteString(redacted)
			}
			expect = expectComma
			if !sc.inArray() {
				key = ""
			}
		}
	}
	if sc.pos < len(frame) {
		b.WriteString(redacted)
	}
	return b.String()
}

// isIdent reports whether s is a protocol word or an id: at most max bytes
// of ASCII letters, digits, '-', '_', '.' (GUIDs, camelCase words).
// Names have spaces, URIs have '@' or '/', and neither gets through.
func isIdent(s string, max int) bool {
	if s == "" || len(s) > max {
		return s == ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return utf8.ValidString(s)
}

// isJSONLiteral reports whether lit is a number, true, false or null.
func isJSONLiteral(lit []byte) bool {
	switch string(lit) {
	case "true", "false", "null":
		return true
	}
	if len(lit) == 0 || len(lit) > 32 {
		return false
	}
	for _, c := range lit {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}
