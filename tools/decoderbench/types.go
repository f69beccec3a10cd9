// Package decoderbench compares JSON decoders on the frames CMS sends: the
// standard library's encoding/json (v1, and v2 under GOEXPERIMENT=jsonv2),
// github.com/goccy/go-json, github.com/segmentio/encoding/json, and the
// purpose-built cmsws.DecodeFrame the exporter uses. It is its own module so
// the exporter's go.mod does not gain the other libraries.
//
// For the comparison to be fair, every library decodes each frame in one
// pass into types that carry what cmsws.Frame carries, with a Field type of
// its own that keeps an element absent, null, valid or invalid apart by
// calling the same library, as cmsws.Field does with encoding/json.
package decoderbench

import (
	"bytes"
)

// FieldState says how an element appeared, as cmsws.FieldState.
type FieldState uint8

// The states of a Field, as in cmsws.
const (
	Absent FieldState = iota
	Null
	Valid
	Invalid
)

// codec is one library's Unmarshal.
type codec interface {
	unmarshal(data []byte, v any) error
}

// Field is cmsws.Field for the library C: an element of the wrong type
// becomes Invalid instead of failing the frame.
type Field[T any, C codec] struct {
	State FieldState
	Value T
	Raw   string
}

// UnmarshalJSON is called with the element's value, null included.
func (f *Field[T, C]) UnmarshalJSON(b []byte) error {
	var zero T
	f.Value, f.Raw = zero, ""
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		f.State = Null
		return nil
	}
	var c C
	if err := c.unmarshal(b, &f.Value); err != nil {
		f.Value, f.State, f.Raw = zero, Invalid, truncate(string(b), 64)
		return nil
	}
	f.State = Valid
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Envelope is one frame: a message or the ack of one of ours.
type Envelope[C codec] struct {
	Type       string      `json:"type"`
	Message    *Message[C] `json:"message"`
	MessageAck *Ack        `json:"messageAck"`
}

// Ack is the body of a messageAck.
type Ack struct {
	MessageID int64  `json:"messageId"`
	Status    string `json:"status"`
}

// Message holds every message type's members at once: one pass, where
// cmsws picks the list by type.
type Message[C codec] struct {
	MessageID         *int64         `json:"messageId"`
	Type              string         `json:"type"`
	SubscriptionIndex *int           `json:"subscriptionIndex"`
	Subscriptions     []Subscription `json:"subscriptions"`
	Updates           []Update[C]    `json:"updates"`
	CallInfo          *CallInfo[C]   `json:"callInfo"`
}

// Subscription is an entry of a subscribeRequest or a subscriptionUpdate.
type Subscription struct {
	Index    int      `json:"index"`
	Type     string   `json:"type"`
	Call     string   `json:"call"`
	Elements []string `json:"elements"`
	State    string   `json:"state"`
}

// CallElements are the elements calls and callInfo share.
type CallElements[C codec] struct {
	Name                 Field[string, C] `json:"name"`
	Participants         Field[int, C]    `json:"participants"`
	DistributedInstances Field[int, C]    `json:"distributedInstances"`
	Recording            Field[string, C] `json:"recording"`
	EndpointRecording    Field[string, C] `json:"endpointRecording"`
	Streaming            Field[string, C] `json:"streaming"`
	LockState            Field[string, C] `json:"lockState"`
	CallType             Field[string, C] `json:"callType"`
	CallCorrelator       Field[string, C] `json:"callCorrelator"`
}

// Update is an entry of a callListUpdate or of a rosterUpdate (their keys
// do not clash: name and endpointRecording mean the same in both).
type Update[C codec] struct {
	Call        string           `json:"call"`
	Participant string           `json:"participant"`
	UpdateType  string           `json:"updateType"`
	Reason      Field[string, C] `json:"reason"`
	CallElements[C]

	URI                        Field[string, C]  `json:"uri"`
	State                      Field[string, C]  `json:"state"`
	Direction                  Field[string, C]  `json:"direction"`
	AudioMuted                 Field[bool, C]    `json:"audioMuted"`
	VideoMuted                 Field[bool, C]    `json:"videoMuted"`
	TxAudioMuted               Field[bool, C]    `json:"txAudioMuted"`
	TxVideoMuted               Field[bool, C]    `json:"txVideoMuted"`
	Importance                 Field[float64, C] `json:"importance"`
	Layout                     Field[string, C]  `json:"layout"`
	ActiveSpeaker              Field[bool, C]    `json:"activeSpeaker"`
	Presenter                  Field[bool, C]    `json:"presenter"`
	CanMove                    Field[bool, C]    `json:"canMove"`
	MovedParticipant           Field[string, C]  `json:"movedParticipant"`
	MovedParticipantCallBridge Field[string, C]  `json:"movedParticipantCallBridge"`
}

// CallInfo is the object of a callInfoUpdate.
type CallInfo[C codec] struct {
	CallElements[C]
	JoinAudioMuteOverride Field[bool, C] `json:"joinAudioMuteOverride"`
}
