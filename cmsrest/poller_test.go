package cmsrest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
)

const (
	testUser     = "api"
	testPassword = "s3cret-Pa55word"
)

// bodies are healthy answers, one per resource.
var bodies = map[string]string{
	ResourceStatus.Path(): `<?xml version="1.0"?><status><softwareVersion>3.9.2</softwareVersion><uptimeSeconds>10</uptimeSeconds>` +
		`<activated>true</activated><clusterEnabled>true</clusterEnabled><callLegsActive>4</callLegsActive>` +
		`<callLegsMaxActive>6</callLegsMaxActive><callLegsCompleted>9</callLegsCompleted></status>`,
	ResourceLoad.Path():                `<load><mediaProcessingLoad>4000</mediaProcessingLoad></load>`,
	ResourceCluster.Path():             `<cluster><loadLimit>100000</loadLimit></cluster>`,
	ResourceAlarms.Path():              `<alarms total="1"><alarm id="1"><type>x</type><activeTimeSeconds>5</activeTimeSeconds></alarm></alarms>`,
	ResourceLicensing.Path():           `<licensing><features><callBridge><status>activated</status></callBridge></features></licensing>`,
	ResourceMultipartyLicensing.Path(): `<multipartyLicensing><personalLicenseLimit>5</personalLicenseLimit></multipartyLicensing>`,
}

// server is an httptest TLS server that checks HTTP Basic and counts
// requests, concurrent requests and connections.
type server struct {
	*httptest.Server
	requests, inFlight, maxInFlight, conns atomic.Int64
}

// newServer serves handler (nil: the healthy bodies) behind HTTP Basic.
func newServer(t *testing.T, handler http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	if handler == nil {
		handler = serveBodies
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.maxInFlight.Load()
			if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		s.requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		handler(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	// Handshake errors of clients that do not trust the server are the
	// point of some tests, not noise for the test log.
	s.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func serveBodies(w http.ResponseWriter, r *http.Request) {
	b, ok := bodies[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, b)
}

// tlsFor trusts the server's certificate.
func tlsFor(s *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// collector gathers a Poller's results.
type collector struct {
	mu      sync.Mutex
	results []Result
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) sink(r Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) all() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.results...)
}

// wait returns once ok holds for the results so far.
func (c *collector) wait(t *testing.T, what string, ok func([]Result) bool) []Result {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if rs := c.all(); ok(rs) {
			return rs
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; results: %+v", what, c.all())
		}
	}
}

func atLeast(n int) func([]Result) bool { return func(rs []Result) bool { return len(rs) >= n } }

// testConfig polls s at once (Rand 0) every 50 ms.
func testConfig(s *httptest.Server, c *collector) Config {
	return Config{
		Name: "cms1", URL: s.URL, Username: testUser, Password: testPassword,
		TLS: tlsFor(s), Interval: 50 * time.Millisecond, Timeout: 2 * time.Second,
		Sink: c.sink, Rand: func() float64 { return 0 },
	}
}

// start runs p until the test ends (or stop is called) and makes sure Run
// returned.
func start(t *testing.T, p *Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func mustNew(t *testing.T, cfg Config) *Poller {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPollerRound(t *testing.T) {
	s := newServer(t, nil)
	c := newCollector()
	cfg := testConfig(s.Server, c)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	stop := start(t, mustNew(t, cfg))
	rs := c.wait(t, "one round", atLeast(len(Resources)))
	stop()
	for i, res := range Resources {
		r := rs[i]
		if r.Resource != res || r.Node != "cms1" || r.Err != nil || r.Reason != "" || !r.Time.Equal(now) || r.Took <= 0 {
			t.Errorf("result %d: %+v", i, r)
		}
		want, err := Decode(res, []byte(bodies[res.Path()]))
		if err != nil {
			t.Fatal(err)
		}
		want.Node, want.Time, want.Took = r.Node, r.Time, r.Took
		if !equalResults(r, want) {
			t.Errorf("%s: got\n%s\nwant\n%s", res, dump(r), dump(want))
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for one round; want 1, kept alive", n)
	}
	// One request per result (plus one a stop may have cut short): no
	// retries, no second request for a resource within a round.
	if n, k := s.requests.Load(), int64(len(c.all())); n < k || n > k+1 {
		t.Errorf("%d requests for %d results", n, k)
	}
}

func TestPollerFailures(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", code) }
	}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		cfg     func(*Config, *server)
		reason  string
		detail  string
	}{
		{name: "401", handler: status(http.StatusUnauthorized), reason: FailureAuth, detail: "HTTP 401"},
		{name: "wrong password", cfg: func(c *Config, _ *server) { c.Password = "wrong" }, reason: FailureAuth, detail: "HTTP 401"},
		{name: "403", handler: status(http.StatusForbidden), reason: FailureAuth, detail: "HTTP 403"},
		{name: "500", handler: status(http.StatusInternalServerError), reason: FailureHTTPStatus, detail: "HTTP 500"},
		{name: "404", handler: status(http.StatusNotFound), reason: FailureHTTPStatus, detail: "HTTP 404"},
		{name: "malformed XML", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `<status><callLegsActive>3</call`)
		}, reason: FailureDecode, detail: "unexpected EOF"},
		{name: "number that does not parse", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `<status><callLegsActive>three</callLegsActive></status>`)
		}, reason: FailureDecode, detail: `"three" is not an integer`},
		{name: "body too large", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<status><softwareVersion>")
			_, _ = w.Write(bytes.Repeat([]byte("x"), MaxBodySize))
			_, _ = io.WriteString(w, "</softwareVersion></status>")
		}, reason: FailureDecode, detail: "larger than"},
		{name: "slow answer", handler: func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, cfg: func(c *Config, _ *server) { c.Timeout = 100 * time.Millisecond }, reason: FailureTimeout, detail: "deadline"},
		{name: "slow body", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<status>")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, cfg: func(c *Config, _ *server) { c.Timeout = 100 * time.Millisecond }, reason: FailureTimeout, detail: "reading the answer"},
		{name: "wrong CA", cfg: func(c *Config, _ *server) { c.TLS = nil }, reason: FailureTLS, detail: "certificate"},
		{name: "wrong server name", cfg: func(c *Config, _ *server) { c.TLS.ServerName = "cms.example.org" }, reason: FailureTLS, detail: "certificate"},
		{name: "closed port", cfg: func(c *Config, _ *server) { c.URL = closedPort(t) }, reason: FailureNetwork, detail: "refused"},
		{name: "redirect to another host", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://localhost:1"+r.URL.Path, http.StatusFound)
		}, reason: FailureHTTPStatus, detail: "HTTP 302"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.handler)
			c := newCollector()
			cfg := testConfig(s.Server, c)
			cfg.Resources = []Resource{ResourceStatus}
			if tc.cfg != nil {
				tc.cfg(&cfg, s)
			}
			stop := start(t, mustNew(t, cfg))
			r := c.wait(t, "a result", atLeast(1))[0]
			stop()
			if r.Err == nil || r.Reason != tc.reason || r.Status != nil {
				t.Fatalf("reason %q, err %v, status %v; want reason %s", r.Reason, r.Err, r.Status, tc.reason)
			}
			if !strings.Contains(r.Err.Error(), tc.detail) {
				t.Errorf("err %q does not say %q", r.Err, tc.detail)
			}
			if strings.Contains(r.Err.Error(), testPassword) {
				t.Errorf("err %q shows the password", r.Err)
			}
			if tc.reason == FailureDecode && !errors.Is(r.Err, ErrDecode) {
				t.Errorf("decode failure %v is not ErrDecode", r.Err)
			}
		})
	}
}

