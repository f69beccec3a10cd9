package collector

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// logLines is a go-kit logger that keeps every line's keyvals.
type logLines struct {
	mu    sync.Mutex
	lines [][]any
}

func (l *logLines) Log(kv ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, kv)
	return nil
}

// count returns how many lines have msg, and the text of all lines.
func (l *logLines) count(msg string) (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	var all strings.Builder
	for _, kv := range l.lines {
		fmt.Fprintln(&all, kv...)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == "msg" && kv[i+1] == msg {
				n++
			}
		}
	}
	return n, all.String()
}

// A server flooding updates for calls the model does not hold (or with
// invalid values) is counted in full but logged a few times per node and
// reason, then summed up once a minute; an invalid value in a log line is
// cut short, since it may be anything a participant typed.
func TestModelWarningsAreRateLimitedPerNode(t *testing.T) {
	logs := &logLines{}
	h := newHarness(t, Options{Logger: logs})
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
		h.synced(n)
	}
	const flood = 200
	for i := range flood {
		h.calls("a", upd(fmt.Sprintf("ghost-%d", i), participants(1)))
		h.calls("b", upd(fmt.Sprintf("ghost-%d", i), participants(1)))
	}
	if got := h.value("cms_events_message_errors_total", "node", "a", "reason", reasonUnknownCall); got != flood {
		t.Fatalf("node a counted %v unknown-call updates, want %d", got, flood)
	}
	const msg = "callListUpdate for a call the model does not hold ignored"
	if n, all := logs.count(msg); n != 10 {
		t.Fatalf("%d warning lines for %d unknown-call updates on 2 nodes, want 5 per node\n%s", n, 2*flood, all)
	}
	h.advance(2 * forgetCheckInterval)
	if n, all := logs.count("repeated warnings suppressed"); n != 2 || !strings.Contains(all, "node a msg repeated warnings suppressed") {
		t.Fatalf("%d summary lines after the flood, want one per node\n%s", n, all)
	}

	h.calls("a", add("real", "m-real", participants(1)))
	secret := `"Zebediah Confidential, Head of Mergers and Acquisitions"`
	bad := upd("real")
	bad.Participants = cmsws.Field[int]{State: cmsws.Invalid, Raw: secret}
	h.calls("a", bad)
	if got := h.value("cms_events_message_errors_total", "node", "a", "reason", reasonInvalidValue); got != 1 {
		t.Fatalf("invalid value counted %v times, want 1", got)
	}
	if _, all := logs.count(""); strings.Contains(all, "Acquisitions") || !strings.Contains(all, "Zebediah") {
		t.Fatalf("the invalid value is not logged cut short:\n%s", all)
	}
}
