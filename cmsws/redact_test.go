package cmsws

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// No name, URI or call name of the captures survives redaction, however
// long the dump may be; the protocol words and ids do.
func TestRedactFrameCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("captures: %v", err)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			for _, keep := range []int{len(line), len(line) * 2 / 3, len(line) / 3} {
				got := redactFrame(line[:keep], 1<<20)
				for _, secret := range []string{"Participant ", "@example.org", "Space ", "user0"} {
					if strings.Contains(got, secret) {
						t.Fatalf("%s:%d: %q survived: %s", filepath.Base(f), n, secret, got)
					}
				}
			}
			if got := redactFrame(line, 1<<20); !strings.Contains(got, `"type":"message"`) || !strings.Contains(got, `"updateType"`) && !strings.Contains(got, `"callInfo"`) {
				t.Fatalf("%s:%d: protocol words lost: %s", filepath.Base(f), n, got)
			}
		}
		fh.Close()
	}
}

func TestRedactFrameBroken(t *testing.T) {
	cases := []string{
		`{"name":"Al"ice Example","uri":"alice@example.org","state":"Bob Smith"x}`,
		`{"name":"Alice Exa`,
		`{"name":"Alice \"Ex\" Ample","displayName":"Alice"}`,
		`["Alice Example", "alice@example.org"]`,
		`{"updates":[{"remoteParty":"sip:alice@10.1.2.3"}],"callerIdName":Alice Example}`,
		`{"Alice Example":1,"alice@example.org":2}`,
		"{\"name\":\"Al\xffice Example\"}",
	}
	for _, c := range cases {
		got := redactFrame([]byte(c), 1<<20)
		for _, secret := range []string{"Alice", "alice", "Bob", "Ample", "Exa", "ice Ex"} {
			if strings.Contains(got, secret) {
				t.Errorf("%q → %q: %q survived", c, got, secret)
			}
		}
	}
	if got := redactFrame([]byte(strings.Repeat(`{"state":"connected"},`, 100)), 120); len(got) > 140 {
		t.Errorf("dump of %d bytes, want about 120: %s", len(got), got)
	}
}

func BenchmarkRedactFrame(b *testing.B) {
	frame := []byte(`{"type":"message","message":{"messageId":123456,"type":"rosterUpdate","subscriptionIndex":1,"updates":[{"participant":"a54f9ec3-6604-4cb1-bf7c-5afe20b2f0e2","updateType":"add","name":"Participant 001","uri":"user001@example.org","state":"initial","audioMuted":false,"videoMuted":false,"importance":null,"layout":"allEqual","activeSpeaker":false,"presenter":false}]}}`)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		redactFrame(frame, redactedFrameLen)
	}
}
