package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/config"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// settings is what a (re)load yields: the nodes to run and the options
// that may change with them.
type settings struct {
	specs    []supervisor.Spec
	perCall  bool
	capacity map[string]int // node → stated capacity in participants
	// keepDown: node → how long its calls stay while its stream is down
	// (config keep_calls_when_down); nodes not listed keep them until back.
	keepDown map[string]time.Duration
	roster   config.Roster
	// names is how meeting names appear on /metrics (meeting_names).
	names collector.NameMode
	// rosterBudget overrides the roster subscriptions per connection (nil:
	// CMS's limit). Only the demo sets it, to show the budget logic at work.
	rosterBudget func(planner.Connection) int
}

// restEnabled says which nodes have a REST poller.
func (st settings) restEnabled() map[string]bool {
	on := make(map[string]bool, len(st.specs))
	for _, sp := range st.specs {
		on[sp.Client.Name] = sp.REST != nil
	}
	return on
}

// specSource yields the settings to run: from the config file, or from the
// demo cluster.
type specSource func() (settings, error)

// fileSource reads the node set from the configuration file at every
// (re)load, so SIGHUP and /-/reload see edits, including password files.
// ctx is the process's: when it ends (SIGTERM) a load stuck reading a
// file is abandoned, so it cannot hold up the shutdown.
func fileSource(ctx context.Context, path string, logger log.Logger) specSource {
	return func() (settings, error) {
		cfg, err := config.LoadContext(ctx, path)
		if err != nil {
			return settings{}, err
		}
		for _, w := range cfg.Warnings {
			level.Warn(logger).Log("msg", "risky configuration", "file", path, "warning", w)
		}
		specs, err := specsFromConfig(cfg)
		if err != nil {
			return settings{}, err
		}
		capacity := make(map[string]int, len(cfg.Nodes))
		keepDown := make(map[string]time.Duration, len(cfg.Nodes))
		for _, n := range cfg.Nodes {
			capacity[n.Name] = n.CapacityParticipants
			keepDown[n.Name] = n.KeepCallsWhenDown
		}
		names, err := collector.ParseNameMode(cfg.MeetingNames)
		if err != nil { // config validated it: the two lists disagree
			return settings{}, fmt.Errorf("%s: meeting_names: %w", path, err)
		}
		return settings{specs: specs, perCall: cfg.PerCallMetrics, capacity: capacity, keepDown: keepDown, roster: cfg.Roster, names: names}, nil
	}
}

// specsFromConfig turns resolved config nodes into client configurations.
// The config.Node is the Spec's Settings, which the supervisor compares
// with reflect.DeepEqual: a Node holds the password and the CA file's
// content, so a node restarts exactly when a setting (or the password, or
// the CA file's content) changed.
func specsFromConfig(cfg *config.Config) ([]supervisor.Spec, error) {
	specs := make([]supervisor.Spec, 0, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		tlsConf, err := n.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		var rest *cmsrest.Config
		if n.REST.Enabled {
			rest = &cmsrest.Config{Name: n.Name, URL: n.URL, Username: n.Username, Password: n.Password.Reveal(),
				TLS: tlsConf, Interval: n.REST.Interval, Timeout: n.REST.Timeout}
		}
		specs = append(specs, supervisor.Spec{
			Settings:    n,
			Connections: n.Connections,
			REST:        rest,
			Client: cmsws.Config{
				Name:          n.Name,
				URL:           n.URL,
				Username:      n.Username,
				Password:      n.Password.Reveal(),
				TLS:           tlsConf,
				Timing:        n.Timing,
				Subscriptions: planner.BaseSet(0),
			},
		})
	}
	return specs, nil
}