// closedPort is the URL of a port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "https://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestPollerFollowsRedirectOnSameHostOnly(t *testing.T) {
	var other atomic.Int64
	elsewhere := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		serveBodies(w, r)
	})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved" + ResourceStatus.Path():
			_, _ = io.WriteString(w, bodies[ResourceStatus.Path()])
		case ResourceStatus.Path():
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusMovedPermanently)
		default:
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
		}
	})
	c := newCollector()
	cfg := testConfig(s.Server, c)
	cfg.Resources = []Resource{ResourceStatus, ResourceLoad}
	stop := start(t, mustNew(t, cfg))
	rs := c.wait(t, "two results", atLeast(2))
	stop()
	if rs[0].Err != nil || rs[0].Status == nil {
		t.Errorf("same-host redirect not followed: %+v", rs[0])
	}
	if rs[1].Reason != FailureHTTPStatus {
		t.Errorf("redirect to another host: %+v; want an http_status failure", rs[1])
	}
	if other.Load() != 0 {
		t.Errorf("the password went to another host")
	}
}

// Rounds that take longer than the interval follow each other at once,
// yet the node never sees two requests at a time, all on one connection.
func TestPollerOneRequestInFlight(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		serveBodies(w, r)
	})
	c := newCollector()
	cfg := testConfig(s.Server, c)
	cfg.Interval = 10 * time.Millisecond // shorter than a round
	stop := start(t, mustNew(t, cfg))
	c.wait(t, "four rounds", atLeast(4*len(Resources)))
	stop()
	if m := s.maxInFlight.Load(); m != 1 {
		t.Errorf("%d requests in flight at once; want 1", m)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections; want 1, kept alive", n)
	}
	for _, r := range c.all() {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Resource, r.Err)
		}
	}
}

