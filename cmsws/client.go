package cmsws

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/cms-exporter/cms_exporter/internal/ratelog"
)

// MaxMessageSize bounds what the client writes. The write buffer is this
// large so that gorilla/websocket emits every message as ONE frame: CMS
// closes the connection on fragmented frames, and gorilla splits a client
// message that exceeds its write buffer. A full 100-subscription request is
// about 30 KB; anything above this limit is refused rather than fragmented.
const MaxMessageSize = 128 << 10

// DefaultReadLimit bounds one server message unless Config.ReadLimit says
// otherwise, so a broken peer cannot make us allocate without limit. Roster
// snapshots of large meetings stay far below.
const DefaultReadLimit = 16 << 20

// TokenHeader is the response header carrying a fresh auth token.
const TokenHeader = "X-Cisco-CMS-Auth-Token"

// Config configures a Client for one connection to one node.
type Config struct {
	// Name is the node's configured name, copied into every Event.
	Name string
	// Connection numbers this connection among the node's connections
	// (0 = the primary one, which carries the calls subscription), copied
	// into every Event. CMS allows 5 event connections per node; a large
	// cluster may need more than one for its roster subscriptions.
	Connection int
	// URL is the node's API base, https://host[:port].
	URL      string
	Username string
	Password string
	// TLS is used for both the token request and the WebSocket. Nil means
	// verified against the system roots.
	TLS *tls.Config

	// Timing paces and bounds the connection; zero fields take
	// DefaultTiming's values.
	Timing
	// KeepAlive is the TCP keepalive idle time (the kernel-level half of
	// dead-peer detection). Zero means 15s.
	KeepAlive time.Duration
	// HealthyAfter: a connection that lasted this long resets the backoff.
	// Zero means one minute.
	HealthyAfter time.Duration
	// ReadLimit bounds one server message, in bytes; a larger one closes
	// the connection (DisconnectMessageTooLarge). Zero means
	// DefaultReadLimit.
	ReadLimit int64

	// Subscriptions is the initial desired set; indexes are assigned by the
	// client and ignored here.
	Subscriptions []Subscription

	Logger log.Logger
	Sink   Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limiter bounds the warning lines (unusable messages, refused
	// requests, connection failures) per reason. The connections of one
	// node should share one, so a flooding node gets a few lines per
	// reason, not a few per connection; nil means the client makes its own.
	// Events are never limited, only log lines.
	Limiter *ratelog.Limiter

	// LogFullFrames logs server frames in warning lines as they arrived
	// (up to 2 KiB). Off, they are logged shortened with the values of
	// names, URIs, addresses and any element not known to be harmless
	// replaced by "…": frames carry personal data. main sets it when
	// --log.level=debug.
	LogFullFrames bool

	// Rand returns a float in [0,1) for the jitter of every wait before a
	// new attempt; nil means math/rand/v2's Float64. Injected by tests.
	Rand func() float64
}

func (c *Config) setDefaults() {
	c.Timing = c.Timing.withDefaults()
	if c.KeepAlive <= 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.HealthyAfter <= 0 {
		c.HealthyAfter = time.Minute
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	if c.Sink == nil {
		c.Sink = func(Event) {}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Limiter == nil {
		c.Limiter = ratelog.New(0, 0, c.Now)
	}
}

// Client keeps one events connection to one node open: it authenticates,
// subscribes, acknowledges, probes and reconnects, and reports everything
// to its Sink. Create it with New and drive it with Run.
type Client struct {
	cfg    Config
	base   *url.URL
	logger log.Logger
	http   *http.Client
	dialer *websocket.Dialer

	mu        sync.Mutex
	desired   []Subscription // without indexes, in a stable order
	changed   chan struct{}  // capacity 1: "desired changed"
	nextIndex int            // never reused for the client's lifetime
}

// New validates cfg and returns a Client. It does not connect.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("node %s: url: %w", cfg.Name, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("node %s: url %q: want https://host[:port]", cfg.Name, cfg.URL)
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	tlsConf := cfg.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	netDialer := &net.Dialer{
		Timeout: cfg.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: cfg.KeepAlive, Interval: cfg.KeepAlive / 3, Count: 3,
		},
	}
	c := &Client{
		cfg:    cfg,
		base:   base,
		logger: log.With(cfg.Logger, "node", cfg.Name, "connection", cfg.Connection),
		http: &http.Client{
			Timeout: cfg.ConnectTimeout,
			Transport: &http.Transport{
				DialContext:         netDialer.DialContext,
				TLSClientConfig:     tlsConf.Clone(),
				TLSHandshakeTimeout: cfg.ConnectTimeout,
				// One token per attempt; nothing to keep alive.
				DisableKeepAlives: true,
				Proxy:             nil,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		dialer: &websocket.Dialer{
			NetDialContext:    netDialer.DialContext,
			NetDialTLSContext: dialTLS(netDialer, tlsConf, cfg.WriteTimeout),
			TLSClientConfig:   tlsConf.Clone(),
			HandshakeTimeout:  cfg.ConnectTimeout,
			ReadBufferSize:    64 << 10,
			WriteBufferSize:   MaxMessageSize,
			EnableCompression: false,
		},
		changed:   make(chan struct{}, 1),
		nextIndex: 1,
	}
	c.desired = normalize(cfg.Subscriptions)
	return c, nil
}

// SetSubscriptions replaces the desired subscription set (indexes ignored).
// If it differs from what the open connection holds, the client sends the
// complete new set; unchanged entries keep their index, so CMS keeps them
// without replaying a snapshot.
func (c *Client) SetSubscriptions(subs []Subscription) {
	n := normalize(subs)
	c.mu.Lock()
	same := slices.EqualFunc(c.desired, n, func(a, b Subscription) bool {
		return a.Key() == b.Key() && slices.Equal(a.Elements, b.Elements)
	})
	c.desired = n
	c.mu.Unlock()
	if same {
		return // nothing to tell CMS: no request, no snapshot replay
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Client) desiredSet() []Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.desired)
}

func (c *Client) allocIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.nextIndex
	c.nextIndex++
	return i
}

// normalize drops indexes and duplicates (by Key) and sorts by Key, so two
// sets can be compared.
func normalize(subs []Subscription) []Subscription {
	seen := make(map[Key]bool, len(subs))
	out := make([]Subscription, 0, len(subs))
	for _, s := range subs {
		if seen[s.Key()] {
			continue
		}
		seen[s.Key()] = true
		s.Index = 0
		s.Elements = slices.Clone(s.Elements)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Subscription) int {
		if a.Type != b.Type {
			return strings.Compare(string(a.Type), string(b.Type))
		}
		return strings.Compare(a.Call, b.Call)
	})
	return out
}

