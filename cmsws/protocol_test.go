package cmsws

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// captureDir holds the recorded CMS traffic (see its README.md). It lives in
// the repository's top-level testdata so one copy serves every package.
const captureDir = "../testdata/cms-capture"

// Every captured frame must decode, with no decode error, into the message
// kind its envelope names, and carry every update the raw JSON carries.
func TestDecodeEveryCapturedFrame(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) < 2 {
		t.Fatalf("captures not found in %s: %v (%d files)", captureDir, err, len(files))
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			fr, err := DecodeFrame(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", filepath.Base(f), n, err)
			}
			var raw struct {
				Message struct {
					MessageID int64             `json:"messageId"`
					Type      string            `json:"type"`
					Updates   []json.RawMessage `json:"updates"`
				} `json:"message"`
			}
			if err := json.Unmarshal(line, &raw); err != nil {
				t.Fatal(err)
			}
			m := fr.Message
			if m == nil || m.MessageID != raw.Message.MessageID || m.Type != raw.Message.Type {
				t.Fatalf("%s:%d: decoded %+v, raw id %d type %s", filepath.Base(f), n, m, raw.Message.MessageID, raw.Message.Type)
			}
			got := len(m.CallUpdates) + len(m.RosterUpdates)
			if got != len(raw.Message.Updates) {
				t.Fatalf("%s:%d: %d updates decoded, %d in frame", filepath.Base(f), n, got, len(raw.Message.Updates))
			}
			if m.Type == TypeCallInfoUpdate && m.CallInfo == nil {
				t.Fatalf("%s:%d: callInfoUpdate without callInfo", filepath.Base(f), n)
			}
			for _, u := range m.CallUpdates {
				for name, fs := range map[string]FieldState{"participants": u.Participants.State, "recording": u.Recording.State, "lockState": u.LockState.State} {
					if fs == Invalid {
						t.Fatalf("%s:%d: call %s: %s invalid", filepath.Base(f), n, u.Call, name)
					}
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		if n == 0 {
			t.Fatalf("%s: empty", f)
		}
	}
}

func TestFieldStatesAbsentNullValueInvalid(t *testing.T) {
	fr, err := DecodeFrame([]byte(`{"type":"message","message":{"messageId":7,"type":"rosterUpdate","subscriptionIndex":1,"extra":{"x":1},
		"updates":[{"participant":"p","updateType":"add","name":"","importance":null,"audioMuted":"yes","layout":"allEqual","newThing":3}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	u := fr.Message.RosterUpdates[0]
	cases := []struct {
		name string
		got  FieldState
		want FieldState
	}{
		{"name (empty string is a value)", u.Name.State, Valid},
		{"importance null", u.Importance.State, Null},
		{"audioMuted garbage", u.AudioMuted.State, Invalid},
		{"layout", u.Layout.State, Valid},
		{"videoMuted absent", u.VideoMuted.State, Absent},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if u.AudioMuted.Raw != `"yes"` {
		t.Errorf("invalid raw = %q", u.AudioMuted.Raw)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		frame  string
		reason string
		ackID  int64 // >0: the message must still be ackable
	}{
		{`{not json`, ReasonMalformedJSON, 0},
		{`{"type":"surprise","surprise":{}}`, ReasonUnknownEnvelope, 0},
		{`{"type":"message","message":{"type":"callListUpdate"}}`, ReasonMissingMessageID, 0},
		{`{"type":"message"}`, ReasonMissingMessageID, 0},
		{`{"type":"message","message":{"messageId":9,"type":"callListUpdate","subscriptionIndex":3,"updates":{"oops":1}}}`, ReasonBadUpdates, 9},
		{`{"type":"message","message":{"messageId":10,"type":"callListUpdate","subscriptionIndex":"x"}}`, ReasonBadUpdates, 10},
	}
	for _, c := range cases {
		fr, err := DecodeFrame([]byte(c.frame))
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != c.reason {
			t.Errorf("%s: err = %v, want reason %s", c.frame, err, c.reason)
			continue
		}
		if c.ackID > 0 && (fr == nil || fr.Message == nil || fr.Message.MessageID != c.ackID) {
			t.Errorf("%s: message not salvaged for ack: %+v", c.frame, fr)
		}
	}
	// Unknown message types decode fine; the client flags them.
	fr, err := DecodeFrame([]byte(`{"type":"message","message":{"messageId":3,"type":"futureUpdate","stuff":[1]}}`))
	if err != nil || fr.Message.Type != "futureUpdate" {
		t.Fatalf("unknown type: %v %+v", err, fr)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	idx := 4
	in := &Message{MessageID: 12, Type: TypeCallListUpdate, SubscriptionIndex: &idx, CallUpdates: []CallUpdate{
		{Call: "c1", UpdateType: UpdateAdd, CallElements: CallElements{Name: Set(""), Participants: Set(0), LockState: Set("locked"), CallCorrelator: NullField[string]()}},
		{Call: "c2", UpdateType: UpdateRemove, Reason: Set("allLeft")},
	}}
	b, err := EncodeMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "recording") {
		t.Fatalf("absent field encoded: %s", b)
	}
	fr, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	got := fr.Message.CallUpdates
	if got[0].CallCorrelator.State != Null || got[0].Name.State != Valid || got[0].Recording.State != Absent || got[1].Reason.Value != "allLeft" {
		t.Fatalf("round trip: %s → %+v", b, got)
	}
	empty, _ := EncodeMessage(&Message{MessageID: 1, Type: TypeSubscribeRequest})
	if !strings.Contains(string(empty), `"subscriptions":[]`) {
		t.Fatalf("empty subscribeRequest must carry an empty list: %s", empty)
	}
}

// One entry CMS got wrong must not cost its siblings: the good entries are
// kept, in order, and every bad one is reported on its own.
func TestBadEntryKeepsSiblings(t *testing.T) {
	cases := []struct {
		name  string
		frame string
		good  func(*Message) []string
		want  []string
		bad   int
	}{
		{"calls", `{"type":"message","message":{"messageId":5,"type":"callListUpdate","subscriptionIndex":1,"updates":[
			{"call":"c1","updateType":"add","name":"one"},{"call":42,"updateType":"add"},{"call":"c3","updateType":"add"},"junk"]}}`,
			func(m *Message) []string {
				var ids []string
				for _, u := range m.CallUpdates {
					ids = append(ids, u.Call)
				}
				return ids
			}, []string{"c1", "c3"}, 2},
		{"roster", `{"type":"message","message":{"messageId":6,"type":"rosterUpdate","subscriptionIndex":2,"updates":[
			{"participant":"p1","updateType":"add"},{"participant":"p2","updateType":["add"]}]}}`,
			func(m *Message) []string {
				var ids []string
				for _, u := range m.RosterUpdates {
					ids = append(ids, u.Participant)
				}
				return ids
			}, []string{"p1"}, 1},
		{"subscriptions", `{"type":"message","message":{"messageId":7,"type":"subscriptionUpdate","subscriptions":[
			{"index":"one","state":"active"},{"index":2,"state":"active"},{"index":3,"state":false}]}}`,
			func(m *Message) []string {
				var ids []string
				for _, st := range m.Statuses {
					ids = append(ids, strconv.Itoa(st.Index))
				}
				return ids
			}, []string{"2"}, 2},
	}
	for _, c := range cases {
		fr, err := DecodeFrame([]byte(c.frame))
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != ReasonBadEntry {
			t.Errorf("%s: err = %v, want reason %s", c.name, err, ReasonBadEntry)
			continue
		}
		if len(de.Entries) != c.bad {
			t.Errorf("%s: %d entry errors (%v), want %d", c.name, len(de.Entries), de.Entries, c.bad)
		}
		if fr == nil || fr.Message == nil {
			t.Errorf("%s: no message", c.name)
			continue
		}
		if !fr.Message.Incomplete {
			t.Errorf("%s: message not marked incomplete", c.name)
		}
		if got := c.good(fr.Message); !slices.Equal(got, c.want) {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
	}
}
