package ratelog_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/internal/ratelog"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestBurstThenSummaryOnRollover(t *testing.T) {
	clk := newClock()
	var buf testutil.SyncBuffer
	base := log.NewLogfmtLogger(&buf)
	l := ratelog.New(2, time.Minute, clk.now)
	warnA := level.Warn(log.With(base, "node", "a"))
	for i := range 10 {
		l.Log(warnA, "unknown_type", "msg", "unusable message", "n", i)
	}
	if got := len(buf.Lines("unusable message")); got != 2 {
		t.Fatalf("%d lines let through, want 2:\n%s", got, buf.String())
	}
	if got := buf.Lines(ratelog.SuppressedMsg); len(got) != 0 {
		t.Fatalf("summary before the window ended: %q", got)
	}
	clk.advance(59 * time.Second)
	l.Log(base, "other", "msg", "another key")
	if got := buf.Lines(ratelog.SuppressedMsg); len(got) != 0 {
		t.Fatalf("summary before the window ended: %q", got)
	}
	clk.advance(time.Second)
	l.Log(base, "other", "msg", "another key") // any key's call rolls every key
	got := buf.Lines(ratelog.SuppressedMsg)
	want := `level=warn node=a msg="repeated warnings suppressed" reason=unknown_type suppressed=8 window=1m0s`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("summary lines %q, want [%s]", got, want)
	}
	// The new window lets lines through again.
	l.Log(warnA, "unknown_type", "msg", "unusable message", "n", 10)
	if got := len(buf.Lines("unusable message")); got != 3 {
		t.Fatalf("%d lines after the rollover, want 3", got)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := log.NewLogfmtLogger(&buf)
	l := ratelog.New(1, time.Minute, newClock().now)
	for range 3 {
		l.Log(logger, "a", "msg", "line a")
		l.Log(logger, "b", "msg", "line b")
	}
	if a, b := len(buf.Lines("line a")), len(buf.Lines("line b")); a != 1 || b != 1 {
		t.Fatalf("lines a=%d b=%d, want 1 each", a, b)
	}
}

// Flush reports what was held back, but gives no new lines: a connection
// that flaps would otherwise earn a burst per session.
func TestFlushReportsWithoutNewBurst(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := log.NewLogfmtLogger(&buf)
	l := ratelog.New(1, time.Minute, newClock().now)
	for range 4 {
		l.Log(logger, "k", "msg", "line")
	}
	l.Flush()
	l.Flush() // nothing more to say
	if got := buf.Lines(ratelog.SuppressedMsg); len(got) != 1 || !strings.Contains(got[0], "suppressed=3") {
		t.Fatalf("summaries %q, want one with suppressed=3", got)
	}
	l.Log(logger, "k", "msg", "line")
	if got := len(buf.Lines("msg=line")); got != 1 {
		t.Fatalf("%d lines after Flush, want still 1", got)
	}
	l.Flush()
	if got := buf.Lines(ratelog.SuppressedMsg); len(got) != 2 || !strings.Contains(got[1], "suppressed=1") {
		t.Fatalf("summaries %q, want a second one with suppressed=1", got)
	}
}

func TestNilLimiterLetsEverythingThrough(t *testing.T) {
	var buf testutil.SyncBuffer
	var l *ratelog.Limiter
	for range 10 {
		l.Log(log.NewLogfmtLogger(&buf), "k", "msg", "line")
	}
	l.Flush()
	if got := len(buf.Lines("msg=line")); got != 10 {
		t.Fatalf("%d lines, want 10", got)
	}
}

func TestLoggerWrapper(t *testing.T) {
	var buf testutil.SyncBuffer
	l := ratelog.New(2, time.Minute, newClock().now)
	lg := level.Warn(l.Logger(log.NewLogfmtLogger(&buf), "k"))
	for range 5 {
		lg.Log("msg", "line")
	}
	if got := len(buf.Lines("msg=line")); got != 2 {
		t.Fatalf("%d lines, want 2", got)
	}
}

// Under concurrent use no occurrence is lost: every one is either a line or
// counted in a summary.
func TestConcurrentCountsAddUp(t *testing.T) {
	clk := newClock()
	var buf testutil.SyncBuffer
	logger := log.NewLogfmtLogger(&buf)
	l := ratelog.New(5, time.Minute, clk.now)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				l.Log(logger, fmt.Sprintf("k%d", i%3), "msg", "line")
				if w == 0 && i%100 == 99 {
					clk.advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
	l.Flush()
	total := len(buf.Lines("msg=line"))
	for _, s := range buf.Lines(ratelog.SuppressedMsg) {
		var n int
		if _, err := fmt.Sscanf(s[strings.Index(s, "suppressed=")+len("suppressed="):], "%d", &n); err != nil {
			t.Fatalf("summary %q: %v", s, err)
		}
		total += n
	}
	if total != workers*each {
		t.Fatalf("lines plus suppressed = %d, want %d", total, workers*each)
	}
}
