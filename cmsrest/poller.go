package cmsrest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/internal/ratelog"
)

// Defaults for Config.
const (
	// DefaultInterval: node counters such as call legs and media load move
	// on the scale of seconds, and alerts on them look at minutes; every 30
	// s is six small requests per node, nothing next to the events stream.
	DefaultInterval = 30 * time.Second
	// DefaultTimeout bounds one request: a Call Bridge under load may be
	// slow to answer its API, but one that takes longer is as good as down
	// for a poller that must not fall behind its interval.
	DefaultTimeout = 10 * time.Second
)

// jitter is the spread of the wait between two rounds (±10 % of the
// interval), so that nodes started together drift apart and stay apart.
const jitter = 0.1

// Config configures a Poller for one node.
type Config struct {
	// Name is the node's configured name, copied into every Result.
	Name string
	// URL is the node's API base, https://host[:port], as cmsws uses.
	URL string
	// Username and Password go as HTTP Basic on every request: the REST
	// API has no tokens.
	Username, Password string
	// TLS verifies the node; nil means the system roots, verified.
	TLS *tls.Config
	// Interval is the time between two polls of the same resource
	// (0 = DefaultInterval).
	Interval time.Duration
	// Timeout bounds one request, body included (0 = DefaultTimeout).
	Timeout time.Duration
	// Resources are polled in this order; nil means Resources.
	Resources []Resource
	// Sink receives every Result, from Run's goroutine.
	Sink Sink
	// Logger: nil discards.
	Logger log.Logger
	// Now stamps Results (nil = time.Now). Pacing uses the runtime's
	// clock and timers, not Now.
	Now func() time.Time
	// Rand is the jitter source, returning values in [0, 1) (nil =
	// math/rand/v2's Float64).
	Rand func() float64
	// Limiter bounds the "REST request failing" warnings per resource: a
	// resource that flaps would log one per flap. The node's events
	// connections may share it; nil means the poller makes its own.
	Limiter *ratelog.Limiter
}

// Poller polls one node's REST resources. Create it with New and drive it
// with Run.
type Poller struct {
	cfg       Config
	base      string // scheme://host[:port], no trailing slash
	logger    log.Logger
	transport *http.Transport
	client    *http.Client

	running atomic.Bool
	// bytesRead counts what the node's connections delivered (TLS records
	// and HTTP framing included): the wire cost of polling.
	bytesRead atomic.Int64

	// clock paces Run: the runtime's by default; tests put a virtual
	// one in, so pacing is checked without waiting or timing anything.
	clock pacingClock

	// Run's goroutine alone touches these.
	body    []byte           // reused body buffer
	failing map[Resource]int // length of each resource's failure streak
}

// New validates cfg and returns a Poller. It does not connect.
func New(cfg Config) (*Poller, error) {
	if cfg.Name == "" {
		return nil, errors.New("cmsrest: node name is empty")
	}
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("cmsrest: node %s: %w", cfg.Name, err)
	}
	if cfg.Sink == nil {
		return nil, fmt.Errorf("cmsrest: node %s: no sink", cfg.Name)
	}
	if cfg.Interval < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("cmsrest: node %s: negative interval %v or timeout %v", cfg.Name, cfg.Interval, cfg.Timeout)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Resources == nil {
		cfg.Resources = Resources
	}
	if err := checkResources(cfg.Resources); err != nil {
		return nil, fmt.Errorf("cmsrest: node %s: %w", cfg.Name, err)
	}
	cfg.Resources = slices.Clone(cfg.Resources)
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelog.New(0, 0, cfg.Now)
	}
	p := &Poller{
		cfg:     cfg,
		base:    base,
		logger:  log.With(cfg.Logger, "node", cfg.Name),
		failing: map[Resource]int{},
		clock:   runtimeClock{},
	}
	p.transport = p.newTransport()
	p.client = &http.Client{Transport: p.transport, CheckRedirect: sameOrigin}
	return p, nil
}

// baseURL accepts https://host[:port] (a trailing slash is fine) and
// nothing else: credentials in the URL would end up in error messages and
// logs, and a path would be silently replaced by the resources' own.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("url %q: want https://host[:port]", u.Redacted())
	}
	return "https://" + u.Host, nil
}

func checkResources(rs []Resource) error {
	if len(rs) == 0 {
		return errors.New("no resources to poll")
	}
	for i, r := range rs {
		if r.Path() == "" {
			return fmt.Errorf("unknown resource %q", r)
		}
		if slices.Contains(rs[:i], r) {
			return fmt.Errorf("resource %q listed twice", r)
		}
	}
	return nil
}

