package cmsws

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// captureFrames returns every line of the recorded CMS traffic.
func captureFrames(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("captures not found in %s: %v", captureDir, err)
	}
	var frames [][]byte
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			frames = append(frames, bytes.Clone(sc.Bytes()))
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return frames
}

// The fast path exists for the traffic CMS sends: it must take every
// captured frame itself, and give what the reference gives.
func TestDecodeFrameFastTakesCaptures(t *testing.T) {
	for i, line := range captureFrames(t) {
		fast, ok := decodeFrameFast(line)
		if !ok {
			t.Fatalf("frame %d left to the reference: %s", i, line)
		}
		want, err := decodeFrameStd(line)
		if err != nil || !reflect.DeepEqual(fast, want) {
			t.Fatalf("frame %d: fast %s\nreference %s (%v)", i, dumpFrame(fast), dumpFrame(want), err)
		}
	}
}

// Frames the fast path must decode itself, each a variation CMS may send
// (other key orders, escapes, nulls, unknown keys), and decode exactly as
// encoding/json.
func TestDecodeFrameFastTakes(t *testing.T) {
	for _, frame := range []string{
		`{"type":"messageAck","messageAck":{"messageId":3,"status":"success"}}`,
		`{"messageAck":{"status":"success","messageId":-3,"extra":{"a":[]}},"type":"messageAck"}`,
		`{"type":"messageAck","messageAck":{}}`,
		// The envelope's type after its message: decoded afterwards.
		`{"message":{"messageId":4,"type":"rosterUpdate","updates":[{"participant":"p","updateType":"add"}]},"type":"message"}`,
		// The message's type after its updates.
		`{"type":"message","message":{"updates":[{"call":"c","updateType":"update","participants":2}],"messageId":5,"type":"callListUpdate"}}`,
		`{"type":"message","message":{"subscriptions":[{"index":1,"state":"active"}],"type":"subscriptionUpdate","messageId":6}}`,
		" \t\r\n{ \"type\" : \"message\" , \"message\" : { \"messageId\" : 7 , \"type\" : \"callInfoUpdate\" , \"callInfo\" : { } } } \n",
		`{"type":"message","message":{"messageId":8,"type":"rosterUpdate","updates":[]}}`,
		`{"type":"message","message":{"messageId":9,"type":"rosterUpdate","updates":null}}`,
		`{"type":"message","message":{"messageId":10,"type":"rosterUpdate"}}`,
		`{"type":"message","message":{"messageId":11,"type":"somethingNew","updates":{"x":[1,{"y":"\u00e9\ud83d\ude00"}]},"subscriptions":5}}`,
		`{"type":"message","message":{"messageId":12,"type":"rosterUpdate","updates":[{"participant":"p","updateType":"update","name":"Participant \"001\" \\ \/ \b\f\n\r\t","uri":"é€😀","importance":-0,"audioMuted":null,"layout":null}]}}`,
		`{"type":"message","message":{"messageId":13,"type":"rosterUpdate","updates":[{"participant":"p","importance":1.5e-3},{"participant":"q","importance":123456789012345678},{"participant":"r","importance":-7}]}}`,
		`{"type":"message","message":{"messageId":14,"type":"callInfoUpdate","subscriptionIndex":2,"callInfo":{"joinAudioMuteOverride":null,"participants":-9223372036854775808,"name":""}}}`,
		`{"type":"message","message":{"messageId":15,"type":"subscribeRequest","subscriptions":[{"index":1,"type":"calls","elements":["name"]},{"index":2,"type":"callRoster","call":"c","elements":[]},{"index":3}]}}`,
		`{"type":"message","message":{"messageId":16,"type":"callListUpdate","updates":[{"call":"a","updateType":"add"},{"call":"b"},{"call":"c"},{"call":"d"},{"call":"e"},{"call":"f"}]}}`,
		`{"type":"message","message":{"messageId":17,"type":"rosterUpdate","updates":[{"participant":"p","deep":[[[[[[[[[[{"a":[true,false,null,0,-1.5E+7]}]]]]]]]]]]}]}}`,
		`{"type":"message","message":{"messageId":19,"type":"rosterUpdate","updates":[{"participant":"\u0070\u00e9\u20AC\ud83d\ude00\u0000","name":"Jos\u00e9 \u003cM\u0026M\u003e","uri":"\ufffd"}]}}`,
		`{"type":"message","date":"2020-06-02T09:17:55","message":{"messageId":18,"type":"callListUpdate","updates":[{"call":"c","updateType":"remove","reason":"timeout"}]}}`,
	} {
		fast, ok := decodeFrameFast([]byte(frame))
		if !ok {
			t.Errorf("left to the reference: %s", frame)
			continue
		}
		want, err := decodeFrameStd([]byte(frame))
		if err != nil || !reflect.DeepEqual(fast, want) {
			t.Errorf("%s\nfast %s\nreference %s (%v)", frame, dumpFrame(fast), dumpFrame(want), err)
		}
	}
}

