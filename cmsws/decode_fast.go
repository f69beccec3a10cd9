package cmsws

import (
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The fast decoder reads the few shapes CMS sends in one pass over the
// bytes, without reflection, and produces the very Frame encoding/json
// gives (decodeFrameStd). It is safe by construction rather than by
// imitation: it takes only the common, canonical input it can decode
// exactly and answers "not sure" on anything else, and DecodeFrame then
// asks the reference decoder, which gives the exact answer and error.
// What it refuses (ok false), and so leaves to the reference:
//   - any syntax error, bytes after the top-level value, and nesting deeper
//     than maxSkipDepth under an unknown key;
//   - keys with escapes or non-ASCII bytes, and ASCII keys that are not
//     exactly a name of the object's shape but fold onto a known name
//     (encoding/json matches keys without case, after unescaping, with the
//     Kelvin sign folding onto k and the long s onto s);
//   - a known key twice (encoding/json keeps the last one);
//   - null where a non-Field value is expected (v1 keeps the zero value, or
//     sets a pointer to nil), a value of the wrong JSON type, a number that
//     does not fit its Go type or, for an integer, has a fraction or an
//     exponent (a Field becomes Invalid, with Raw, only in the reference);
//   - strings with control bytes, invalid UTF-8 or a \u escape of a lone
//     surrogate (v1 puts U+FFFD in their place);
//   - every frame the reference answers with an error, and envelope kinds
//     other than message and messageAck: the fast path returns successes
//     only.
//
// Unknown keys are skipped with their value checked for syntax, as
// encoding/json does (it checks the whole input before decoding any of it).

// maxSkipDepth bounds the nesting of a value under an unknown key; a deeper
// one goes to the reference decoder, which has its own bound. The shapes
// themselves nest at most five levels, each decoded by its own function:
// nothing here recurses.
const maxSkipDepth = 64

// fastDecoder is a cursor over one frame.
type fastDecoder struct {
	data []byte
	pos  int
}

// frameBlock holds a decoded message's Frame, Message and subscription index
// in one allocation: they live and die together.
type frameBlock struct {
	f   Frame
	m   Message
	idx int
}

// ackBlock is the same for a messageAck frame.
type ackBlock struct {
	f Frame
	a Ack
}

// decodeFrameFast decodes data as DecodeFrame does, or says it is not sure
// (ok false). When ok, decodeFrameStd(data) returns a nil error and a Frame
// deeply equal to this one (FuzzDecodeFrame checks it).
func decodeFrameFast(data []byte) (*Frame, bool) {
	d := fastDecoder{data: data}
	var (
		envType                   string
		seenType, seenMsg, seenAk bool
		msgStart, msgEnd          int
		msg                       *frameBlock
		ack                       Ack
		first                     = true
	)
	d.ws()
	if !d.consume('{') {
		return nil, false
	}
	for {
		key, st := d.nextKey(&first)
		if st == keyFail {
			return nil, false
		}
		if st == keyEnd {
			break
		}
		switch string(key) {
		case "type":
			s, ok := d.str()
			if seenType || !ok {
				return nil, false
			}
			seenType, envType = true, s
		case "message":
			if seenMsg {
				return nil, false
			}
			seenMsg, msgStart = true, d.pos
			if seenType && envType == EnvelopeMessage {
				// The common order: decode the message where it is.
				b, ok := d.message()
				if !ok {
					return nil, false
				}
				msg = b
			} else if !d.skipValue() {
				return nil, false
			}
			msgEnd = d.pos
		case "messageAck":
			// v1 decodes (and so checks) messageAck in any envelope.
			if seenAk || !d.ack(&ack) {
				return nil, false
			}
			seenAk = true
		default:
			if !d.skipUnknown(key) {
				return nil, false
			}
		}
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, false // trailing bytes: a syntax error to v1
	}
	switch {
	case envType == EnvelopeMessageAck && seenAk:
		b := &ackBlock{a: ack}
		b.f.Ack = &b.a
		return &b.f, true
	case envType == EnvelopeMessage && msg != nil:
		return &msg.f, true
	case envType == EnvelopeMessage && seenMsg:
		// The envelope named its type after the message: decode it now.
		sub := fastDecoder{data: data[:msgEnd], pos: msgStart}
		b, ok := sub.message()
		if !ok || sub.pos != msgEnd {
			return nil, false
		}
		return &b.f, true
	}
	return nil, false
}

// message decodes the object of a "message" envelope.
func (d *fastDecoder) message() (*frameBlock, bool) {
	if !d.consume('{') {
		return nil, false
	}
	b := &frameBlock{}
	b.f.Message = &b.m
	m := &b.m
	var (
		seen                 uint8
		typeKnown            bool
		subsStart, subsEnd   int // span of "subscriptions" skipped before "type"
		updStart, updEnd     int // same for "updates"
		subsLater, updsLater bool
		first                = true
	)
	const (
		seenID = 1 << iota
		seenType
		seenIndex
		seenSubs
		seenUpdates
		seenCallInfo
	)
	for {
		key, st := d.nextKey(&first)
		if st == keyFail {
			return nil, false
		}
		if st == keyEnd {
			break
		}
		var bit uint8
		var ok bool
		switch string(key) {
		case "messageId":
			bit = seenID
			m.MessageID, ok = d.int64()
		case "type":
			bit = seenType
			m.Type, ok = d.str()
			typeKnown = ok
		case "subscriptionIndex":
			bit = seenIndex
			var v int64
			v, ok = d.int64()
			b.idx = int(v)
			ok = ok && int64(b.idx) == v
			m.SubscriptionIndex = &b.idx
		case "subscriptions":
			bit = seenSubs
			if typeKnown {
				ok = d.subscriptions(m)
			} else {
				subsStart, subsLater = d.pos, true
				ok = d.skipValue()
				subsEnd = d.pos
			}
		case "updates":
			bit = seenUpdates
			if typeKnown {
				ok = d.updates(m)
			} else {
				updStart, updsLater = d.pos, true
				ok = d.skipValue()
				updEnd = d.pos
			}
		case "callInfo":
			bit = seenCallInfo
			m.CallInfo, ok = d.callInfo()
		default:
			ok = d.skipUnknown(key)
		}
		if !ok || seen&bit != 0 {
			return nil, false
		}
		seen |= bit
	}
	if seen&seenID == 0 {
		return nil, false // missing_message_id, the reference's to say
	}
	if subsLater {
		sub := fastDecoder{data: d.data[:subsEnd], pos: subsStart}
		if !sub.subscriptions(m) || sub.pos != subsEnd {
			return nil, false
		}
	}
	if updsLater {
		sub := fastDecoder{data: d.data[:updEnd], pos: updStart}
		if !sub.updates(m) || sub.pos != updEnd {
			return nil, false
		}
	}
	return b, true
}

// subscriptions decodes the "subscriptions" value as the message's type
// says, or checks and skips it for a type that has none.
func (d *fastDecoder) subscriptions(m *Message) bool {
	switch m.Type {
	case TypeSubscribeRequest:
		return d.list(m, listSubscriptions)
	case TypeSubscriptionUpdate:
		return d.list(m, listStatuses)
	}
	return d.skipValue()
}

// updates decodes the "updates" value as the message's type says, or
// checks and skips it for a type that has none.
func (d *fastDecoder) updates(m *Message) bool {
	switch m.Type {
	case TypeCallListUpdate:
		return d.list(m, listCallUpdates)
	case TypeRosterUpdate:
		return d.list(m, listRosterUpdates)
	}
	return d.skipValue()
}

// listKind names the list of Message a list value goes to.
type listKind uint8

const (
	listSubscriptions listKind = iota
	listStatuses
	listCallUpdates
	listRosterUpdates
)

// list decodes a JSON array of objects into the list of m that kind names,
// each entry straight into the slice (one exact allocation for the common
// single entry). null leaves a nil slice and [] makes an empty one, as
// unmarshalList does. One function with a switch rather than a generic one
// taking a decoder func: an indirect call would move the cursor to the
// heap.
func (d *fastDecoder) list(m *Message, kind listKind) bool {
	if d.null() {
		return true
	}
	if !d.consume('[') {
		return false
	}
	switch kind {
	case listSubscriptions:
		m.Subscriptions = []Subscription{}
	case listStatuses:
		m.Statuses = []SubscriptionStatus{}
	case listCallUpdates:
		m.CallUpdates = []CallUpdate{}
	case listRosterUpdates:
		m.RosterUpdates = []RosterUpdate{}
	}
	first := true
	for {
		switch d.nextElem(&first) {
		case keyFail:
			return false
		case keyEnd:
			return true
		}
		// From one entry straight to listGrow: a list of more than one
		// is a snapshot chunk or a burst, and doubling from one costs an
		// allocation and a copy at 2 and 4.
		var ok bool
		switch kind {
		case listSubscriptions:
			m.Subscriptions = growOnce(m.Subscriptions)
			m.Subscriptions = append(m.Subscriptions, Subscription{})
			ok = d.subscription(&m.Subscriptions[len(m.Subscriptions)-1])
		case listStatuses:
			m.Statuses = growOnce(m.Statuses)
			m.Statuses = append(m.Statuses, SubscriptionStatus{})
			ok = d.status(&m.Statuses[len(m.Statuses)-1])
		case listCallUpdates:
			m.CallUpdates = growOnce(m.CallUpdates)
			m.CallUpdates = append(m.CallUpdates, CallUpdate{})
			ok = d.callUpdate(&m.CallUpdates[len(m.CallUpdates)-1])
		case listRosterUpdates:
			m.RosterUpdates = growOnce(m.RosterUpdates)
			m.RosterUpdates = append(m.RosterUpdates, RosterUpdate{})
			ok = d.rosterUpdate(&m.RosterUpdates[len(m.RosterUpdates)-1])
		}
		if !ok {
			return false
		}
	}
}

// listGrow is the capacity a list gets at its second entry.
const listGrow = 8

// growOnce gives a list of one entry room for listGrow.
func growOnce[T any](s []T) []T {
	if len(s) == 1 {
		return slices.Grow(s, listGrow-1)
	}
	return s
}

// object decodes a JSON object member by member: field decodes the value
// of a key it knows and returns the key's bit, or 0 for a key it does not
// know, whose value is then skipped (and validated). A known key seen
// twice is not sure: encoding/json's "last one wins" is the reference's.
func (d *fastDecoder) object(field func(key []byte) (bit uint32, ok bool)) bool {
	if !d.consume('{') {
		return false
	}
	var seen uint32
	first := true
	for {
		key, st := d.nextKey(&first)
		switch st {
		case keyFail:
			return false
		case keyEnd:
			return true
		}
		bit, ok := field(key)
		if ok && bit == 0 {
			ok = d.skipUnknown(key)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// subscription decodes one entry of a subscribeRequest.
func (d *fastDecoder) subscription(s *Subscription) bool {
	return d.object(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "index":
			v, ok := d.int()
			s.Index = v
			return 1, ok
		case "type":
			v, ok := d.str()
			s.Type = Resource(v)
			return 2, ok
		case "call":
			v, ok := d.str()
			s.Call = v
			return 4, ok
		case "elements":
			v, ok := d.strings()
			s.Elements = v
			return 8, ok
		}
		return 0, true
	})
}

// status decodes one entry of a subscriptionUpdate.
func (d *fastDecoder) status(s *SubscriptionStatus) bool {
	return d.object(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "index":
			v, ok := d.int()
			s.Index = v
			return 1, ok
		case "state":
			v, ok := d.str()
			s.State = v
			return 2, ok
		}
		return 0, true
	})
}

