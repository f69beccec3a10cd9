package cmsws

import (
	"runtime"
	"testing"
)

func TestScanMessageID(t *testing.T) {
	const none = -1 // no id expected
	cases := []struct {
		name  string
		frame string
		want  int64
	}{
		{"plain", `{"type":"message","message":{"messageId":7,"type":"callListUpdate"}}`, 7},
		{"id after other keys", `{"type":"message","message":{"type":"rosterUpdate","subscriptionIndex":1,"updates":[],"messageId":12}}`, 12},
		{"envelope type after message", `{"message":{"messageId":3},"type":"message"}`, 3},
		{"negative", `{"type":"message","message":{"messageId":-4}}`, -4},
		{"truncated after the id", `{"type":"message","message":{"messageId":8,"type":"callListUpdate","updates":[{"call":"ab`, 8},
		{"stray byte", `{"type":"message","message":{"messageId":9,"type":"callListUpdate"x,"updates":[]}}`, 9},
		{"type null", `{"type":null,"message":{"messageId":10,"type":"callListUpdate"}}`, 10},
		{"type missing", `{"message":{"messageId":11,"type":"callListUpdate"}}`, 11},
		{"folded key", `{"type":"message","Message":{"MESSAGEID":13}}`, 13},
		{"escaped key", `{"type":"message","message":{"message\u0049d":14}}`, 14},
		{"last wins", `{"type":"message","message":{"messageId":1,"messageId":2}}`, 2},
		{"last message wins", `{"type":"message","message":{"messageId":1},"message":{"messageId":5}}`, 5},
		{"whitespace", " {\n \"type\" : \"message\" ,\t\"message\" : { \"messageId\" : 15 } } ", 15},
		{"trailing garbage", `{"type":"message","message":{"messageId":16}} {"message":{"messageId":99}}`, 16},

		{"ack", `{"type":"messageAck","messageAck":{"messageId":3,"status":"success"}}`, none},
		{"broken ack", `{"type":"messageAck","messageAck":{"messageId":3,"status":`, none},
		{"ack type with a message", `{"type":"messageAck","message":{"messageId":3}}`, none},
		{"other envelope", `{"type":"gossip","message":{"messageId":1}}`, none},
		{"id in a name", `{"type":"message","message":{"type":"rosterUpdate","updates":[{"name":"\",\"messageId\":66,\""}]`, none},
		{"id key in a string value", `{"type":"message","message":{"type":"x\"messageId\":5"}}`, none},
		{"nested id", `{"type":"message","message":{"type":"rosterUpdate","updates":[{"messageId":5}]}}`, none},
		{"id outside message", `{"type":"message","messageId":5,"message":{"type":"x"}}`, none},
		{"message in updates", `{"type":"message","message":{"updates":[{"message":{"messageId":5}}]}}`, none},
		{"cut number", `{"type":"message","message":{"messageId":12`, none},
		{"float", `{"type":"message","message":{"messageId":1.5}}`, none},
		{"string id", `{"type":"message","message":{"messageId":"5"}}`, none},
		{"null id", `{"type":"message","message":{"messageId":null}}`, none},
		{"overflow", `{"type":"message","message":{"messageId":99999999999999999999}}`, none},
		{"null message", `{"type":"message","message":{"messageId":1},"message":null}`, none},
		{"message array", `{"type":"message","message":[{"messageId":1}]}`, none},
		{"top-level array", `[{"message":{"messageId":1}}]`, none},
		{"empty", ``, none},
		{"only closers", `}}]]`, none},
		{"unterminated string before", `{"type":"message","message":{"type":"a\`, none},
	}
	for _, c := range cases {
		id, ok := scanMessageID([]byte(c.frame))
		switch {
		case c.want == none && ok:
			t.Errorf("%s: found id %d in %s, want none", c.name, id, c.frame)
		case c.want != none && (!ok || id != c.want):
			t.Errorf("%s: got %d, %v from %s; want %d", c.name, id, ok, c.frame, c.want)
		}
	}
}

// The scanner is meant for the read path of every frame: it must not
// allocate on the frames CMS sends.
func TestScanMessageIDDoesNotAllocate(t *testing.T) {
	frame := []byte(`{"type":"message","message":{"messageId":123456,"type":"rosterUpdate","subscriptionIndex":1,"updates":[{"participant":"a54f9ec3","updateType":"add","name":"Participant \"001\""}]}}`)
	allocs := testing.AllocsPerRun(100, func() {
		if id, ok := scanMessageID(frame); !ok || id != 123456 {
			t.Fatalf("got %d, %v", id, ok)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per scan, want 0", allocs)
	}
}

func BenchmarkScanMessageID(b *testing.B) {
	frame := []byte(`{"type":"message","message":{"messageId":123456,"type":"rosterUpdate","subscriptionIndex":1,"updates":[{"participant":"a54f9ec3-6604-4cb1-bf7c-5afe20b2f0e2","updateType":"add","name":"","uri":"user001@example.org","state":"initial","audioMuted":false,"videoMuted":false,"importance":null,"layout":"allEqual","activeSpeaker":false,"presenter":false}]}}`)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		scanMessageID(frame)
	}
}

// BenchmarkScanMessageIDCaptures scans every captured frame (one op scans
// them all): what acking before decoding costs on real traffic.
func BenchmarkScanMessageIDCaptures(b *testing.B) {
	frames := captureFrames(b)
	var size int64
	for _, f := range frames {
		size += int64(len(f))
	}
	b.SetBytes(size)
	for b.Loop() {
		for _, f := range frames {
			if _, ok := scanMessageID(f); !ok {
				b.Fatalf("no id in %s", f)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(frames)), "ns/msg")
}

// BenchmarkDecodeFrame measures what every message pays on the read path,
// with encoding/json (std, the reference) and with DecodeFrame (fast, the
// purpose-built decoder and its fallback):
//   - captures: every line of testdata/cms-capture, one op decoding them all;
//     ns/msg, allocs/msg and MB/s are per frame, whatever the op;
//   - roster5: a capture-shaped rosterUpdate of five entries.
func BenchmarkDecodeFrame(b *testing.B) {
	entry := `{"participant":"a54f9ec3-6604-4cb1-bf7c-5afe20b2f0e2","updateType":"update","activeSpeaker":true,"audioMuted":false,"importance":null}`
	roster5 := []byte(`{"type":"message","message":{"messageId":123456,"type":"rosterUpdate","subscriptionIndex":1,"updates":[` +
		entry + "," + entry + "," + entry + "," + entry + "," + entry + `]}}`)
	sets := []struct {
		name   string
		frames [][]byte
	}{
		{"captures", captureFrames(b)},
		{"roster5", [][]byte{roster5}},
	}
	decoders := []struct {
		name   string
		decode func([]byte) (*Frame, error)
	}{
		{"std", decodeFrameStd},
		{"fast", DecodeFrame},
	}
	for _, set := range sets {
		var size int64
		for _, f := range set.frames {
			size += int64(len(f))
		}
		for _, dec := range decoders {
			b.Run(set.name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for b.Loop() {
					for _, f := range set.frames {
						if _, err := dec.decode(f); err != nil {
							b.Fatal(err)
						}
					}
				}
				runtime.ReadMemStats(&after)
				msgs := float64(b.N) * float64(len(set.frames))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/msgs, "allocs/msg")
			})
		}
	}
}
