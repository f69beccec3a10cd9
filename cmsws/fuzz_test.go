package cmsws

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFrame feeds the decoder, the messageId scanner and the frame
// redaction whatever the fuzzer makes of captured CMS traffic and of some
// hand-broken frames. Invariants:
//   - nothing panics;
//   - a Message returned without error re-encodes, and encoding is stable
//     (decoding the encoding and encoding again gives the same bytes);
//   - every element of a returned update is Absent, Null or Valid/Invalid
//     exactly as encoding/json sees the key in the frame (absent, null,
//     something);
//   - the scanner finds the Message's id whenever DecodeFrame returns a
//     Message, and finds none when it returns an Ack;
//   - a redacted dump is short, valid UTF-8, and shows no space, '@', '/'
//     or backslash (names, URIs, escapes).
func FuzzDecodeFrame(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		f.Fatalf("captures not found in %s: %v", captureDir, err)
	}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 0; sc.Scan(); n++ {
			line := bytes.Clone(sc.Bytes())
			f.Add(line)
			if n%10 == 0 {
				// Broken variants: cut short, a stray byte, no envelope type.
				f.Add(line[:len(line)/2])
				f.Add(append(bytes.Clone(line[:len(line)/3]), append([]byte{'x'}, line[len(line)/3:]...)...))
				f.Add(bytes.Replace(line, []byte(`"type":"message"`), []byte(`"type":null`), 1))
			}
		}
		fh.Close()
	}
	for _, s := range []string{
		`{"type":"messageAck","messageAck":{"messageId":3,"status":"success"}}`,
		`{"type":"message","message":{"messageId":5,"type":"callListUpdate","subscriptionIndex":1,"updates":[{"call":42},{"call":"c","name":null,"participants":"x"}]}}`,
		`{"type":"message","message":{"messageId":6,"type":"subscriptionUpdate","subscriptions":[{"index":1,"state":"active"}]}}`,
		`{"type":"message","message":{"messageId":7,"type":"callInfoUpdate","subscriptionIndex":2,"callInfo":{"name":"\u0041","joinAudioMuteOverride":null}}}`,
		`{"type":"message","Message":{"MessageId":8,"messageId":9,"type":"rosterUpdate","updates":[{"participant":"p","NAME":"n","name":null}]}}`,
		// Shapes the fast decoder takes, and near misses it must leave.
		`{"message":{"updates":[{"participant":"p","updateType":"add","name":"a \"b\" \\ \/ \t\n","importance":-0}],"type":"rosterUpdate","messageId":10},"type":"message","date":"x"}`,
		`{"type":"message","message":{"messageId":11,"type":"subscribeRequest","subscriptions":[{"index":1,"type":"calls","elements":["name",""]},{"index":2,"type":"callRoster","call":"c","elements":[]}]}}`,
		`{"type":"message","message":{"messageId":12,"type":"callListUpdate","updates":[],"extra":{"a":[1,2.5e-3,{"b":null}],"c":"\u00e9"}}}`,
		`{"type":"message","message":{"messageId":13,"type":"callListUpdate","updates":null,"subscriptionIndex":3}}`,
		`{"type":"message","message":{"messageId":14,"type":"rosterUpdate","updates":[{"participant":"p","updateType":"update","audioMuted":true,"importance":1e400}]}}`,
		`{"type":"message","message":{"messageId":15,"type":"rosterUpdate","updates":[{"participant":"p","updateType":"update","name":"\u212a","Key":1,"ſtate":"x","UPDATETYPE":"add"}]}}`,
		`{"type":"message","message":{"messageId":16,"type":"callListUpdate","updates":[{"call":"c","updateType":"update","participants":1.0,"distributedInstances":9223372036854775808}]}}`,
		`{"type":"messageAck","messageAck":{"messageId":17,"status":"success","detail":[]},"message":{"x":1}}`,
		`{"type":"message","message":{"messageId":18,"type":"subscriptionUpdate","subscriptions":[{"index":1,"state":"active"},{"index":2,"state":null}]}}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		checkSameAsStd(t, data, fr, err)
		checkStringEnds(t, data)
		id, ok := scanMessageID(data)
		if d := redactFrame(data, redactedFrameLen); !utf8.ValidString(d) || len(d) > 2*redactedFrameLen {
			t.Fatalf("redacted dump of %d bytes, valid UTF-8 %v: %q", len(d), utf8.ValidString(d), d)
		} else if strings.ContainsAny(d, " @/\\") {
			// Names have spaces, URIs '@' or '/': none may get through.
			t.Fatalf("redacted dump shows a name or address: %q", d)
		}
		if fr == nil {
			return
		}
		if fr.Ack != nil && ok {
			t.Fatalf("scanner found id %d in an ack frame", id)
		}
		m := fr.Message
		if m == nil {
			return
		}
		if !ok || id != m.MessageID {
			t.Fatalf("scanner: %d, %v; DecodeFrame: messageId %d (err %v)", id, ok, m.MessageID, err)
		}
		if err != nil {
			return
		}
		enc, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("a message decoded without error does not encode: %v", err)
		}
		fr2, err := DecodeFrame(enc)
		if err != nil {
			t.Fatalf("its encoding does not decode: %v\n%s", err, enc)
		}
		enc2, err := EncodeMessage(fr2.Message)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable (err %v):\n%s\n%s", err, enc, enc2)
		}
		checkFieldStates(t, data, m)
	})
}

// checkSameAsStd holds the fast decoder to the reference: whatever
// decodeFrameFast takes, decodeFrameStd decodes without error into a deeply
// equal Frame; and DecodeFrame, fast or not, answers exactly as the
// reference, down to the error's text. The text, not only the reason, can
// be required because the fast path never makes an error of its own: every
// error comes from the reference.
func checkSameAsStd(t *testing.T, data []byte, fr *Frame, err error) {
	t.Helper()
	want, wantErr := decodeFrameStd(data)
	if fast, ok := decodeFrameFast(data); ok {
		if wantErr != nil {
			t.Fatalf("fast path took a frame the reference refuses (%v):\n%q", wantErr, data)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("fast path: %s\nreference: %s\nframe: %q", dumpFrame(fast), dumpFrame(want), data)
		}
	}
	if !reflect.DeepEqual(fr, want) {
		t.Fatalf("DecodeFrame: %s\nreference: %s\nframe: %q", dumpFrame(fr), dumpFrame(want), data)
	}
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("DecodeFrame error %v, reference %v", err, wantErr)
	case err != nil && err.Error() != wantErr.Error():
		t.Fatalf("DecodeFrame error %q, reference %q", err, wantErr)
	}
}

// checkStringEnds holds the scanner's string skipping, which jumps from
// quote to quote, to the plain byte loop it replaced, from every quote of
// data. Both scan from every quote to the string's end, quadratic in the
// worst case (a run of escaped quotes): inputs over 4 KiB are left out so
// the fuzzer does not stall on them.
func checkStringEnds(t *testing.T, data []byte) {
	t.Helper()
	if len(data) > 4<<10 {
		return
	}
	for start, c := range data {
		if c != '"' {
			continue
		}
		want, wantTok := len(data), tokError
		for p := start + 1; p < len(data); p++ {
			if data[p] == '\\' {
				p++
				continue
			}
			if data[p] == '"' {
				want, wantTok = p+1, tokString
				break
			}
		}
		sc := jsonScanner{data: data, pos: start}
		tok, s, e := sc.next()
		if tok != wantTok || s != start || e != want || sc.pos != want {
			t.Fatalf("string at %d: token %v [%d, %d) pos %d, want %v ending at %d: %q", start, tok, s, e, sc.pos, wantTok, want, data)
		}
	}
}

// dumpFrame shows a Frame with its pointers followed.
func dumpFrame(f *Frame) string {
	if f == nil {
		return "<nil>"
	}
	var sb strings.Builder
	if f.Ack != nil {
		fmt.Fprintf(&sb, "ack %+v ", *f.Ack)
	}
	if m := f.Message; m != nil {
		fmt.Fprintf(&sb, "message %+v", *m)
		if m.SubscriptionIndex != nil {
			fmt.Fprintf(&sb, " index %d", *m.SubscriptionIndex)
		}
		if m.CallInfo != nil {
			fmt.Fprintf(&sb, " callInfo %+v", *m.CallInfo)
		}
		fmt.Fprintf(&sb, " nil lists: %v %v %v %v", m.Subscriptions == nil, m.Statuses == nil,
			m.CallUpdates == nil, m.RosterUpdates == nil)
	}
	return sb.String()
}

// checkFieldStates compares the state of every Field of every update of m
// with what encoding/json itself sees in the frame under the same tag
// (same key matching, same last-wins): no key, JSON null, anything else.
func checkFieldStates(t *testing.T, data []byte, m *Message) {
	var env struct {
		Message struct {
			Updates  []json.RawMessage `json:"updates"`
			CallInfo json.RawMessage   `json:"callInfo"`
		} `json:"message"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("a frame DecodeFrame took is not JSON to encoding/json: %v", err)
	}
	var got []reflect.Value
	switch m.Type {
	case TypeCallListUpdate:
		for i := range m.CallUpdates {
			got = append(got, reflect.ValueOf(&m.CallUpdates[i]).Elem())
		}
	case TypeRosterUpdate:
		for i := range m.RosterUpdates {
			got = append(got, reflect.ValueOf(&m.RosterUpdates[i]).Elem())
		}
	}
	raws := env.Message.Updates
	if m.CallInfo != nil {
		got = append(got, reflect.ValueOf(m.CallInfo).Elem())
		raws = []json.RawMessage{env.Message.CallInfo}
	}
	if len(got) != len(raws) {
		if len(got) == 0 {
			return // a type whose updates are not decoded
		}
		t.Fatalf("%d updates decoded, %d in the frame", len(got), len(raws))
	}
	for i, v := range got {
		fields := fieldsOf(v)
		mirror := reflect.New(mirrorType(fields))
		if err := json.Unmarshal(raws[i], mirror.Interface()); err != nil {
			t.Fatalf("update %d: mirror: %v", i, err)
		}
		for j, f := range fields {
			raw := mirror.Elem().Field(j).Bytes()
			state := FieldState(f.value.FieldByName("State").Uint())
			want := Valid
			switch {
			case len(raw) == 0:
				want = Absent
			case string(bytes.TrimSpace(raw)) == "null":
				want = Null
			}
			if state != want && !(want == Valid && state == Invalid) {
				t.Fatalf("update %d: %s is %v, but the frame has %q", i, f.tag, state, raw)
			}
		}
	}
}

type fieldRef struct {
	tag   string
	value reflect.Value
}

// fieldsOf lists the Field[T] members of an update, embedded ones included.
func fieldsOf(v reflect.Value) []fieldRef {
	var out []fieldRef
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if sf.Anonymous {
			out = append(out, fieldsOf(v.Field(i))...)
			continue
		}
		if !strings.HasPrefix(sf.Type.Name(), "Field[") {
			continue
		}
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		out = append(out, fieldRef{tag: tag, value: v.Field(i)})
	}
	return out
}

// mirrorType is a struct with one json.RawMessage per field, under the same
// JSON names, so encoding/json tells what it sees under each.
func mirrorType(fields []fieldRef) reflect.Type {
	sfs := make([]reflect.StructField, len(fields))
	for i, f := range fields {
		sfs[i] = reflect.StructField{
			Name: "F" + strings.Repeat("x", i), Type: reflect.TypeFor[json.RawMessage](),
			Tag: reflect.StructTag(`json:"` + f.tag + `"`),
		}
	}
	return reflect.StructOf(sfs)
}
