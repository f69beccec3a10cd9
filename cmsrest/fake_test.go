package cmsrest_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// results gathers the results of several pollers.
type results struct {
	mu sync.Mutex
	by map[string][]cmsrest.Result // by node
}

func (r *results) sink(res cmsrest.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = map[string][]cmsrest.Result{}
	}
	r.by[res.Node] = append(r.by[res.Node], res)
}

func (r *results) of(node string) []cmsrest.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cmsrest.Result(nil), r.by[node]...)
}

// waitFor polls cond until it holds or 10 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newCluster(t *testing.T, o cmswstest.Options) *cmswstest.Cluster {
	t.Helper()
	c, err := cmswstest.NewCluster(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// runPoller polls node of c until the test ends.
func runPoller(t *testing.T, c *cmswstest.Cluster, node string, mod func(*cmsrest.Config), sink cmsrest.Sink) {
	t.Helper()
	cfg := cmsrest.Config{
		Name: node, URL: c.URL(node), Username: "admin", Password: "secret",
		TLS:      &tls.Config{RootCAs: c.CertPool(), MinVersion: tls.VersionTLS12},
		Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, Sink: sink,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := cmsrest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// field is the resource field of a result and of the truth, to compare.
func field(r cmsrest.Result, nt cmswstest.NodeRESTTruth) (got, want any) {
	switch r.Resource {
	case cmsrest.ResourceStatus:
		return r.Status, &nt.Status
	case cmsrest.ResourceLoad:
		return r.Load, &nt.Load
	case cmsrest.ResourceCluster:
		return r.Cluster, &nt.Cluster
	case cmsrest.ResourceAlarms:
		return r.Alarms, nt.Alarms
	case cmsrest.ResourceLicensing:
		return r.Licensing, &nt.Licensing
	case cmsrest.ResourceMultipartyLicensing:
		return r.MultipartyLicensing, &nt.MultipartyLicensing
	}
	return nil, nil
}

// Pollers of every node of a fake cluster read exactly what the fake's
// ground truth says, one request at a time per node.
func TestPollerAgainstFakeCluster(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := newCluster(t, cmswstest.Options{Nodes: 3, Seed: 2, Now: func() time.Time { return now }})
	corr, err := c.StartMeeting("cms1", cmswstest.MeetingOptions{Name: "S"})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"cms1", "cms1", "cms2", "cms3"} {
		if _, err := c.AddParticipant(corr, n, cmswstest.ParticipantOptions{Name: string(rune('A' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	limit := int64(120)
	for _, err := range []error{
		c.RaiseAlarm("cms2", "mediaProcessingOverloaded"),
		c.SetLimits("cms1", &limit, nil),
		c.SetLicense("cms3", "recording", "activated", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), &limit),
		c.ExtraCallLegs("cms3", 4),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rs results
	for i, n := range c.Nodes() {
		runPoller(t, c, n, func(cfg *cmsrest.Config) {
			cfg.Rand = func() float64 { return float64(i) / 10 }
			cfg.Now = func() time.Time { return now }
		}, rs.sink)
	}
	waitFor(t, "two rounds on every node", func() bool {
		for _, n := range c.Nodes() {
			if len(rs.of(n)) < 2*len(cmsrest.Resources) {
				return false
			}
		}
		return true
	})
	truth := c.RESTTruth()
	stats := c.Stats()
	for _, n := range c.Nodes() {
		got := rs.of(n)
		for _, r := range got {
			if r.Err != nil {
				t.Errorf("%s %s: %v", n, r.Resource, r.Err)
				continue
			}
			g, w := field(r, truth[n])
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s %s: got %+v, want %+v", n, r.Resource, g, w)
			}
		}
		st := stats.Nodes[n]
		if st.RESTMaxConcurrent != 1 {
			t.Errorf("%s: %d requests at once", n, st.RESTMaxConcurrent)
		}
		// One request per result, plus at most one in flight when the
		// stats were taken.
		total := 0
		for _, k := range st.RESTRequests {
			total += k
		}
		if total < len(got) || total > len(got)+1 || st.RESTAuthFailures != 0 {
			t.Errorf("%s: %d requests (%v) for %d results", n, total, st.RESTRequests, len(got))
		}
	}
	if legs := *truth["cms3"].Status.CallLegsActive; legs != 1+2+4 {
		t.Errorf("cms3 legs %d, want 7 (one participant, two links, four extra)", legs)
	}
}

// Every fault of the fake's REST API ends as the failure reason it is,
// and a healed node is read again.
func TestPollerAgainstFakeFaults(t *testing.T) {
	c := newCluster(t, cmswstest.Options{Nodes: 1})
	cases := []struct {
		name   string
		fault  cmswstest.RESTFault
		mod    func(*cmsrest.Config)
		cut    bool
		reason string
	}{
		{name: "wrong password", mod: func(cfg *cmsrest.Config) { cfg.Password = "nope" }, reason: cmsrest.FailureAuth},
		{name: "403", fault: cmswstest.RESTFault{Status: http.StatusForbidden}, reason: cmsrest.FailureAuth},
		{name: "500", fault: cmswstest.RESTFault{Status: http.StatusInternalServerError}, reason: cmsrest.FailureHTTPStatus},
		{name: "malformed", fault: cmswstest.RESTFault{Malformed: true}, reason: cmsrest.FailureDecode},
		{name: "slow", fault: cmswstest.RESTFault{Delay: time.Second}, reason: cmsrest.FailureTimeout},
		{name: "unreachable", cut: true, reason: cmsrest.FailureHTTPStatus},
		{name: "untrusted", mod: func(cfg *cmsrest.Config) { cfg.TLS = nil }, reason: cmsrest.FailureTLS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SetRESTFault("cms1", tc.fault); err != nil {
				t.Fatal(err)
			}
			if err := c.SetUnreachable("cms1", tc.cut); err != nil {
				t.Fatal(err)
			}
			var rs results
			runPoller(t, c, "cms1", func(cfg *cmsrest.Config) {
				cfg.Resources = []cmsrest.Resource{cmsrest.ResourceLoad}
				cfg.Timeout = 200 * time.Millisecond
				cfg.Interval = 20 * time.Millisecond
				cfg.Rand = func() float64 { return 0 }
				if tc.mod != nil {
					tc.mod(cfg)
				}
			}, rs.sink)
			waitFor(t, "a failure", func() bool { return len(rs.of("cms1")) > 0 })
			r := rs.of("cms1")[0]
			if r.Err == nil || r.Reason != tc.reason {
				t.Fatalf("reason %q, err %v; want %s", r.Reason, r.Err, tc.reason)
			}
			if tc.mod != nil {
				return // the poller's own settings are wrong: no healing
			}
			if err := c.SetRESTFault("cms1", cmswstest.RESTFault{}); err != nil {
				t.Fatal(err)
			}
			if err := c.SetUnreachable("cms1", false); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "recovery", func() bool {
				rr := rs.of("cms1")
				return rr[len(rr)-1].Err == nil
			})
		})
	}
}
