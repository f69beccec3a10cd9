// Package cmsws speaks the Cisco Meeting Server events protocol: token
// authentication, the events WebSocket, subscriptions, acknowledgements and
// the decoding of every message kind. It knows nothing about Prometheus; it
// hands decoded, already-acknowledged messages to a caller-supplied sink in
// the order the server sent them.
package cmsws

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Envelope types (the outer "type" of every frame).
const (
	EnvelopeMessage    = "message"
	EnvelopeMessageAck = "messageAck"
)

// Message types (the inner "type" of a message envelope).
const (
	TypeSubscribeRequest   = "subscribeRequest"
	TypeSubscriptionUpdate = "subscriptionUpdate"
	TypeCallListUpdate     = "callListUpdate"
	TypeRosterUpdate       = "rosterUpdate"
	TypeCallInfoUpdate     = "callInfoUpdate"
)

// Resource is a subscribable event resource.
type Resource string

// The resources CMS 3.x offers.
const (
	ResourceCalls      Resource = "calls"
	ResourceCallRoster Resource = "callRoster"
	ResourceCallInfo   Resource = "callInfo"
)

// Subscription states reported in subscriptionUpdate.
const (
	StatePending     = "pending"
	StateActive      = "active"
	StateDeactivated = "deactivated"
)

// Update types in callListUpdate and rosterUpdate.
const (
	UpdateAdd    = "add"
	UpdateUpdate = "update"
	UpdateRemove = "remove"
)

// AckSuccess is the only acknowledgement status the protocol documents.
const AckSuccess = "success"

// Elements the exporter subscribes to, per resource. Asking for an element
// costs nothing when it does not change, so we ask for everything the model
// uses.
var (
	CallsElements = []string{"name", "participants", "distributedInstances", "recording",
		"endpointRecording", "streaming", "lockState", "callType", "callCorrelator"}
	CallRosterElements = []string{"name", "uri", "state", "direction", "audioMuted", "videoMuted",
		"txAudioMuted", "txVideoMuted", "importance", "layout", "activeSpeaker", "presenter",
		"endpointRecording", "canMove", "movedParticipant", "movedParticipantCallBridge"}
)

// Subscription is one entry of a subscribeRequest.
type Subscription struct {
	Index    int      `json:"index"`
	Type     Resource `json:"type"`
	Call     string   `json:"call,omitempty"`
	Elements []string `json:"elements,omitempty"`
}

// Key identifies what a subscription points at, independent of its index.
type Key struct {
	Type Resource
	Call string
}

// Key returns the subscription's target.
func (s Subscription) Key() Key { return Key{Type: s.Type, Call: s.Call} }

// SubscriptionStatus is one entry of a subscriptionUpdate.
type SubscriptionStatus struct {
	Index int    `json:"index"`
	State string `json:"state"`
}

// CallElements are the elements the calls and callInfo resources share.
// Embedded in CallUpdate and CallInfo, so code that applies them to a model
// is written once for both resources.
type CallElements struct {
	Name                 Field[string] `json:"name,omitzero"`
	Participants         Field[int]    `json:"participants,omitzero"`
	DistributedInstances Field[int]    `json:"distributedInstances,omitzero"`
	Recording            Field[string] `json:"recording,omitzero"`
	EndpointRecording    Field[string] `json:"endpointRecording,omitzero"`
	Streaming            Field[string] `json:"streaming,omitzero"`
	LockState            Field[string] `json:"lockState,omitzero"`
	CallType             Field[string] `json:"callType,omitzero"`
	CallCorrelator       Field[string] `json:"callCorrelator,omitzero"`
}

// CallUpdate is one entry of a callListUpdate (resource calls).
type CallUpdate struct {
	Call       string        `json:"call"`
	UpdateType string        `json:"updateType"`
	Reason     Field[string] `json:"reason,omitzero"`
	CallElements
}

// RosterUpdate is one entry of a rosterUpdate (resource callRoster).
type RosterUpdate struct {
	Participant string        `json:"participant"`
	UpdateType  string        `json:"updateType"`
	Reason      Field[string] `json:"reason,omitzero"`

	Name                       Field[string]  `json:"name,omitzero"`
	URI                        Field[string]  `json:"uri,omitzero"`
	State                      Field[string]  `json:"state,omitzero"`
	Direction                  Field[string]  `json:"direction,omitzero"`
	AudioMuted                 Field[bool]    `json:"audioMuted,omitzero"`
	VideoMuted                 Field[bool]    `json:"videoMuted,omitzero"`
	TxAudioMuted               Field[bool]    `json:"txAudioMuted,omitzero"`
	TxVideoMuted               Field[bool]    `json:"txVideoMuted,omitzero"`
	Importance                 Field[float64] `json:"importance,omitzero"`
	Layout                     Field[string]  `json:"layout,omitzero"`
	ActiveSpeaker              Field[bool]    `json:"activeSpeaker,omitzero"`
	Presenter                  Field[bool]    `json:"presenter,omitzero"`
	EndpointRecording          Field[string]  `json:"endpointRecording,omitzero"`
	CanMove                    Field[bool]    `json:"canMove,omitzero"`
	MovedParticipant           Field[string]  `json:"movedParticipant,omitzero"`
	MovedParticipantCallBridge Field[string]  `json:"movedParticipantCallBridge,omitzero"`
}

