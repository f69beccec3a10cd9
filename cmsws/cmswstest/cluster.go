package cmswstest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cms-exporter/cms_exporter/internal/loopbackpki"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Options configure a Cluster. Zero values select the documented defaults,
// which are the limits of a real Meeting Server.
type Options struct {
	// Nodes is the number of Call Bridges (default 3, or len(NodeNames)).
	Nodes int
	// NodeNames name the nodes (default cms1..cmsN).
	NodeNames []string
	// Username and Password are the API credentials (default admin/secret).
	Username, Password string

	// TokenTTL: a token used later than TokenTTL after it was issued is
	// refused with 401 (0 = tokens never expire).
	TokenTTL time.Duration
	// MaxConnections per node (default 5, as documented by Cisco).
	MaxConnections int
	// MaxSubscriptions per subscribeRequest (default 100).
	MaxSubscriptions int
	// SnapshotChunk is the number of calls or participants per snapshot
	// message (default 20): real snapshots come split over messages.
	SnapshotChunk int
	// AckWindow is the number of sent messages that may be unacked (default 1:
	// the server waits for every ack: CMS asks for every message to be acked
	// before it sends later updates, and a client must assume it stalls).
	AckWindow int
	// MaxQueue bounds the messages queued for one connection; beyond it the
	// connection is closed (default 50000), so a client that stops acking
	// cannot make the fake grow without bound.
	MaxQueue int
	// ReportCancelled adds subscriptions dropped by a subscribeRequest, as
	// "deactivated", to its final subscriptionUpdate. The Events Guide hints
	// at it; off by default because the captures cannot confirm it.
	ReportCancelled bool

	// SoftwareVersion is what the REST status reports (default
	// DefaultSoftwareVersion).
	SoftwareVersion string

	// Seed makes call ids, correlators and participant ids reproducible.
	Seed int64
	// Logf receives diagnostics (default: discarded). Secrets never reach it.
	Logf func(format string, args ...any)
	// Now is the clock for token expiry, and for the uptime and alarm
	// ages of the REST API (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if len(o.NodeNames) == 0 {
		if o.Nodes <= 0 {
			o.Nodes = 3
		}
		for i := 1; i <= o.Nodes; i++ {
			o.NodeNames = append(o.NodeNames, fmt.Sprintf("cms%d", i))
		}
	} else {
		o.NodeNames = append([]string(nil), o.NodeNames...)
	}
	o.Nodes = len(o.NodeNames)
	seen := map[string]bool{}
	for _, n := range o.NodeNames {
		if n == "" || seen[n] {
			return o, fmt.Errorf("%w: node names must be unique and non-empty", ErrInvalid)
		}
		seen[n] = true
	}
	if o.Username == "" && o.Password == "" {
		o.Username, o.Password = "admin", "secret"
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 5
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 100
	}
	if o.SnapshotChunk <= 0 {
		o.SnapshotChunk = 20
	}
	if o.AckWindow <= 0 {
		o.AckWindow = 1
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 50000
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SoftwareVersion == "" {
		o.SoftwareVersion = DefaultSoftwareVersion
	}
	return o, nil
}

// Cluster is a running fake CMS cluster. All methods are safe for
// concurrent use.
type Cluster struct {
	opts  Options
	certs *loopbackpki.PKI
	wg    sync.WaitGroup // connection goroutines and servers

	// logMu serialises Logf calls and stops them once Close returns, so a
	// test's t.Logf is never called after the test ended (net/http may
	// still report a handshake error while its goroutines wind down).
	logMu  sync.Mutex
	logOff bool

	// mu guards everything below and every node, meeting, participant and
	// conn field documented as such. Model changes and the fan-out of
	// their messages happen in one critical section.
	mu           sync.Mutex
	closed       bool
	rng          *rand.Rand
	seq          uint64 // creation order of meetings, instances, participants
	nodes        []*node
	byName       map[string]*node
	meetings     map[string]*meeting     // by correlator
	participants map[string]*participant // by id
	ledger       ledger
}