func TestPollerDelays(t *testing.T) {
	const interval = 10 * time.Second
	cases := []struct {
		rand        float64
		first, next time.Duration
	}{
		{0, 0, 9 * time.Second},
		{0.25, 2500 * time.Millisecond, 9500 * time.Millisecond},
		{0.5, 5 * time.Second, 10 * time.Second},
		{0.75, 7500 * time.Millisecond, 10500 * time.Millisecond},
		{0.999999, 9999990 * time.Microsecond, 10999998 * time.Microsecond},
		// A broken source is clamped to [0, 1).
		{1.5, 9999990 * time.Microsecond, 10999998 * time.Microsecond},
		{-1, 0, 9 * time.Second},
		{math.NaN(), 0, 9 * time.Second},
	}
	for _, tc := range cases {
		p := mustNew(t, Config{Name: "n", URL: "https://127.0.0.1:1", Interval: interval, Sink: func(Result) {},
			Rand: func() float64 { return tc.rand }})
		if d := p.firstDelay(); absDur(d-tc.first) > time.Microsecond {
			t.Errorf("rand %v: first delay %v, want %v", tc.rand, d, tc.first)
		}
		if d := p.nextDelay(); absDur(d-tc.next) > time.Microsecond {
			t.Errorf("rand %v: next delay %v, want %v", tc.rand, d, tc.next)
		}
	}
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

// virtualClock is a pacingClock whose time moves only when Run waits (by
// exactly what it waits for) or when the test moves it: Run's pacing is
// checked without sleeping, and cannot fail because the machine is slow.
type virtualClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *virtualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *virtualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *virtualClock) after(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch, func() bool { return false }
}

func (c *virtualClock) waited() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// Pacing: with jitter r, the first round comes r·I after the start (so
// nodes started together spread over one interval), each later round
// (0.9 + 0.2r)·I after the previous one started, less the time the round
// took, and at once after a round that took longer than that.
func TestPollerPacing(t *testing.T) {
	const interval = 300 * time.Millisecond
	s := newServer(t, nil)
	for _, r := range []float64{0, 0.5, 0.999999} {
		for _, roundTakes := range []time.Duration{0, 100 * time.Millisecond, time.Second} {
			t.Run(fmt.Sprintf("rand=%v/round=%v", r, roundTakes), func(t *testing.T) {
				c := newCollector()
				clock := &virtualClock{t: time.Unix(1e9, 0)}
				cfg := testConfig(s.Server, c)
				cfg.Interval = interval
				cfg.Resources = []Resource{ResourceLoad}
				cfg.Rand = func() float64 { return r }
				sink := cfg.Sink
				cfg.Sink = func(res Result) {
					clock.advance(roundTakes) // the round's one request took this long
					sink(res)
				}
				p := mustNew(t, cfg)
				p.clock = clock
				stop := start(t, p)
				c.wait(t, "four rounds", atLeast(4))
				stop()
				waits := clock.waited()[:4]
				next := time.Duration((0.9 + 0.2*r) * float64(interval))
				want := []time.Duration{time.Duration(r * float64(interval))}
				for range 3 {
					want = append(want, max(next-roundTakes, 0))
				}
				if !slices.Equal(waits, want) {
					t.Fatalf("waits %v, want %v", waits, want)
				}
			})
		}
	}
}

// syncBuffer is a log sink the poller's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A resource that starts failing logs one warning, one info line when it
// recovers, debug lines in between, and never the password.
func TestPollerLogsTransitionsOnce(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.URL.Path == ResourceStatus.Path() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serveBodies(w, r)
	})
	var logs syncBuffer
	c := newCollector()
	cfg := testConfig(s.Server, c)
	cfg.Interval = 5 * time.Millisecond
	cfg.Logger = log.NewLogfmtLogger(&logs)
	cfg.Resources = []Resource{ResourceStatus, ResourceLoad}
	stop := start(t, mustNew(t, cfg))
	c.wait(t, "three failures", func(rs []Result) bool { return countReason(rs, FailureHTTPStatus) >= 3 })
	failing.Store(false)
	n := len(c.all())
	c.wait(t, "recovery", func(rs []Result) bool { return len(rs) >= n+6 })
	stop()

	out := logs.String()
	if strings.Contains(out, testPassword) {
		t.Fatalf("password in the log:\n%s", out)
	}
	count := func(lvl, msg string) int {
		k := 0
		for line := range strings.Lines(out) {
			if strings.Contains(line, "level="+lvl) && strings.Contains(line, msg) {
				k++
			}
		}
		return k
	}
	if w := count("warn", "resource=status"); w != 1 {
		t.Errorf("%d warnings for status; want 1:\n%s", w, out)
	}
	if i := count("info", "resource=status"); i != 1 {
		t.Errorf("%d info lines for status; want 1:\n%s", i, out)
	}
	if d := count("debug", "still failing"); d < 2 {
		t.Errorf("%d debug lines for the failures after the first; want 2 or more", d)
	}
	if w := count("warn", "resource=load") + count("info", "resource=load"); w != 0 {
		t.Errorf("the healthy resource logged %d warnings or info lines", w)
	}
	if !strings.Contains(out, "node=cms1") || !strings.Contains(out, "reason=http_status") {
		t.Errorf("log lines lack node or reason:\n%s", out)
	}
}