// CallInfo is the single object of a callInfoUpdate (resource callInfo). It
// names no call: the subscription index says which call it is about.
type CallInfo struct {
	CallElements
	JoinAudioMuteOverride Field[bool] `json:"joinAudioMuteOverride,omitzero"`
}

// Message is the body of a "message" envelope, in either direction. Only the
// fields of its Type are set. Fields the exporter does not know are ignored.
type Message struct {
	MessageID int64  `json:"messageId"`
	Type      string `json:"type"`

	// SubscriptionIndex is set on callListUpdate, rosterUpdate and
	// callInfoUpdate.
	SubscriptionIndex *int `json:"subscriptionIndex,omitempty"`

	// Subscriptions: the requested set (subscribeRequest, client → server).
	Subscriptions []Subscription `json:"-"`
	// Statuses: the subscription states (subscriptionUpdate).
	Statuses []SubscriptionStatus `json:"-"`

	CallUpdates   []CallUpdate   `json:"-"`
	RosterUpdates []RosterUpdate `json:"-"`
	CallInfo      *CallInfo      `json:"callInfo,omitempty"`

	// Incomplete: entries of the list could not be decoded and are missing
	// (each reported as a bad_entry error). A calls snapshot chunk that is
	// incomplete cannot say which calls are gone: a consumer that sweeps
	// the calls a snapshot did not list should not sweep after it.
	Incomplete bool `json:"-"`
}

// wireMessage is Message as it is on the wire: "subscriptions" and
// "updates" mean different things per message type.
type wireMessage struct {
	MessageID         *int64          `json:"messageId"`
	Type              string          `json:"type"`
	SubscriptionIndex *int            `json:"subscriptionIndex,omitempty"`
	Subscriptions     json.RawMessage `json:"subscriptions,omitempty"`
	Updates           json.RawMessage `json:"updates,omitempty"`
	CallInfo          *CallInfo       `json:"callInfo,omitempty"`
}

// Ack is the body of a "messageAck" envelope.
type Ack struct {
	MessageID int64  `json:"messageId"`
	Status    string `json:"status"`
}

// Frame is one decoded WebSocket text frame: either a Message or an Ack.
type Frame struct {
	Message *Message
	Ack     *Ack
}

