package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

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

	reloadMu        sync.Mutex
	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
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
// untouched: a typo in the file must not take monitoring down.
func (x *exporter) reload() error {
	x.reloadMu.Lock()
	defer x.reloadMu.Unlock()
	st, err := x.source()
	if err == nil {
		var ch supervisor.Changes
		ch, err = x.sup.Apply(st.specs)
		if err == nil {
			x.model.SetPerCallMetrics(st.perCall)
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
		x.reloadOK.Set(0)
		return err
	}
	x.reloadOK.Set(1)
	x.reloadTimestamp.SetToCurrentTime()
	return nil
}

// reloadOnSIGHUP reloads the configuration at every SIGHUP until ctx ends.
func (x *exporter) reloadOnSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
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
