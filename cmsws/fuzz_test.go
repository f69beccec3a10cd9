package cmsws

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
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