// newTransport is the Poller's own: one connection to the node (the
// poller never has two requests in flight, and a node's API is not to be
// hammered), kept alive between rounds so a round costs no handshake, with
// the node's TLS settings and no proxy, like the events connection.
func (p *Poller) newTransport() *http.Transport {
	tlsConf := p.cfg.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	dialer := &net.Dialer{Timeout: p.cfg.Timeout}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: &p.bytesRead}, nil
		},
		TLSClientConfig:     tlsConf.Clone(),
		TLSHandshakeTimeout: p.cfg.Timeout,
		MaxConnsPerHost:     1,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		// Long enough to bridge two rounds; a node that closes sooner
		// costs a new handshake, not a failure (net/http retries an
		// idempotent request on a reused connection the peer closed).
		IdleConnTimeout: 2 * p.cfg.Interval,
	}
}

// sameOrigin follows a redirect only on the same scheme, host and port:
// every request carries the password, which must not go anywhere else.
// Another redirect is answered as it came (a non-2xx: http_status).
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 || req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// countingConn counts the bytes read from a node's connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Run polls until ctx is done and returns once the request in flight, if
// any, has ended (a request cut short by ctx is not reported). The first
// round starts after a random delay in [0, Interval), so pollers started
// together spread over the interval; each later round starts Interval ±10 %
// after the previous one started, or at once if that one took longer. A
// round requests the resources one after the other. Run must not be called
// again while it runs; such a call logs an error and returns.
func (p *Poller) Run(ctx context.Context) {
	if !p.running.CompareAndSwap(false, true) {
		level.Error(p.logger).Log("msg", "REST poller already running; second Run ignored")
		return
	}
	defer p.running.Store(false)
	defer p.transport.CloseIdleConnections()
	defer p.cfg.Limiter.Flush() // what was held back is told before the poller goes
	wait := p.firstDelay()
	for {
		fired, stop := p.clock.after(wait)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-fired:
		}
		started := p.clock.now()
		if !p.round(ctx) {
			return
		}
		wait = max(p.nextDelay()-p.clock.now().Sub(started), 0)
	}
}

// pacingClock is what Run's pacing needs of time.
type pacingClock interface {
	now() time.Time
	// after fires once d has passed; stop releases it early.
	after(d time.Duration) (fired <-chan time.Time, stop func() bool)
}

// runtimeClock is the runtime's clock and timers.
type runtimeClock struct{}

func (runtimeClock) now() time.Time { return time.Now() }

func (runtimeClock) after(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// firstDelay spreads the first rounds of many nodes over one interval.
func (p *Poller) firstDelay() time.Duration {
	return time.Duration(p.random() * float64(p.cfg.Interval))
}

// nextDelay is the time from one round's start to the next: Interval ±10 %.
func (p *Poller) nextDelay() time.Duration {
	f := 1 - jitter + 2*jitter*p.random()
	return time.Duration(f * float64(p.cfg.Interval))
}

// random is Rand clamped to [0, 1), so a broken source cannot stop the
// poller or make it spin.
func (p *Poller) random() float64 {
	r := p.cfg.Rand()
	if !(r >= 0) { // also NaN
		return 0
	}
	return min(r, 0.999999)
}

// round polls every resource once, one at a time, and reports false when
// ctx ended it.
func (p *Poller) round(ctx context.Context) bool {
	for _, res := range p.cfg.Resources {
		r, ok := p.poll(ctx, res)
		if !ok {
			return false
		}
		p.log(r)
		p.cfg.Sink(r)
	}
	return ctx.Err() == nil
}

// log writes one warning when a resource starts failing, one info line
// when it recovers, and debug lines otherwise, so a node that stays down
// does not flood the log; a resource that flaps is bounded by the limiter.
func (p *Poller) log(r Result) {
	streak := p.failing[r.Resource]
	switch {
	case r.Err != nil && streak == 0:
		p.cfg.Limiter.Log(level.Warn(p.logger), "rest_failing_"+string(r.Resource),
			"msg", "REST request failing", "resource", r.Resource, "reason", r.Reason, "err", r.Err)
	case r.Err != nil:
		level.Debug(p.logger).Log("msg", "REST request still failing", "resource", r.Resource, "reason", r.Reason, "failures", streak+1, "err", r.Err)
	case streak > 0:
		level.Info(p.logger).Log("msg", "REST request succeeds again", "resource", r.Resource, "failures", streak)
	default:
		level.Debug(p.logger).Log("msg", "REST resource polled", "resource", r.Resource, "took", r.Took)
	}
	if r.Err != nil {
		p.failing[r.Resource] = streak + 1
	} else {
		delete(p.failing, r.Resource)
	}
}