func countReason(rs []Result, reason string) int {
	n := 0
	for _, r := range rs {
		if r.Reason == reason {
			n++
		}
	}
	return n
}

func TestNewValidates(t *testing.T) {
	ok := Config{Name: "cms1", URL: "https://cms1.example.org:445", Sink: func(Result) {}}
	cases := []struct {
		name string
		mod  func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"http", func(c *Config) { c.URL = "http://cms1.example.org" }},
		{"no host", func(c *Config) { c.URL = "https://" }},
		{"credentials in the URL", func(c *Config) { c.URL = "https://admin:" + testPassword + "@cms1.example.org" }},
		{"path", func(c *Config) { c.URL = "https://cms1.example.org/api/v1" }},
		{"query", func(c *Config) { c.URL = "https://cms1.example.org/?x=1" }},
		{"unparseable URL", func(c *Config) { c.URL = "https://cms1 example.org/%zz" }},
		{"no sink", func(c *Config) { c.Sink = nil }},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }},
		{"no resources", func(c *Config) { c.Resources = []Resource{} }},
		{"unknown resource", func(c *Config) { c.Resources = []Resource{"calls"} }},
		{"resource twice", func(c *Config) { c.Resources = []Resource{ResourceLoad, ResourceLoad} }},
	}
	for _, tc := range cases {
		cfg := ok
		tc.mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: error shows the password: %v", tc.name, err)
		}
	}
	p, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.Interval != DefaultInterval || p.cfg.Timeout != DefaultTimeout || len(p.cfg.Resources) != len(Resources) {
		t.Errorf("defaults not applied: %+v", p.cfg)
	}
	if p.base != "https://cms1.example.org:445" {
		t.Errorf("base %q", p.base)
	}
}

func TestPollerSecondRunIgnored(t *testing.T) {
	s := newServer(t, nil)
	c := newCollector()
	p := mustNew(t, testConfig(s.Server, c))
	start(t, p)
	c.wait(t, "a result", atLeast(1))
	done := make(chan struct{})
	go func() { defer close(done); p.Run(context.Background()) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("second Run did not return at once")
	}
}

// A resource that flaps between failing and answering would log a warning
// per flap: the warnings are limited per resource, and what was held back is
// summed up when the poller stops.
func TestFlappingResourceWarningsAreRateLimited(t *testing.T) {
	var requests atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ResourceStatus.Path() && requests.Add(1)%2 == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serveBodies(w, r)
	})
	var logs syncBuffer
	c := newCollector()
	cfg := testConfig(s.Server, c)
	cfg.Interval = time.Millisecond
	cfg.Logger = log.NewLogfmtLogger(&logs)
	cfg.Resources = []Resource{ResourceStatus}
	stop := start(t, mustNew(t, cfg))
	c.wait(t, "twenty failures", func(rs []Result) bool { return countReason(rs, FailureHTTPStatus) >= 20 })
	stop()

	failures := countReason(c.all(), FailureHTTPStatus)
	var warned, suppressed int
	for line := range strings.Lines(logs.String()) {
		switch {
		case strings.Contains(line, `msg="REST request failing"`):
			warned++
		case strings.Contains(line, "repeated warnings suppressed"):
			i := strings.Index(line, "suppressed=")
			n, err := strconv.Atoi(strings.Fields(line[i+len("suppressed="):])[0])
			if err != nil || !strings.Contains(line, "level=warn") || !strings.Contains(line, "node=cms1") {
				t.Errorf("summary %q: want a warn line naming the node and a count", line)
			}
			suppressed += n
		}
	}
	if warned != 5 {
		t.Errorf("%d warnings for %d failures, want 5", warned, failures)
	}
	if warned+suppressed != failures {
		t.Errorf("%d warnings + %d suppressed, want the %d failures", warned, suppressed, failures)
	}
}