func (c *Client) emit(ev Event) {
	ev.Node = c.cfg.Name
	ev.Connection = c.cfg.Connection
	if ev.Time.IsZero() {
		ev.Time = c.cfg.Now()
	}
	c.cfg.Sink(ev)
}

// Run connects and stays connected until ctx is cancelled, reconnecting
// with backoff, and returns once the client is shut down.
func (c *Client) Run(ctx context.Context) {
	defer c.http.CloseIdleConnections()
	// What the limiter held back is told before the client goes.
	defer c.cfg.Limiter.Flush()
	var r retries
	for ctx.Err() == nil {
		c.emit(Event{Kind: EventConnecting})
		ws, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil || !sleep(ctx, c.connectFailed(&r, err)) {
				return
			}
			continue
		}
		r.connected(c.logger)
		number := r.sessions
		started := c.cfg.Now()
		reason, err := c.serve(ctx, ws, number)
		// The session's held-back warnings are told with it.
		c.cfg.Limiter.Flush()
		if reason == DisconnectShutdown || ctx.Err() != nil {
			c.emit(Event{Kind: EventDisconnected, Session: number, Reason: DisconnectShutdown})
			return
		}
		if c.cfg.Now().Sub(started) >= c.cfg.HealthyAfter {
			r.attempt = 0
		}
		delay := c.backoff().Delay(r.attempt)
		r.attempt++
		c.cfg.Limiter.Log(level.Warn(c.logger), "connection_lost", "msg", "events connection lost", "session", number, "reason", reason, "err", err, "retry_in", delay)
		c.emit(Event{Kind: EventDisconnected, Session: number, Reason: reason, Err: err, RetryIn: delay})
		if !sleep(ctx, delay) {
			return
		}
	}
}

// retries is Run's memory between attempts.
type retries struct {
	sessions    uint64 // sessions started so far
	attempt     int    // backoff step of the next network retry
	authFailing bool   // in a streak of refused credentials
	netFailing  int    // length of the current streak of other failures
}

// connected ends a failing streak (logging the recovery) and starts a
// new session number.
func (r *retries) connected(logger log.Logger) {
	if r.authFailing || r.netFailing > 0 {
		level.Info(logger).Log("msg", "connected again", "failed_attempts", r.netFailing, "auth_was_failing", r.authFailing)
	}
	r.authFailing, r.netFailing = false, 0
	r.sessions++
}

// connectFailed logs and reports a failed connect and returns the wait
// before the next attempt: AuthFailureBackoff when the credentials were
// refused, the backoff otherwise. Each streak logs one clear line, then
// debug lines.
func (c *Client) connectFailed(r *retries, err error) time.Duration {
	reason := classifyConnectError(err)
	var delay time.Duration
	if reason == ConnectFailureAuth {
		delay = jitterUp(c.cfg.AuthFailureBackoff, c.cfg.Rand)
		if !r.authFailing {
			level.Error(c.logger).Log("msg", "authentication failed: check the username and password of the API user and its rights; retrying slowly",
				"user", c.cfg.Username, "err", err, "retry_in", delay)
		} else {
			level.Debug(c.logger).Log("msg", "authentication still failing", "err", err, "retry_in", delay)
		}
		r.authFailing = true
	} else {
		delay = c.backoff().Delay(r.attempt)
		r.attempt++
		if r.netFailing == 0 {
			c.cfg.Limiter.Log(level.Warn(c.logger), "cannot_connect", "msg", "cannot connect to events endpoint", "reason", reason, "err", err, "retry_in", delay)
		} else {
			level.Debug(c.logger).Log("msg", "still cannot connect", "reason", reason, "attempt", r.netFailing+1, "err", err, "retry_in", delay)
		}
		r.netFailing++
	}
	c.emit(Event{Kind: EventConnectFailed, Reason: reason, Err: err, RetryIn: delay})
	return delay
}

// backoff is the reconnect backoff of the client's Timing, jittered by
// its random source.
func (c *Client) backoff() Backoff {
	b := c.cfg.Timing.backoff()
	b.Rand = c.cfg.Rand
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
