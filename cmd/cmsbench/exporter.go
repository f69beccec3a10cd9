package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// nodeName is the one node the bench's exporter watches.
const nodeName = "bench"

// exporterPath is the exporter as main wires it for one node with one
// events connection: the collector (model), the supervisor with its cmsws
// client, and the planner, with its registry. Nothing is left out or
// stubbed: the run's cost is the exporter's.
type exporterPath struct {
	reg     *prometheus.Registry
	model   *collector.Collector
	applied *appliedCounter
	sup     *supervisor.Supervisor
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startExporter starts it against url. rosters false excludes every
// meeting from roster subscriptions (config roster.exclude), which the
// calls stream uses so that both clients hold the calls subscription only.
func startExporter(logger log.Logger, url, user, pass string, tlsConf *tls.Config, rosters bool) (*exporterPath, error) {
	ctx, cancel := context.WithCancel(context.Background())
	x := &exporterPath{reg: prometheus.NewRegistry(), cancel: cancel}
	x.model = collector.New(collector.Options{Logger: logger, PerCallMetrics: true})
	x.reg.MustRegister(x.model)
	x.applied = &appliedCounter{Model: x.model}
	x.sup = supervisor.New(ctx, logger, x.applied)
	opts := planner.Options{Logger: logger}
	if !rosters {
		opts.Exclude = []*regexp.Regexp{regexp.MustCompile(".*")}
	}
	pl := planner.NewRunner(x.model, x.sup, opts)
	x.wg.Go(func() { x.model.Run(ctx) })
	x.wg.Go(func() { pl.Run(ctx) })
	_, err := x.sup.Apply([]supervisor.Spec{{
		Settings:    url,
		Connections: 1,
		Client: cmsws.Config{
			Name: nodeName, URL: url, Username: user, Password: pass, TLS: tlsConf,
			Subscriptions: planner.BaseSet(0),
		},
	}})
	if err != nil {
		x.stop()
		return nil, fmt.Errorf("exporter: %w", err)
	}
	x.model.SetRESTEnabled(map[string]bool{nodeName: false})
	return x, nil
}

// stop ends every goroutine of the exporter and waits for them.
func (x *exporterPath) stop() {
	x.sup.Close()
	x.cancel()
	x.wg.Wait()
}

// appliedCounter is the model as the supervisor sees it, counting the
// messages whose Handle returned (applied, under the model's lock) and
// when the last one did: two atomic stores per message, so the run's end
// is exact (not rounded up to a polling interval) and costs the exporter
// nothing it would notice.
type appliedCounter struct {
	supervisor.Model
	n    atomic.Int64
	last atomic.Int64 // unix nanoseconds
}

// Handle applies ev, then counts it if it was a message: the collector
// counts exactly those in cms_events_messages_total.
func (a *appliedCounter) Handle(ev cmsws.Event) {
	a.Model.Handle(ev)
	if ev.Kind == cmsws.EventMessage && ev.Message != nil {
		a.last.Store(time.Now().UnixNano())
		a.n.Add(1)
	}
}

// handled is the sum of cms_events_messages_total from the registry: what
// the truth check compares with the messages the server sent.
func (x *exporterPath) handled() (int, error) {
	mfs, err := x.reg.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather: %w", err)
	}
	n := 0.0
	for _, f := range mfs {
		if f.GetName() == "cms_events_messages_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int(n), nil
}

// errNotCaughtUp: the model did not apply every message in time.
var errNotCaughtUp = errors.New("the model did not apply every message the server sent")

// caughtUp waits until the model has applied sent messages and returns
// when the last of them was applied. It polls a counter every 100 µs; it
// is only called once the server saw the last ack, so at most the
// messages acked but not yet applied are left.
func (x *exporterPath) caughtUp(sent int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for x.applied.n.Load() < int64(sent) {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%w: %d of %d after %s", errNotCaughtUp, x.applied.n.Load(), sent, timeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Unix(0, x.applied.last.Load()), nil
}
