package cmsws_test

import (
	"fmt"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// TestPipelinedServerGetsEveryAckInOrder: against a server that sends up
// to 64 messages without waiting for acks, a burst of 400 calls' adds is
// read whole and every message acked, in order (the fake counts any ack
// out of order or missing as a protocol violation), with acks of a burst
// sharing writes.
func TestPipelinedServerGetsEveryAckInOrder(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Seed: 3, AckWindow: 64})
	for i := range 400 {
		if _, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: fmt.Sprintf("space %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	startClient(t, clientConfig(c, rec))
	rec.waitUntil(t, "the snapshot of every call", func(evs []cmsws.Event) bool {
		calls := map[string]bool{}
		for _, ev := range evs {
			if ev.Kind == cmsws.EventMessage && ev.Message.Type == cmsws.TypeCallListUpdate {
				for _, u := range ev.Message.CallUpdates {
					calls[u.Call] = true
				}
			}
		}
		return len(calls) == 400
	})
	waitIdle(t, c)
	noViolations(t, nodeStats(c))
	var last int64
	for _, ev := range rec.all() {
		if ev.Kind == cmsws.EventMessage {
			if ev.Message.MessageID != last+1 {
				t.Fatalf("message %d after %d", ev.Message.MessageID, last)
			}
			last = ev.Message.MessageID
		}
		if ev.Kind == cmsws.EventMessageError {
			t.Errorf("message error: %v", ev.Err)
		}
	}
}
