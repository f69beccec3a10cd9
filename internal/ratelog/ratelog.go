// Package ratelog bounds repeated log lines. A server that sends the same
// unusable message as fast as it can must not turn the exporter's log into
// tens of thousands of identical warnings a second, yet the operator must
// still learn that it happens, and how often. The counters (metrics) are
// never limited; only the lines are.
package ratelog

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
)

// Defaults of New when given zero: five lines per key per minute.
const (
	DefaultBurst  = 5
	DefaultWindow = time.Minute
)

// SuppressedMsg is the msg of the summary line.
const SuppressedMsg = "repeated warnings suppressed"

// Limiter lets through the first Burst lines per key in each Window and
// counts the rest; when a key's window has passed, the next call (for any
// key) or Flush logs one summary line for it: msg SuppressedMsg, "reason"
// the key, "suppressed" the count, "window" the window. The summary goes to
// the logger of the last suppressed line, so it keeps that line's level and
// context (node, connection).
//
// Keys must come from a bounded set (reasons, resources): the limiter keeps
// one small record per key for its lifetime. It starts no goroutine and is
// safe for concurrent use; the zero value is not usable, a nil *Limiter
// lets every line through.
type Limiter struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*keyState
}

type keyState struct {
	start      time.Time  // when the current window began
	logged     int        // lines let through in it
	suppressed int        // lines held back in it
	last       log.Logger // where the held-back lines would have gone
}

// New returns a Limiter letting burst lines per key through per window.
// Zero or negative values take DefaultBurst and DefaultWindow; a nil now
// means time.Now.
func New(burst int, window time.Duration, now func() time.Time) *Limiter {
	if burst <= 0 {
		burst = DefaultBurst
	}
	if window <= 0 {
		window = DefaultWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{burst: burst, window: window, now: now, keys: make(map[string]*keyState)}
}

// summary is one pending summary line.
type summary struct {
	logger     log.Logger
	key        string
	suppressed int
}

// Log logs keyvals to logger unless key has used its lines for the current
// window, in which case it only counts them. Like go-kit's callers of Log,
// it drops the writer's error: a line that cannot be written has nowhere
// else to go.
func (l *Limiter) Log(logger log.Logger, key string, keyvals ...any) {
	if l == nil {
		logger.Log(keyvals...)
		return
	}
	l.mu.Lock()
	now := l.now()
	due := l.rollLocked(now, false)
	st := l.keys[key]
	if st == nil {
		st = &keyState{start: now}
		l.keys[key] = st
	}
	pass := st.logged < l.burst
	if pass {
		st.logged++
	} else {
		st.suppressed++
		st.last = logger
	}
	l.mu.Unlock()
	// Log outside the lock: a slow writer must not hold up every caller.
	l.emit(due)
	if pass {
		logger.Log(keyvals...)
	}
}

// Logger returns a log.Logger whose lines go through l under key: a
// drop-in for code that takes a log.Logger. Its Log always returns nil.
func (l *Limiter) Logger(logger log.Logger, key string) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		l.Log(logger, key, keyvals...)
		return nil
	})
}

// Flush logs the summary of every key with lines held back, whatever its
// window. Call it when the source of the lines goes away (a session ends, a
// client stops), so no count is lost. It does not give the keys new lines:
// a connection that flaps must not earn a fresh burst per session.
func (l *Limiter) Flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	due := l.rollLocked(l.now(), true)
	l.mu.Unlock()
	l.emit(due)
}

// rollLocked starts a new window for every key whose window has passed and
// returns the summaries owed; with flush, also those of keys still in their
// window, which keep it. Keys are few, so looking at all of them on every
// call costs less than keeping them sorted by deadline. Caller holds l.mu.
func (l *Limiter) rollLocked(now time.Time, flush bool) []summary {
	var due []summary
	for key, st := range l.keys {
		passed := now.Sub(st.start) >= l.window
		if !passed && !flush {
			continue
		}
		if st.suppressed > 0 {
			due = append(due, summary{logger: st.last, key: key, suppressed: st.suppressed})
			st.suppressed, st.last = 0, nil
		}
		if passed {
			st.start, st.logged = now, 0
		}
	}
	// Map order is random; a log read by people is easier in a fixed one.
	slices.SortFunc(due, func(a, b summary) int { return strings.Compare(a.key, b.key) })
	return due
}

func (l *Limiter) emit(due []summary) {
	for _, s := range due {
		s.logger.Log("msg", SuppressedMsg, "reason", s.key, "suppressed", s.suppressed, "window", l.window)
	}
}