// Frames the fast path must leave to the reference, each for a reason it
// cannot be sure of; DecodeFrame must still answer exactly as the
// reference, error text included.
func TestDecodeFrameFastLeaves(t *testing.T) {
	deep := `{"type":"message","message":{"messageId":1,"x":` + strings.Repeat("[", maxSkipDepth+1) + strings.Repeat("]", maxSkipDepth+1) + `}}`
	for _, c := range []struct{ why, frame string }{
		{"syntax error", `{"type":"message","message":{"messageId":1,}}`},
		{"trailing garbage", `{"type":"message","message":{"messageId":1}} x`},
		{"two values", `{"type":"message","message":{"messageId":1}}{}`},
		{"cut short", `{"type":"message","message":{"messageId":1`},
		{"not an object", `[{"type":"message"}]`},
		{"folded envelope key", `{"Type":"message","message":{"messageId":1}}`},
		{"folded message key", `{"type":"message","message":{"MessageId":1}}`},
		{"folded entry key", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"p","NAME":"n"}]}}`},
		{"kelvin sign", "{\"type\":\"message\",\"message\":{\"messageId\":1,\"type\":\"rosterUpdate\",\"updates\":[{\"participant\":\"p\",\"\u212aind\":1}]}}"},
		{"long s", "{\"type\":\"message\",\"message\":{\"messageId\":1,\"type\":\"rosterUpdate\",\"updates\":[{\"participant\":\"p\",\"\u017ftate\":\"x\"}]}}"},
		{"escaped key", `{"type":"message","message":{"message\u0049d":1}}`},
		{"duplicate key", `{"type":"message","message":{"messageId":1,"messageId":2}}`},
		{"duplicate field", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"p","name":"a","name":null}]}}`},
		{"duplicate envelope type", `{"type":"message","type":"message","message":{"messageId":1}}`},
		{"null non-field", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":null}]}}`},
		{"null index", `{"type":"message","message":{"messageId":1,"subscriptionIndex":null}}`},
		{"null callInfo", `{"type":"message","message":{"messageId":1,"callInfo":null}}`},
		{"null elements", `{"type":"message","message":{"messageId":1,"type":"subscribeRequest","subscriptions":[{"index":1,"elements":null}]}}`},
		{"null type", `{"type":null,"message":{"messageId":1}}`},
		{"wrong field type", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"p","audioMuted":"yes"}]}}`},
		{"integer with fraction", `{"type":"message","message":{"messageId":1,"type":"callListUpdate","updates":[{"call":"c","participants":1.0}]}}`},
		{"integer with exponent", `{"type":"message","message":{"messageId":1e3}}`},
		{"int64 overflow", `{"type":"message","message":{"messageId":9223372036854775808}}`},
		{"float overflow", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"importance":1e400}]}}`},
		{"leading zero", `{"type":"message","message":{"messageId":01}}`},
		{"lone high surrogate", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"\ud83dx"}]}}`},
		{"lone low surrogate", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"\ude00\ud83d"}]}}`},
		{"high surrogate, then not a low one", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"\ud83d\u0041"}]}}`},
		{"bad hex", `{"type":"message","message":{"messageId":1,"type":"rosterUpdate","updates":[{"participant":"\u00g0"}]}}`},
		{"invalid UTF-8", "{\"type\":\"message\",\"message\":{\"messageId\":1,\"type\":\"\xff\"}}"},
		{"control byte", "{\"type\":\"message\",\"message\":{\"messageId\":1,\"type\":\"a\tb\"}}"},
		{"bad entry", `{"type":"message","message":{"messageId":1,"type":"callListUpdate","updates":[{"call":42},{"call":"c"}]}}`},
		{"updates not a list", `{"type":"message","message":{"messageId":1,"type":"callListUpdate","updates":{}}}`},
		{"missing messageId", `{"type":"message","message":{"type":"callListUpdate"}}`},
		{"missing message", `{"type":"message"}`},
		{"missing ack body", `{"type":"messageAck"}`},
		{"unknown envelope", `{"type":"gossip","message":{"messageId":1}}`},
		{"bad ack in a message envelope", `{"type":"message","message":{"messageId":1},"messageAck":{"messageId":"x"}}`},
		{"too deep", deep},
		{"bad skipped escape", `{"type":"message","message":{"messageId":1,"x":"\q"}}`},
		{"bad skipped literal", `{"type":"message","message":{"messageId":1,"x":nul}}`},
	} {
		if f, ok := decodeFrameFast([]byte(c.frame)); ok {
			t.Errorf("%s: fast path took %s: %s", c.why, c.frame, dumpFrame(f))
			continue
		}
		got, err := DecodeFrame([]byte(c.frame))
		want, wantErr := decodeFrameStd([]byte(c.frame))
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("%s: DecodeFrame %s (%v), reference %s (%v)", c.why, dumpFrame(got), err, dumpFrame(want), wantErr)
		}
	}
}

// A rosterUpdate or callListUpdate of one entry, the commonest frames,
// cost a handful of allocations: the Frame with its Message and index, the
// slice, and the strings that are not values CMS repeats.
func TestDecodeFrameFastAllocations(t *testing.T) {
	for _, c := range []struct {
		frame string
		max   float64
	}{
		// Frame block, slice, participant id, name, uri.
		{`{"type":"message","message":{"messageId":6,"type":"rosterUpdate","subscriptionIndex":1,"updates":[{"participant":"a54f9ec3-6604-4cb1-bf7c-5afe20b2f0e2","updateType":"add","name":"Participant 001","uri":"user001@example.org","state":"initial","direction":"outgoing","canMove":false,"audioMuted":false,"videoMuted":false,"importance":null,"layout":"onePlusFive","activeSpeaker":false,"presenter":false,"endpointRecording":"inactive"}]}}`, 5},
		// Frame block, slice, call id, correlator, name.
		{`{"type":"message","message":{"messageId":3,"type":"callListUpdate","subscriptionIndex":3,"updates":[{"call":"835b808c-eb3d-4b6f-b82b-c312eb86cba0","updateType":"add","callCorrelator":"ffe3cfd2-deb1-4050-9133-f02e57af45b6","name":"Space 001","participants":0,"distributedInstances":0,"streaming":"inactive","recording":"active","endpointRecording":"inactive","lockState":"locked","callType":"coSpace"}]}}`, 5},
		// Frame block, slice.
		{`{"type":"message","message":{"messageId":8,"type":"rosterUpdate","subscriptionIndex":1,"updates":[{"participant":"","updateType":"update","activeSpeaker":true}]}}`, 2},
		// Frame block.
		{`{"type":"messageAck","messageAck":{"messageId":3,"status":"success"}}`, 1},
	} {
		frame := []byte(c.frame)
		allocs := testing.AllocsPerRun(100, func() {
			if _, ok := decodeFrameFast(frame); !ok {
				t.Fatalf("left to the reference: %s", frame)
			}
		})
		if allocs > c.max {
			t.Errorf("%v allocations, want at most %v: %s", allocs, c.max, frame)
		}
	}
}
