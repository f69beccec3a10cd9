package cmsws

import (
	"encoding/json"
	"strconv"
)

// AppendAck appends the messageAck envelope for id and status to dst: the
// frame the client writes for every server message, on the read path
// inside CMS's round trip, so it is built by appending (no reflection, no
// allocation into a reused dst). A status that needs JSON escaping, which
// the client never sends, goes through encoding/json.
func AppendAck(dst []byte, id int64, status string) []byte {
	dst = append(dst, `{"type":"messageAck","messageAck":{"messageId":`...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, `,"status":`...)
	if plainJSONString(status) {
		dst = append(dst, '"')
		dst = append(dst, status...)
		dst = append(dst, '"')
	} else {
		q, _ := json.Marshal(status) // a string always marshals
		dst = append(dst, q...)
	}
	return append(dst, "}}"...)
}

// plainJSONString reports whether s encodes as itself between quotes, the
// way encoding/json writes it (which also escapes <, > and &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
