// Package supervisor runs one CMS events client per configured node and
// applies configuration changes: a reload starts clients for new nodes,
// stops clients of removed nodes, restarts clients whose settings changed,
// and leaves every other connection alone.
package supervisor

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Target is what the clients feed: the model. It learns about nodes before
// their first event and after their last one.
type Target interface {
	AddNode(name string)
	RemoveNode(name string)
	Handle(ev cmsws.Event)
}

// Spec is one node's client configuration. Settings is the node's effective
// configuration as the operator wrote it (including the password value);
// specs whose Settings are deeply equal leave the running connection alone.
// cmsws.Config itself is not compared: it holds funcs and pointers.
//
// Links is the number of event connections to open to the node (0 means
// 1). Link 0 starts with Client.Subscriptions; further links start with
// none and receive theirs through SetSubscriptions.
type Spec struct {
	Client   cmsws.Config
	Links    int
	Settings any
}

// Supervisor owns the running clients. Its methods are safe for concurrent
// use; Apply calls are serialised.
type Supervisor struct {
	logger log.Logger
	target Target
	ctx    context.Context

	mu      sync.Mutex
	running map[string]*node
}

type node struct {
	settings any
	clients  []*cmsws.Client // by link
	cancel   context.CancelFunc
	done     chan struct{} // closed when every link's client returned
}

// New returns a Supervisor whose clients live until ctx is cancelled or
// Close is called.
func New(ctx context.Context, logger log.Logger, target Target) *Supervisor {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Supervisor{logger: logger, target: target, ctx: ctx, running: make(map[string]*node)}
}

// Changes lists what Apply did, for the reload log line and for tests.
type Changes struct {
	Added, Removed, Restarted, Unchanged []string
}

// Apply makes the running set equal specs. All clients are built before
// anything is stopped, so an invalid spec leaves the old set running.
func (s *Supervisor) Apply(specs []Spec) (Changes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch Changes
	want := make(map[string]Spec, len(specs))
	for _, sp := range specs {
		if _, dup := want[sp.Client.Name]; dup {
			return ch, fmt.Errorf("node %q configured twice", sp.Client.Name)
		}
		want[sp.Client.Name] = sp
	}
	fresh := make(map[string][]*cmsws.Client)
	for name, sp := range want {
		if cur, ok := s.running[name]; ok && reflect.DeepEqual(cur.settings, sp.Settings) {
			continue
		}
		links := max(sp.Links, 1)
		for link := range links {
			cfg := sp.Client
			cfg.Link = link
			cfg.Sink = s.target.Handle
			if cfg.Logger == nil {
				cfg.Logger = s.logger
			}
			if link > 0 {
				cfg.Subscriptions = nil
			}
			c, err := cmsws.New(cfg)
			if err != nil {
				return ch, fmt.Errorf("node %q: %w", name, err)
			}
			fresh[name] = append(fresh[name], c)
		}
	}
	for name, cur := range s.running {
		sp, keep := want[name]
		switch {
		case !keep:
			s.stop(cur)
			delete(s.running, name)
			s.target.RemoveNode(name)
			ch.Removed = append(ch.Removed, name)
		case !reflect.DeepEqual(cur.settings, sp.Settings):
			// Same node, new settings: its model state stays; the new
			// connection's snapshot reconciles it.
			s.stop(cur)
			s.start(name, sp.Settings, fresh[name])
			ch.Restarted = append(ch.Restarted, name)
		default:
			ch.Unchanged = append(ch.Unchanged, name)
		}
	}
	for name, sp := range want {
		if _, ok := s.running[name]; ok {
			continue
		}
		s.target.AddNode(name)
		s.start(name, sp.Settings, fresh[name])
		ch.Added = append(ch.Added, name)
	}
	for _, l := range [][]string{ch.Added, ch.Removed, ch.Restarted, ch.Unchanged} {
		sort.Strings(l)
	}
	return ch, nil
}

func (s *Supervisor) start(name string, settings any, clients []*cmsws.Client) {
	ctx, cancel := context.WithCancel(s.ctx)
	n := &node{settings: settings, clients: clients, cancel: cancel, done: make(chan struct{})}
	s.running[name] = n
	var wg sync.WaitGroup
	for link, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				level.Error(s.logger).Log("msg", "events client stopped", "node", name, "link", link, "err", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(n.done)
	}()
}

func (s *Supervisor) stop(n *node) {
	n.cancel()
	<-n.done
}

// SetSubscriptions changes the desired subscription set of one connection
// of one node. It reports false when there is no such connection.
func (s *Supervisor) SetSubscriptions(name string, link int, subs []cmsws.Subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.running[name]
	if !ok || link < 0 || link >= len(n.clients) {
		return false
	}
	n.clients[link].SetSubscriptions(subs)
	return true
}

// Nodes returns the names of the running nodes, sorted.
func (s *Supervisor) Nodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.running))
}

// Close stops every client (each sends a close frame) and waits for them.
func (s *Supervisor) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, n := range s.running {
		s.stop(n)
		delete(s.running, name)
	}
}
