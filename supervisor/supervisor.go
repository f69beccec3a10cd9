// Package supervisor runs, per configured node, one CMS events client per
// connection and the node's REST poller, and applies configuration
// changes: a reload starts clients for new nodes, stops clients of removed
// nodes, restarts clients whose settings changed, and leaves every other
// connection alone.
package supervisor

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/internal/ratelog"
)

// Model is what the clients feed: it learns about nodes before their first
// event and after their last one.
type Model interface {
	AddNode(name string)
	RemoveNode(name string)
	Handle(ev cmsws.Event)
	HandleREST(res cmsrest.Result)
}

// Spec is one node's client configuration. Settings is the node's effective
// configuration as the operator wrote it (including the password value);
// specs whose Settings are deeply equal leave the running connections alone.
// cmsws.Config itself is not compared: it holds funcs and pointers.
//
// Connections is the number of event connections to open to the node (0
// means 1). Connection 0 starts with Client.Subscriptions; the others start
// with none and receive theirs through SetSubscriptions.
//
// REST, when not nil, runs the node's REST poller beside its connections
// (its Sink is the model's).
type Spec struct {
	Client      cmsws.Config
	Connections int
	REST        *cmsrest.Config
	Settings    any
}

// Supervisor owns the running clients. Its methods are safe for concurrent
// use; Apply calls are serialised.
type Supervisor struct {
	logger log.Logger
	model  Model
	ctx    context.Context

	// flushEvery is how often a node's held-back warnings are summed up
	// (ratelog.DefaultWindow; tests shorten it).
	flushEvery time.Duration

	mu      sync.Mutex
	running map[string]*node
}

type node struct {
	settings any
	clients  []*cmsws.Client // by connection number
	poller   *cmsrest.Poller // nil: REST not polled
	// limiter bounds the warnings of the node's connections and poller;
	// what it held back is told every flushEvery, even if the flood
	// that caused it has stopped and the connections stay up.
	limiter *ratelog.Limiter
	cancel  context.CancelFunc
	done    chan struct{} // closed when every connection's client returned
}

// New returns a Supervisor whose clients live until ctx is cancelled or
// Close is called.
func New(ctx context.Context, logger log.Logger, model Model) *Supervisor {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Supervisor{logger: logger, model: model, ctx: ctx, running: make(map[string]*node), flushEvery: ratelog.DefaultWindow}
}

// Changes lists what Apply did, for the reload log line and for tests.
type Changes struct {
	Added, Removed, Restarted, Unchanged []string
}

// Apply makes the running set equal specs. All clients are built before
// anything is stopped, so an invalid spec leaves the old set running. The
// nodes that go or restart are stopped in parallel: each waits for its
// close handshake, and a large reload must not take that long per node.
func (s *Supervisor) Apply(specs []Spec) (Changes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[string]Spec, len(specs))
	for _, sp := range specs {
		if _, dup := want[sp.Client.Name]; dup {
			return Changes{}, fmt.Errorf("node %q configured twice", sp.Client.Name)
		}
		want[sp.Client.Name] = sp
	}
	fresh, err := s.buildChanged(want)
	if err != nil {
		return Changes{}, err
	}

	var ch Changes
	var stopping []*node
	for name, cur := range s.running {
		sp, keep := want[name]
		switch {
		case !keep:
			ch.Removed = append(ch.Removed, name)
		case !reflect.DeepEqual(cur.settings, sp.Settings):
			// Same node, new settings: its model state stays; the new
			// connection's snapshot reconciles it.
			ch.Restarted = append(ch.Restarted, name)
		default:
			ch.Unchanged = append(ch.Unchanged, name)
			continue
		}
		stopping = append(stopping, cur)
		delete(s.running, name)
	}
	stopAll(stopping)
	for _, name := range ch.Removed {
		s.model.RemoveNode(name)
	}
	for _, name := range ch.Restarted {
		s.start(name, fresh[name])
	}
	for name := range want {
		if _, ok := s.running[name]; ok {
			continue
		}
		s.model.AddNode(name)
		s.start(name, fresh[name])
		ch.Added = append(ch.Added, name)
	}
	for _, l := range [][]string{ch.Added, ch.Removed, ch.Restarted, ch.Unchanged} {
		slices.Sort(l)
	}
	return ch, nil
}

// buildChanged builds the clients of every wanted node that is new or
// whose settings changed, one per connection, without starting them.
func (s *Supervisor) buildChanged(want map[string]Spec) (map[string]*node, error) {
	fresh := make(map[string]*node)
	for name, sp := range want {
		if cur, ok := s.running[name]; ok && reflect.DeepEqual(cur.settings, sp.Settings) {
			continue
		}
		// One warning limiter per node, shared by its connections and its
		// REST poller: a flood of bad frames on every connection of a node
		// is one flood, logged once per reason and then summarised.
		limiter := sp.Client.Limiter
		if limiter == nil {
			limiter = ratelog.New(0, 0, sp.Client.Now)
		}
		for number := range max(sp.Connections, 1) {
			cfg := sp.Client
			cfg.Connection = number
			cfg.Limiter = limiter
			cfg.Sink = s.model.Handle
			if cfg.Logger == nil {
				cfg.Logger = s.logger
			}
			if number > 0 {
				cfg.Subscriptions = nil
			}
			c, err := cmsws.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("node %q: %w", name, err)
			}
			if fresh[name] == nil {
				fresh[name] = &node{settings: sp.Settings, limiter: limiter}
			}
			fresh[name].clients = append(fresh[name].clients, c)
		}
		if sp.REST != nil {
			cfg := *sp.REST
			cfg.Sink = s.model.HandleREST
			if cfg.Limiter == nil {
				cfg.Limiter = limiter
			}
			if cfg.Logger == nil {
				cfg.Logger = s.logger
			}
			p, err := cmsrest.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("node %q: REST: %w", name, err)
			}
			fresh[name].poller = p
		}
	}
	return fresh, nil
}

func (s *Supervisor) start(name string, n *node) {
	ctx, cancel := context.WithCancel(s.ctx)
	n.cancel, n.done = cancel, make(chan struct{})
	s.running[name] = n
	var wg sync.WaitGroup
	for _, c := range n.clients {
		wg.Go(func() { c.Run(ctx) })
	}
	if n.poller != nil {
		wg.Go(func() { n.poller.Run(ctx) })
	}
	wg.Go(func() { flushEvery(ctx, n.limiter, s.flushEvery) })
	go func() {
		wg.Wait()
		close(n.done)
	}()
}

// flushEvery tells what l held back every period until ctx ends: the
// periodic summary of suppressed warnings.
func flushEvery(ctx context.Context, l *ratelog.Limiter, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Flush()
		}
	}
}

// stopAll stops the nodes' clients (each sends a close frame) and waits
// for all of them together.
func stopAll(nodes []*node) {
	for _, n := range nodes {
		n.cancel()
	}
	for _, n := range nodes {
		<-n.done
	}
}

// SetSubscriptions changes the desired subscription set of one connection
// of one node. It reports false when there is no such connection.
func (s *Supervisor) SetSubscriptions(name string, number int, subs []cmsws.Subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.running[name]
	if !ok || number < 0 || number >= len(n.clients) {
		return false
	}
	n.clients[number].SetSubscriptions(subs)
	return true
}

// Close stops every client (each sends a close frame) and waits for them.
func (s *Supervisor) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopAll(slices.Collect(maps.Values(s.running)))
	clear(s.running)
}
