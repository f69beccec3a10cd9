package cmswstest

import (
	"fmt"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// An injected numbered message takes the connection's next messageId, on
// the index of the subscription asked for, only on connections holding
// one; numbering goes on after it, and the client's ack of it is no
// violation.
func TestInjectInSequence(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 1})
	calls := dial(t, c, "cms1", true)
	calls.expectSubscribed(calls.subscribe(callsSub(7)))
	bare := dial(t, c, "cms1", true)
	waitIdle(t, c)

	frame := func(id int64, index int) []byte {
		return fmt.Appendf(nil, `{"type":"message","message":{"messageId":%d,"type":"callListUpdate","subscriptionIndex":%d,"updates":[{"call":"nobody","updateType":"update","participants":"garbage"}]}}`, id, index)
	}
	if n := c.InjectInSequence("cms1", cmsws.ResourceCalls, frame); n != 1 {
		t.Fatalf("injected into %d connections, want only the one with a calls subscription", n)
	}
	m := calls.msg(cmsws.TypeCallListUpdate)
	if m.MessageID != 3 || m.SubscriptionIndex == nil || *m.SubscriptionIndex != 7 || m.CallUpdates[0].Participants.State != cmsws.Invalid {
		t.Fatalf("injected message arrived as %+v, want id 3 on index 7", m)
	}
	must[string](t)(c.StartMeeting("cms1", MeetingOptions{Name: "S"}))
	if m := calls.msg(cmsws.TypeCallListUpdate); m.MessageID != 4 {
		t.Fatalf("next message id %d, want 4", m.MessageID)
	}
	calls.msg(cmsws.TypeCallListUpdate)

	if n := c.InjectInSequence("cms1", "", func(id int64, index int) []byte {
		if index != NoSubscription {
			t.Errorf("index %d for resource \"\", want NoSubscription", index)
		}
		return fmt.Appendf(nil, `{"type":"message","message":{"messageId":%d,"type":"futureUpdate"}}`, id)
	}); n != 2 {
		t.Fatalf("injected into %d connections, want both", n)
	}
	if m := bare.msg("futureUpdate"); m.MessageID != 1 {
		t.Fatalf("the bare connection's first message has id %d, want 1", m.MessageID)
	}
	calls.msg("futureUpdate")
	waitIdle(t, c)
	if v := c.Stats().Nodes["cms1"].Violations(); v != 0 {
		t.Fatalf("the acks of the injected messages counted as %d violations", v)
	}
}
