//go:build goexperiment.jsonv2

package decoderbench

import (
	jsonv2 "encoding/json/v2"

	"encoding/json/jsontext"
)

// Go 1.26 still keeps encoding/json/v2 behind GOEXPERIMENT=jsonv2. Its types
// are their own family: FieldV2 implements UnmarshalJSONFrom, v2's streaming
// interface, which v1 run under the experiment would also call, so the v1
// types must not have it. v2 runs with its defaults (keys matched exactly,
// duplicate keys and invalid UTF-8 refused), which differ from v1 on purpose.

// FieldV2 is Field for encoding/json/v2.
type FieldV2[T any] struct {
	State FieldState
	Value T
	Raw   string
}

// UnmarshalJSONFrom reads the element's value from the decoder.
func (f *FieldV2[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var zero T
	f.Value, f.Raw = zero, ""
	if dec.PeekKind() == 'n' {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		f.State = Null
		return nil
	}
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if err := jsonv2.Unmarshal(val, &f.Value); err != nil {
		f.Value, f.State, f.Raw = zero, Invalid, truncate(string(val), 64)
		return nil
	}
	f.State = Valid
	return nil
}

// EnvelopeV2 and the types below are Envelope's family for v2.
type EnvelopeV2 struct {
	Type       string     `json:"type"`
	Message    *MessageV2 `json:"message"`
	MessageAck *Ack       `json:"messageAck"`
}

type MessageV2 struct {
	MessageID         *int64         `json:"messageId"`
	Type              string         `json:"type"`
	SubscriptionIndex *int           `json:"subscriptionIndex"`
	Subscriptions     []Subscription `json:"subscriptions"`
	Updates           []UpdateV2     `json:"updates"`
	CallInfo          *CallInfoV2    `json:"callInfo"`
}

type CallElementsV2 struct {
	Name                 FieldV2[string] `json:"name"`
	Participants         FieldV2[int]    `json:"participants"`
	DistributedInstances FieldV2[int]    `json:"distributedInstances"`
	Recording            FieldV2[string] `json:"recording"`
	EndpointRecording    FieldV2[string] `json:"endpointRecording"`
	Streaming            FieldV2[string] `json:"streaming"`
	LockState            FieldV2[string] `json:"lockState"`
	CallType             FieldV2[string] `json:"callType"`
	CallCorrelator       FieldV2[string] `json:"callCorrelator"`
}

type UpdateV2 struct {
	Call        string          `json:"call"`
	Participant string          `json:"participant"`
	UpdateType  string          `json:"updateType"`
	Reason      FieldV2[string] `json:"reason"`
	CallElementsV2

	URI                        FieldV2[string]  `json:"uri"`
	State                      FieldV2[string]  `json:"state"`
	Direction                  FieldV2[string]  `json:"direction"`
	AudioMuted                 FieldV2[bool]    `json:"audioMuted"`
	VideoMuted                 FieldV2[bool]    `json:"videoMuted"`
	TxAudioMuted               FieldV2[bool]    `json:"txAudioMuted"`
	TxVideoMuted               FieldV2[bool]    `json:"txVideoMuted"`
	Importance                 FieldV2[float64] `json:"importance"`
	Layout                     FieldV2[string]  `json:"layout"`
	ActiveSpeaker              FieldV2[bool]    `json:"activeSpeaker"`
	Presenter                  FieldV2[bool]    `json:"presenter"`
	CanMove                    FieldV2[bool]    `json:"canMove"`
	MovedParticipant           FieldV2[string]  `json:"movedParticipant"`
	MovedParticipantCallBridge FieldV2[string]  `json:"movedParticipantCallBridge"`
}

type CallInfoV2 struct {
	CallElementsV2
	JoinAudioMuteOverride FieldV2[bool] `json:"joinAudioMuteOverride"`
}

func v2Decoders() []Decoder {
	return []Decoder{{"encoding/json/v2", func(data []byte) (any, error) {
		var env EnvelopeV2
		err := jsonv2.Unmarshal(data, &env)
		return &env, err
	}}}
}
