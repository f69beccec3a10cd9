package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// exporter ties the model, the clients and the HTTP side together.
type exporter struct {
	logger   log.Logger
	registry *prometheus.Registry
	model    *collector.Collector
	sup      *supervisor.Supervisor
	source   specSource
	planner  *planner.Runner
	// lifecycle enables POST /-/reload (--web.enable-lifecycle).
	lifecycle bool
	// fullFrames logs server frames unredacted in warnings
	// (--log.level=debug); otherwise names and URIs are cut out.
	fullFrames bool

	reloadMu        sync.Mutex
	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
	// reloads is what the status page and /-/ready know of the loads.
	reloads reloadStatus
}

// reloadStatus records the outcome of the configuration loads, for
// /-/ready (ready once one succeeded) and the status page. It has its own
// lock: readers must not wait behind a reload stuck reading a file.
type reloadStatus struct {
	mu sync.Mutex
	// loaded: some load succeeded; from then on the model serves a
	// configuration, and a failed reload keeps it.
	loaded      bool
	lastOK      bool
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     string
	nodes       int
}

// record notes a load's outcome.
func (r *reloadStatus) record(now time.Time, nodes int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastAttempt = now
	r.lastOK = err == nil
	if err != nil {
		r.lastErr = err.Error()
		return
	}
	r.loaded, r.lastSuccess, r.lastErr, r.nodes = true, now, "", nodes
}

// get copies the record.
func (r *reloadStatus) get() reloadView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return reloadView{Loaded: r.loaded, LastOK: r.lastOK, LastAttempt: r.lastAttempt, LastSuccess: r.lastSuccess,
		LastError: r.lastErr, Nodes: r.nodes}
}

// reloadView is a copy of reloadStatus.
type reloadView struct {
	Loaded, LastOK           bool
	LastAttempt, LastSuccess time.Time
	LastError                string
	Nodes                    int
}

func newExporter(ctx context.Context, logger log.Logger) *exporter {
	model := collector.New(collector.Options{Logger: logger, PerCallMetrics: true})
	reg := prometheus.NewRegistry()
	x := &exporter{
		logger:   logger,
		registry: reg,
		model:    model,
		sup:      supervisor.New(ctx, logger, model),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cms_exporter_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cms_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(versioncollector.NewCollector(programName), model, x.reloadOK, x.reloadTimestamp)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	x.planner = planner.NewRunner(model, x.sup, planner.Options{Logger: logger})
	go model.Run(ctx)
	go x.planner.Run(ctx)
	return x
}

func (x *exporter) close() { x.sup.Close() }

// reload reads the node set and applies it. On error the running set is
// untouched: a typo in the file must not take monitoring down. Reloads
// never run at once: this one waits for one in progress (SIGHUP, start);
// tryReload does not (HTTP).
func (x *exporter) reload() error {
	x.reloadMu.Lock()
	defer x.reloadMu.Unlock()
	return x.reloadLocked()
}

// errReloadInProgress: a reload was asked for while one was running.
var errReloadInProgress = errors.New("a reload is already in progress; try again when it has finished")

// tryReload is reload unless one is in progress, in which case it returns
// errReloadInProgress at once: an HTTP client must not queue behind a
// reload stuck reading a file.
func (x *exporter) tryReload() error {
	if !x.reloadMu.TryLock() {
		return errReloadInProgress
	}
	defer x.reloadMu.Unlock()
	return x.reloadLocked()
}

func (x *exporter) reloadLocked() error {
	st, err := x.source()
	if err == nil {
		for i := range st.specs {
			st.specs[i].Client.LogFullFrames = x.fullFrames
		}
		var ch supervisor.Changes
		ch, err = x.sup.Apply(st.specs)
		if err == nil {
			x.model.SetPerCallMetrics(st.perCall)
			x.model.SetMeetingNames(st.names)
			x.model.SetKeepCallsWhenDown(st.keepDown)
			x.model.SetCapacity(st.capacity)
			x.model.SetRESTEnabled(st.restEnabled())
			x.planner.SetOptions(planner.Options{Interval: st.roster.BatchInterval,
				Include: st.roster.Include, Exclude: st.roster.Exclude, Capacity: st.rosterBudget, Logger: x.logger})
			level.Info(x.logger).Log("msg", "configuration applied", "nodes", len(st.specs),
				"added", fmt.Sprint(ch.Added), "removed", fmt.Sprint(ch.Removed),
				"restarted", fmt.Sprint(ch.Restarted), "unchanged", len(ch.Unchanged))
		}
	}
	if err != nil {
		x.reloads.record(time.Now(), 0, err)
		x.reloadOK.Set(0)
		return err
	}
	x.reloads.record(time.Now(), len(st.specs), nil)
	x.reloadOK.Set(1)
	x.reloadTimestamp.SetToCurrentTime()
	return nil
}

// reloadOnSIGHUP reloads the configuration at every SIGHUP on hup until
// ctx ends. The channel is registered by run before anything else, so a
// SIGHUP during the start is not lost (nor fatal).
func (x *exporter) reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := x.reload(); err != nil {
				level.Error(x.logger).Log("msg", "reload failed; keeping the running configuration", "err", err)
			}
		}
	}
}