// ack decodes the body of a messageAck envelope.
func (d *fastDecoder) ack(a *Ack) bool {
	return d.object(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "messageId":
			v, ok := d.int64()
			a.MessageID = v
			return 1, ok
		case "status":
			v, ok := d.str()
			a.Status = v
			return 2, ok
		}
		return 0, true
	})
}

// Bits of the elements of CallElements, for duplicate detection; the
// shapes that embed it number their own keys from callElementsBits.
const (
	ceName = 1 << iota
	ceParticipants
	ceDistributedInstances
	ceRecording
	ceEndpointRecording
	ceStreaming
	ceLockState
	ceCallType
	ceCallCorrelator
	callElementsBits = iota
)

// callElement decodes key into e if it names one of the elements calls and
// callInfo share. bit is 0 when it names none.
func (d *fastDecoder) callElement(key []byte, e *CallElements) (bit uint32, ok bool) {
	switch string(key) {
	case "name":
		return ceName, d.fieldString(&e.Name)
	case "participants":
		return ceParticipants, d.fieldInt(&e.Participants)
	case "distributedInstances":
		return ceDistributedInstances, d.fieldInt(&e.DistributedInstances)
	case "recording":
		return ceRecording, d.fieldString(&e.Recording)
	case "endpointRecording":
		return ceEndpointRecording, d.fieldString(&e.EndpointRecording)
	case "streaming":
		return ceStreaming, d.fieldString(&e.Streaming)
	case "lockState":
		return ceLockState, d.fieldString(&e.LockState)
	case "callType":
		return ceCallType, d.fieldString(&e.CallType)
	case "callCorrelator":
		return ceCallCorrelator, d.fieldString(&e.CallCorrelator)
	}
	return 0, true
}