// NewCluster starts every node's HTTPS server on 127.0.0.1 with a fresh CA.
func NewCluster(opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cs, err := loopbackpki.New("cmswstest fake CMS CA")
	if err != nil {
		return nil, fmt.Errorf("cmswstest: %w", err)
	}
	c := &Cluster{
		opts:         o,
		certs:        cs,
		rng:          rand.New(rand.NewPCG(uint64(o.Seed), 0x636d7377737465)),
		byName:       map[string]*node{},
		meetings:     map[string]*meeting{},
		participants: map[string]*participant{},
	}
	for _, name := range o.NodeNames {
		n := &node{
			name:      name,
			bridgeID:  c.newGUID(),
			tokens:    map[string]time.Time{},
			instances: map[string]*instance{},
			stats:     newNodeCounters(),
			rest:      newRESTState(o.Now()),
		}
		if err := c.startServer(n); err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.byName[name] = n
	}
	return c, nil
}

func (c *Cluster) startServer(n *node) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cmswstest: listen for %s: %w", n.name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/authTokens", func(w http.ResponseWriter, r *http.Request) { c.serveToken(n, w, r) })
	mux.HandleFunc("/events/v1", func(w http.ResponseWriter, r *http.Request) { c.serveEvents(n, w, r) })
	c.restRoutes(mux, n)
	n.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			unreachable := n.unreachable
			c.mu.Unlock()
			if unreachable {
				http.Error(w, "node unreachable", http.StatusServiceUnavailable)
				return
			}
			mux.ServeHTTP(w, r)
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{c.certs.Server},
			NextProtos:   []string{"http/1.1"},
			MinVersion:   tls.VersionTLS12,
		},
		// A non-nil empty map disables HTTP/2, so Hijack works.
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logfWriter(c.logf), "cmswstest "+n.name+": ", 0),
	}
	n.url = "https://" + ln.Addr().String()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := n.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logf("cmswstest: %s: serve: %v", n.name, err)
		}
	}()
	return nil
}

// logfWriter adapts Logf for http.Server.ErrorLog (TLS handshake errors of
// clients that do not trust the CA end up there).
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Close stops every server, closes every connection and waits for their
// goroutines. The cluster cannot be used afterwards.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	var conns []*conn
	for _, n := range c.nodes {
		conns = append(conns, n.conns...)
	}
	c.mu.Unlock()

	for _, n := range c.nodes {
		if n.srv != nil {
			_ = n.srv.Close()
		}
	}
	for _, cn := range conns {
		c.closeConn(cn, CloseShutdown)
	}
	c.wg.Wait()
	c.logMu.Lock()
	c.logOff = true
	c.logMu.Unlock()
}

// logf forwards to Options.Logf until Close returns.
func (c *Cluster) logf(format string, args ...any) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if !c.logOff {
		c.opts.Logf(format, args...)
	}
}

// Nodes returns the node names in configuration order.
func (c *Cluster) Nodes() []string {
	return append([]string(nil), c.opts.NodeNames...)
}

// URL returns the node's base URL ("https://127.0.0.1:PORT"), or "" for an
// unknown node.
func (c *Cluster) URL(node string) string {
	n := c.byName[node]
	if n == nil {
		return ""
	}
	return n.url
}

// WaitIdle returns when every open connection has sent everything queued
// for it and received every ack, or when ctx ends. Stalled connections are
// left out: they never drain. Use it before comparing a client with Truth.
func (c *Cluster) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if c.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cmswstest: wait idle: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Cluster) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		for _, cn := range n.conns {
			if !cn.stalled && !cn.idle() {
				return false
			}
		}
	}
	return true
}

// node is one Call Bridge. Fields below srv/url are guarded by Cluster.mu.
type node struct {
	name     string
	bridgeID string // the Call Bridge's GUID (movedParticipantCallBridge)
	srv      *http.Server
	url      string

	tokens     map[string]time.Time // token → issued at
	tokenOrder []string             // FIFO to bound tokens
	conns      []*conn              // open event connections, in accept order
	connSeq    uint64               // the next accepted connection's id (from 0)
	instances  map[string]*instance // by call id
	stats      nodeCounters
	// delays hold snapshots back, by resource ("" = any); see DelaySnapshots.
	delays map[cmsws.Resource]time.Duration
	// unreachable: see SetUnreachable; eventsRefused: see RefuseEvents.
	unreachable   bool
	eventsRefused bool
	// requestDelay: see DelayRequests.
	requestDelay time.Duration
	// rest is the node's REST API: its own counters, alarms, licences.
	rest restState
}

// newGUID returns a random, version-4-shaped GUID from the seeded source.
// Caller holds c.mu (or is NewCluster).
func (c *Cluster) newGUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := c.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (c *Cluster) node(name string) (*node, error) {
	n := c.byName[name]
	if n == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownNode, name)
	}
	return n, nil
}
