package cmsws

import (
	"encoding/json"
	"math"
	"testing"
)

// TestAppendAckIsEncodingJSON: the hand-built ack is byte for byte what
// encoding/json makes of the same envelope, for plain and awkward statuses.
func TestAppendAckIsEncodingJSON(t *testing.T) {
	for _, id := range []int64{0, 1, 42, -7, math.MaxInt64, math.MinInt64} {
		for _, status := range []string{AckSuccess, "", "failure", `quo"te`, `back\\slash`, "tab\t", "<&>", "naïve", "\x7f", "\xff"} {
			want, err := json.Marshal(struct {
				Type       string `json:"type"`
				MessageAck Ack    `json:"messageAck"`
			}{EnvelopeMessageAck, Ack{MessageID: id, Status: status}})
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendAck([]byte("prefix"), id, status); string(got) != "prefix"+string(want) {
				t.Errorf("AppendAck(%d, %q) = %s, want %s", id, status, got[len("prefix"):], want)
			}
		}
	}
}

func TestAppendAckDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf = AppendAck(buf[:0], 123456789, AckSuccess) }); n != 0 {
		t.Errorf("%v allocations per ack, want 0", n)
	}
}