// callUpdate decodes one entry of a callListUpdate.
func (d *fastDecoder) callUpdate(c *CallUpdate) bool {
	return d.object(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "call":
			v, ok := d.str()
			c.Call = v
			return 1 << callElementsBits, ok
		case "updateType":
			v, ok := d.str()
			c.UpdateType = v
			return 2 << callElementsBits, ok
		case "reason":
			return 4 << callElementsBits, d.fieldString(&c.Reason)
		}
		return d.callElement(key, &c.CallElements)
	})
}

// callInfo decodes the object of a callInfoUpdate.
func (d *fastDecoder) callInfo() (*CallInfo, bool) {
	c := &CallInfo{}
	ok := d.object(func(key []byte) (uint32, bool) {
		if string(key) == "joinAudioMuteOverride" {
			return 1 << callElementsBits, d.fieldBool(&c.JoinAudioMuteOverride)
		}
		return d.callElement(key, &c.CallElements)
	})
	if !ok {
		return nil, false
	}
	return c, true
}

// rosterUpdate decodes one entry of a rosterUpdate.
func (d *fastDecoder) rosterUpdate(r *RosterUpdate) bool {
	return d.object(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "participant":
			v, ok := d.str()
			r.Participant = v
			return 1 << 0, ok
		case "updateType":
			v, ok := d.str()
			r.UpdateType = v
			return 1 << 1, ok
		case "reason":
			return 1 << 2, d.fieldString(&r.Reason)
		case "name":
			return 1 << 3, d.fieldString(&r.Name)
		case "uri":
			return 1 << 4, d.fieldString(&r.URI)
		case "state":
			return 1 << 5, d.fieldString(&r.State)
		case "direction":
			return 1 << 6, d.fieldString(&r.Direction)
		case "audioMuted":
			return 1 << 7, d.fieldBool(&r.AudioMuted)
		case "videoMuted":
			return 1 << 8, d.fieldBool(&r.VideoMuted)
		case "txAudioMuted":
			return 1 << 9, d.fieldBool(&r.TxAudioMuted)
		case "txVideoMuted":
			return 1 << 10, d.fieldBool(&r.TxVideoMuted)
		case "importance":
			return 1 << 11, d.fieldFloat(&r.Importance)
		case "layout":
			return 1 << 12, d.fieldString(&r.Layout)
		case "activeSpeaker":
			return 1 << 13, d.fieldBool(&r.ActiveSpeaker)
		case "presenter":
			return 1 << 14, d.fieldBool(&r.Presenter)
		case "endpointRecording":
			return 1 << 15, d.fieldString(&r.EndpointRecording)
		case "canMove":
			return 1 << 16, d.fieldBool(&r.CanMove)
		case "movedParticipant":
			return 1 << 17, d.fieldString(&r.MovedParticipant)
		case "movedParticipantCallBridge":
			return 1 << 18, d.fieldString(&r.MovedParticipantCallBridge)
		}
		return 0, true
	})
}

