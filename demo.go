package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/config"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// demo is the --demo mode: the test suite's fake cluster, run in-process
// with random traffic, monitored over real loopback TLS WebSockets exactly
// like a real cluster. It lets a newcomer see every metric without a CMS.
type demo struct {
	cluster *cmswstest.Cluster
	nodes   []string
	cancel  context.CancelFunc
	done    chan struct{}
}

const (
	demoRosterBudget  = 3
	demoProbeInterval = 5 * time.Second
	demoUser          = "demo"
	demoPassword      = "demo-password"
)

func startDemo(ctx context.Context, logger log.Logger, seed int64) (*demo, error) {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	cluster, err := cmswstest.NewCluster(cmswstest.Options{
		Nodes: 3, NodeNames: []string{"cms-a", "cms-b", "cms-c"},
		Username: demoUser, Password: demoPassword, Seed: seed,
		Logf: func(format string, args ...any) {
			level.Debug(logger).Log("component", "demo_cluster", "msg", fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("demo cluster: %w", err)
	}
	if err := demoBooks(cluster, time.Now()); err != nil {
		cluster.Close()
		return nil, fmt.Errorf("demo cluster: %w", err)
	}
	tctx, cancel := context.WithCancel(ctx)
	d := &demo{cluster: cluster, nodes: cluster.Nodes(), cancel: cancel, done: make(chan struct{})}
	traffic := cmswstest.NewTraffic(cluster, cmswstest.TrafficOptions{Seed: seed})
	go func() {
		defer close(d.done)
		traffic.Run(tctx, 200*time.Millisecond)
	}()
	return d, nil
}

// demoBooks gives the simulated nodes what real ones keep in their books
// beside the calls: limits on two nodes (the third has none, as a node
// whose limits were never configured), licences that expire at different
// horizons (one soon enough to show the licence warnings), and a
// multiparty licence pool, and an alarm already active on one node (the
// traffic raises and clears others now and then).
func demoBooks(c *cmswstest.Cluster, now time.Time) error {
	i64 := func(v int64) *int64 { return &v }
	day := 24 * time.Hour
	names := c.Nodes()
	errs := []error{
		c.SetLimits(names[0], i64(40000), i64(60)),
		c.SetLimits(names[1], i64(25000), nil),
		c.SetLicense(names[0], "callBridge", "activated", now.Add(400*day), nil),
		c.SetLicense(names[1], "callBridge", "activated", now.Add(45*day), nil),
		c.SetLicense(names[1], "recording", "activated", now.Add(200*day), i64(4)),
		c.SetLicense(names[2], "callBridge", "activated", time.Time{}, nil),
		c.RaiseAlarm(names[2], "callDetailRecordConnectionFailure"),
	}
	for _, n := range names {
		errs = append(errs, c.SetMultipartyLicensing(n, cmsrest.MultipartyLicensing{
			PersonalLicenseLimit: i64(50), PersonalLicenses: i64(32), SharedLicenseLimit: i64(20), CapacityUnitLimit: i64(100),
		}))
	}
	return errors.Join(errs...)
}

// settings is the demo's specSource: one client per simulated node, verifying
// the simulated cluster's own CA (TLS stays on, as for a real cluster).
func (d *demo) settings() (settings, error) {
	var specs []supervisor.Spec
	for _, n := range d.nodes {
		specs = append(specs, supervisor.Spec{
			Settings: n + " " + d.cluster.URL(n),
			Client: cmsws.Config{
				Name: n, URL: d.cluster.URL(n),
				Username: demoUser, Password: demoPassword,
				TLS: &tls.Config{RootCAs: d.cluster.CertPool(), MinVersion: tls.VersionTLS12},
				Timing: cmsws.Timing{ProbeInterval: demoProbeInterval, ProbeTimeout: 3 * time.Second,
					BackoffMin: 500 * time.Millisecond, BackoffMax: 10 * time.Second},
				Subscriptions: planner.BaseSet(0),
			},
			REST: &cmsrest.Config{Name: n, URL: d.cluster.URL(n), Username: demoUser, Password: demoPassword,
				TLS:      &tls.Config{RootCAs: d.cluster.CertPool(), MinVersion: tls.VersionTLS12},
				Interval: demoProbeInterval, Timeout: 3 * time.Second},
		})
	}
	capacity := map[string]int{}
	keepDown := map[string]time.Duration{}
	for _, n := range d.nodes {
		capacity[n] = 60
		keepDown[n] = config.DefaultKeepCallsWhenDownProbes * demoProbeInterval
	}
	return settings{specs: specs, perCall: true, capacity: capacity, keepDown: keepDown,
		roster: config.Roster{BatchInterval: planner.DefaultInterval},
		// A real node allows ~100 roster subscriptions per connection; the
		// demo's dozen meetings would never strain that. Three per node make
		// the planner's choices (largest meetings first) and the coverage
		// metrics visible.
		rosterBudget: func(planner.Connection) int { return demoRosterBudget }}, nil
}

func (d *demo) close() {
	d.cancel()
	<-d.done
	d.cluster.Close()
}