// DecodeError says why a frame could not be decoded. Reason is a short,
// bounded token fit for a metric label.
type DecodeError struct {
	Reason string
	Err    error
	// Entries holds, for ReasonBadEntry, one error per list entry that
	// could not be decoded and is missing from the Message (which is
	// returned with the others): each is reported on its own.
	Entries []error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%s: %v", e.Reason, e.Err) }
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reasons.
const (
	ReasonMalformedJSON    = "malformed_json"
	ReasonUnknownEnvelope  = "unknown_envelope"
	ReasonMissingMessageID = "missing_message_id"
	ReasonBadUpdates       = "bad_updates"
	// ReasonBadEntry: one entry of a list (updates, subscriptions) could
	// not be decoded; its siblings are kept and the message delivered.
	ReasonBadEntry = "bad_entry"
)

// ErrUnknownEnvelope is wrapped by DecodeError for envelope types other than
// message and messageAck.
var ErrUnknownEnvelope = errors.New("unknown envelope type")

// DecodeFrame parses one text frame. Unknown message types are not an error
// (the caller acks and counts them); unknown fields are ignored. A frame whose
// message has a messageId but broken "updates" still returns the Message with
// its MessageID and Type set, so the caller can ack it, together with a
// DecodeError.
//
// The frames CMS sends are taken by a purpose-built decoder
// (decodeFrameFast), several times faster than encoding/json; anything it
// is not sure of goes to decodeFrameStd, which defines the answer: the two
// give deeply equal Frames (FuzzDecodeFrame checks it).
func DecodeFrame(data []byte) (*Frame, error) {
	if f, ok := decodeFrameFast(data); ok {
		return f, nil
	}
	return decodeFrameStd(data)
}

// decodeFrameStd is DecodeFrame with encoding/json: the reference the fast
// decoder is checked against, and the decoder of every frame the fast one
// leaves (errors, odd keys, escapes, wrong types).
func decodeFrameStd(data []byte) (*Frame, error) {
	var env struct {
		Type       string          `json:"type"`
		Message    json.RawMessage `json:"message"`
		MessageAck *Ack            `json:"messageAck"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, &DecodeError{Reason: ReasonMalformedJSON, Err: err}
	}
	switch env.Type {
	case EnvelopeMessageAck:
		if env.MessageAck == nil {
			return nil, &DecodeError{Reason: ReasonMissingMessageID, Err: errors.New("messageAck without body")}
		}
		return &Frame{Ack: env.MessageAck}, nil
	case EnvelopeMessage:
		m, err := decodeMessage(env.Message)
		return &Frame{Message: m}, err
	default:
		return &Frame{}, &DecodeError{Reason: ReasonUnknownEnvelope, Err: fmt.Errorf("%w %q", ErrUnknownEnvelope, truncate(env.Type, 40))}
	}
}

func decodeMessage(raw json.RawMessage) (*Message, error) {
	var w wireMessage
	if len(raw) == 0 {
		return nil, &DecodeError{Reason: ReasonMissingMessageID, Err: errors.New("message envelope without body")}
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		// The body may still carry a usable messageId: try to salvage it
		// so the message can be acked and the stream goes on.
		var idOnly struct {
			MessageID *int64 `json:"messageId"`
			Type      string `json:"type"`
		}
		if json.Unmarshal(raw, &idOnly) == nil && idOnly.MessageID != nil {
			return &Message{MessageID: *idOnly.MessageID, Type: idOnly.Type},
				&DecodeError{Reason: ReasonBadUpdates, Err: err}
		}
		return nil, &DecodeError{Reason: ReasonMalformedJSON, Err: err}
	}
	if w.MessageID == nil {
		return nil, &DecodeError{Reason: ReasonMissingMessageID, Err: errors.New("message without messageId")}
	}
	m := &Message{MessageID: *w.MessageID, Type: w.Type, SubscriptionIndex: w.SubscriptionIndex, CallInfo: w.CallInfo}
	var bad []error
	var err error
	switch w.Type {
	case TypeSubscribeRequest:
		bad, err = unmarshalList(w.Subscriptions, &m.Subscriptions)
	case TypeSubscriptionUpdate:
		bad, err = unmarshalList(w.Subscriptions, &m.Statuses)
	case TypeCallListUpdate:
		bad, err = unmarshalList(w.Updates, &m.CallUpdates)
	case TypeRosterUpdate:
		bad, err = unmarshalList(w.Updates, &m.RosterUpdates)
	}
	switch {
	case err != nil:
		return m, &DecodeError{Reason: ReasonBadUpdates, Err: err}
	case len(bad) > 0:
		m.Incomplete = true
		return m, &DecodeError{Reason: ReasonBadEntry, Err: errors.Join(bad...), Entries: bad}
	}
	return m, nil
}

// unmarshalList decodes a JSON list entry by entry, so that one entry CMS
// got wrong (a call id that is a number, a list that is not an object) does
// not cost its siblings: the good ones land in out, in order, and each bad
// one comes back as an error naming its position. err is set when raw is
// not a list at all.
func unmarshalList[T any](raw json.RawMessage, out *[]T) (bad []error, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	// The whole list at once: one pass over the bytes, what every good
	// message costs. Only a list with a bad entry is taken again, entry
	// by entry, to keep its good ones.
	var whole []T
	if json.Unmarshal(raw, &whole) == nil {
		*out = whole
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, err
	}
	list := make([]T, 0, len(entries))
	for i, e := range entries {
		var v T
		if err := json.Unmarshal(e, &v); err != nil {
			bad = append(bad, fmt.Errorf("entry %d of %d: %w", i, len(entries), err))
			continue
		}
		list = append(list, v)
	}
	*out = list
	return bad, nil
}

// EncodeMessage renders a message envelope. It is used for subscribeRequest
// by the client and for every server message by the fake server.
func EncodeMessage(m *Message) ([]byte, error) {
	w := wireMessage{MessageID: &m.MessageID, Type: m.Type, SubscriptionIndex: m.SubscriptionIndex, CallInfo: m.CallInfo}
	var err error
	switch m.Type {
	case TypeSubscribeRequest:
		subs := m.Subscriptions
		if subs == nil {
			subs = []Subscription{} // an empty list cancels everything; it must not vanish
		}
		w.Subscriptions, err = json.Marshal(subs)
	case TypeSubscriptionUpdate:
		w.Subscriptions, err = json.Marshal(m.Statuses)
	case TypeCallListUpdate:
		w.Updates, err = json.Marshal(m.CallUpdates)
	case TypeRosterUpdate:
		w.Updates, err = json.Marshal(m.RosterUpdates)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	return json.Marshal(struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}{EnvelopeMessage, body})
}

// EncodeAck renders a messageAck envelope (AppendAck into a new slice).
func EncodeAck(id int64, status string) []byte { return AppendAck(nil, id, status) }