// Field elements: null is Null, a value of the type is Valid; anything else
// is not sure (Invalid, with its Raw text, is the reference's to make).

func (d *fastDecoder) fieldString(f *Field[string]) bool {
	if d.null() {
		f.State = Null
		return true
	}
	v, ok := d.str()
	f.State, f.Value = Valid, v
	return ok
}

func (d *fastDecoder) fieldInt(f *Field[int]) bool {
	if d.null() {
		f.State = Null
		return true
	}
	v, ok := d.int()
	f.State, f.Value = Valid, v
	return ok
}

func (d *fastDecoder) fieldBool(f *Field[bool]) bool {
	if d.null() {
		f.State = Null
		return true
	}
	v, ok := d.bool()
	f.State, f.Value = Valid, v
	return ok
}

func (d *fastDecoder) fieldFloat(f *Field[float64]) bool {
	if d.null() {
		f.State = Null
		return true
	}
	v, ok := d.float()
	f.State, f.Value = Valid, v
	return ok
}

// Tokens. Every reader starts at the first byte of its value (whitespace
// already skipped) and ends right after it.

type keyStatus uint8

const (
	keyOK keyStatus = iota
	keyEnd
	keyFail
)

func (d *fastDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *fastDecoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// nextKey reads the next key of an object whose '{' has been consumed, and
// its colon, leaving the cursor on the value; or the closing '}' (keyEnd).
// A key is taken only if it is plain ASCII without escapes: anything else
// might fold onto a known name.
func (d *fastDecoder) nextKey(first *bool) ([]byte, keyStatus) {
	d.ws()
	if d.pos >= len(d.data) {
		return nil, keyFail
	}
	if d.data[d.pos] == '}' {
		d.pos++
		return nil, keyEnd
	}
	if !*first {
		if d.data[d.pos] != ',' {
			return nil, keyFail
		}
		d.pos++
		d.ws()
	}
	*first = false
	if !d.consume('"') {
		return nil, keyFail
	}
	start := d.pos
	for ; d.pos < len(d.data); d.pos++ {
		c := d.data[d.pos]
		if c == '"' {
			break
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return nil, keyFail
		}
	}
	if d.pos >= len(d.data) {
		return nil, keyFail
	}
	key := d.data[start:d.pos]
	d.pos++
	d.ws()
	if !d.consume(':') {
		return nil, keyFail
	}
	d.ws()
	return key, keyOK
}

// nextElem moves to the next element of an array whose '[' has been
// consumed, or past its closing ']' (keyEnd).
func (d *fastDecoder) nextElem(first *bool) keyStatus {
	d.ws()
	if d.pos >= len(d.data) {
		return keyFail
	}
	if d.data[d.pos] == ']' {
		d.pos++
		return keyEnd
	}
	if !*first {
		if d.data[d.pos] != ',' {
			return keyFail
		}
		d.pos++
		d.ws()
	}
	*first = false
	return keyOK
}

// skipUnknown skips the value of a key the shape does not have, unless the
// key folds onto a name some shape has: encoding/json might take it.
func (d *fastDecoder) skipUnknown(key []byte) bool {
	return !foldsOntoKnown(key) && d.skipValue()
}

// foldsOntoKnown reports whether the ASCII key, without case, is the name
// of an element of any shape. Checking all shapes rather than the one being
// decoded refuses a little more than needed (a "call" key in a roster
// entry), never less.
func foldsOntoKnown(key []byte) bool {
	var buf [32]byte
	if len(key) > len(buf) {
		return false // longer than any name
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(key)]) {
	case "type", "message", "messageack", "messageid", "status", "subscriptionindex",
		"subscriptions", "updates", "callinfo", "index", "call", "elements", "state",
		"updatetype", "reason", "name", "participants", "distributedinstances", "recording",
		"endpointrecording", "streaming", "lockstate", "calltype", "callcorrelator",
		"participant", "uri", "direction", "audiomuted", "videomuted", "txaudiomuted",
		"txvideomuted", "importance", "layout", "activespeaker", "presenter", "canmove",
		"movedparticipant", "movedparticipantcallbridge", "joinaudiomuteoverride":
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (d *fastDecoder) null() bool {
	if len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

func (d *fastDecoder) bool() (bool, bool) {
	rest := d.data[d.pos:]
	if len(rest) >= 4 && string(rest[:4]) == "true" {
		d.pos += 4
		return true, true
	}
	if len(rest) >= 5 && string(rest[:5]) == "false" {
		d.pos += 5
		return false, true
	}
	return false, false
}

// str reads a string value. Strings without escapes, the common case, are
// taken straight from the frame (interned when they are a value CMS sends
// all the time); the others are unescaped.
func (d *fastDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.pos
	ascii := true
	for ; d.pos < len(d.data); d.pos++ {
		c := d.data[d.pos]
		switch {
		case c == '"':
			span := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(span) {
				return "", false
			}
			return intern(span), true
		case c == '\\':
			return d.escapedStr(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// escapedStr finishes str for a string with a backslash.
func (d *fastDecoder) escapedStr(start int) (string, bool) {
	buf := make([]byte, 0, 2*(d.pos-start)+16)
	buf = append(buf, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.data) {
			return "", false
		}
		var r byte
		switch d.data[d.pos+1] {
		case '"', '\\', '/':
			r = d.data[d.pos+1]
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var ok bool
			if buf, ok = d.unicodeEscape(buf); !ok {
				return "", false
			}
			continue
		default:
			return "", false
		}
		buf = append(buf, r)
		d.pos += 2
	}
	return "", false
}

// unicodeEscape appends the character of the \uXXXX escape at the cursor,
// or of the pair of them that encodes a character above the BMP, and moves
// past it. A lone surrogate, which v1 turns into U+FFFD, is refused.
func (d *fastDecoder) unicodeEscape(buf []byte) ([]byte, bool) {
	r, ok := hex4(d.data, d.pos+2)
	if !ok {
		return buf, false
	}
	d.pos += 6
	if utf16.IsSurrogate(r) {
		if d.pos+1 >= len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
			return buf, false
		}
		r2, ok := hex4(d.data, d.pos+2)
		if !ok {
			return buf, false
		}
		if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
			return buf, false
		}
		d.pos += 6
	}
	return utf8.AppendRune(buf, r), true
}

// hex4 reads the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// strings reads a list of strings (a subscription's elements): null, a
// null entry or any non-string is refused.
func (d *fastDecoder) strings() ([]string, bool) {
	if !d.consume('[') {
		return nil, false
	}
	out := []string{}
	first := true
	for {
		st := d.nextElem(&first)
		if st == keyFail {
			return nil, false
		}
		if st == keyEnd {
			return out, true
		}
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
}

// number reads a number with the strict JSON grammar and reports whether
// it is an integer literal (no fraction, no exponent).
func (d *fastDecoder) number() (lit []byte, integer bool, ok bool) {
	data, start := d.data, d.pos
	p := start
	if p < len(data) && data[p] == '-' {
		p++
	}
	switch {
	case p >= len(data):
		return nil, false, false
	case data[p] == '0':
		p++
	case '1' <= data[p] && data[p] <= '9':
		for p < len(data) && '0' <= data[p] && data[p] <= '9' {
			p++
		}
	default:
		return nil, false, false
	}
	integer = true
	if p < len(data) && data[p] == '.' {
		integer = false
		p++
		q := p
		for p < len(data) && '0' <= data[p] && data[p] <= '9' {
			p++
		}
		if p == q {
			return nil, false, false
		}
	}
	if p < len(data) && (data[p] == 'e' || data[p] == 'E') {
		integer = false
		p++
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		q := p
		for p < len(data) && '0' <= data[p] && data[p] <= '9' {
			p++
		}
		if p == q {
			return nil, false, false
		}
	}
	d.pos = p
	return data[start:p], integer, true
}

// int64 reads an integer literal that fits an int64, as v1 takes it into
// an int64: no fraction, no exponent.
func (d *fastDecoder) int64() (int64, bool) {
	lit, integer, ok := d.number()
	if !ok || !integer {
		return 0, false
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range lit {
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u), true // wraps exactly to MinInt64 for 1<<63
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// int reads an integer literal that fits an int.
func (d *fastDecoder) int() (int, bool) {
	v, ok := d.int64()
	if !ok || int64(int(v)) != v {
		return 0, false
	}
	return int(v), true
}

// float reads a number as v1 takes it into a float64: strconv.ParseFloat of
// the literal, refused when out of range. Short integers, the common case,
// are exact in a float64 and need no parsing.
func (d *fastDecoder) float() (float64, bool) {
	lit, integer, ok := d.number()
	if !ok {
		return 0, false
	}
	if integer && len(lit) <= 15 {
		neg := lit[0] == '-'
		if neg {
			lit = lit[1:]
		}
		var u uint64
		for _, c := range lit {
			u = u*10 + uint64(c-'0')
		}
		f := float64(u) // below 2^53: exact
		if neg {
			f = -f // -0 too, as ParseFloat gives it
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// skipValue checks and skips one JSON value of any kind, nested up to
// maxSkipDepth levels, without recursion.
func (d *fastDecoder) skipValue() bool {
	var (
		arrays uint64 // bit i set: the container at depth i+1 is an array
		depth  int
	)
	for {
		// A value starts here.
		d.ws()
		if d.pos >= len(d.data) {
			return false
		}
		switch c := d.data[d.pos]; c {
		case '{', '[':
			if depth == maxSkipDepth {
				return false
			}
			d.pos++
			depth++
			if c == '[' {
				arrays |= 1 << (depth - 1)
			} else {
				arrays &^= 1 << (depth - 1)
			}
			d.ws()
			if d.pos < len(d.data) && (d.data[d.pos] == '}' && c == '{' || d.data[d.pos] == ']' && c == '[') {
				d.pos++
				depth--
				break // an empty container is a complete value
			}
			if c == '{' && !d.skipKey() {
				return false
			}
			continue // its first value
		case '"':
			if !d.skipString() {
				return false
			}
		case 't', 'f':
			if _, ok := d.bool(); !ok {
				return false
			}
		case 'n':
			if !d.null() {
				return false
			}
		default:
			if _, _, ok := d.number(); !ok {
				return false
			}
		}
		// A value ended: close containers until one goes on.
		for {
			if depth == 0 {
				return true
			}
			d.ws()
			if d.pos >= len(d.data) {
				return false
			}
			inArray := arrays&(1<<(depth-1)) != 0
			c := d.data[d.pos]
			if c == ',' {
				d.pos++
				if !inArray {
					d.ws()
					if !d.skipKey() {
						return false
					}
				}
				break
			}
			if inArray && c == ']' || !inArray && c == '}' {
				d.pos++
				depth--
				continue
			}
			return false
		}
	}
}

// skipKey skips an object key (any string) and its colon.
func (d *fastDecoder) skipKey() bool {
	if !d.skipString() {
		return false
	}
	d.ws()
	return d.consume(':')
}

// skipString checks and skips a string: no control bytes, valid escapes.
// Bytes above ASCII are not checked: v1 accepts invalid UTF-8 in a value
// it skips.
func (d *fastDecoder) skipString() bool {
	if !d.consume('"') {
		return false
	}
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return false
			}
			switch d.data[d.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos += 2
			case 'u':
				if d.pos+6 > len(d.data) {
					return false
				}
				for _, h := range d.data[d.pos+2 : d.pos+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				d.pos += 6
			default:
				return false
			}
		default:
			d.pos++
		}
	}
	return false
}

// intern returns the string of b, without allocating for the values CMS
// sends over and over (types, states, update kinds).
func intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case EnvelopeMessage:
		return EnvelopeMessage
	case EnvelopeMessageAck:
		return EnvelopeMessageAck
	case TypeRosterUpdate:
		return TypeRosterUpdate
	case TypeCallListUpdate:
		return TypeCallListUpdate
	case TypeCallInfoUpdate:
		return TypeCallInfoUpdate
	case TypeSubscriptionUpdate:
		return TypeSubscriptionUpdate
	case TypeSubscribeRequest:
		return TypeSubscribeRequest
	case UpdateAdd:
		return UpdateAdd
	case UpdateUpdate:
		return UpdateUpdate
	case UpdateRemove:
		return UpdateRemove
	case StateActive:
		return StateActive
	case StatePending:
		return StatePending
	case StateDeactivated:
		return StateDeactivated
	case AckSuccess:
		return AckSuccess
	case "inactive":
		return "inactive"
	case "connected":
		return "connected"
	case "initial":
		return "initial"
	case "ringing":
		return "ringing"
	case "connecting":
		return "connecting"
	case "onHold":
		return "onHold"
	case "incoming":
		return "incoming"
	case "outgoing":
		return "outgoing"
	case "locked":
		return "locked"
	case "notLocked":
		return "notLocked"
	case "coSpace":
		return "coSpace"
	case "adHoc":
		return "adHoc"
	case "forwarding":
		return "forwarding"
	case "lyncConferencing":
		return "lyncConferencing"
	case "allEqual":
		return "allEqual"
	case "onePlusFive":
		return "onePlusFive"
	case "onePlusN":
		return "onePlusN"
	case "onePlusNine":
		return "onePlusNine"
	case "speakerOnly":
		return "speakerOnly"
	case "telepresence":
		return "telepresence"
	case "stacked":
		return "stacked"
	case "timeout":
		return "timeout"
	case "allLeft":
		return "allLeft"
	case "remoteTeardown":
		return "remoteTeardown"
	case "noAnswer":
		return "noAnswer"
	case "notFound":
		return "notFound"
	case "callEnded":
		return "callEnded"
	case "unknownDestination":
		return "unknownDestination"
	}
	return string(b)
}
