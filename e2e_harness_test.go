package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/config"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// harness is the exporter (model, supervisor, HTTP handler, exactly as main
// wires them) attached to a fake cluster over real loopback TLS WebSockets.
type harness struct {
	t       testing.TB
	cluster *cmswstest.Cluster
	x       *exporter
	srv     *httptest.Server
	logs    *testutil.SyncBuffer

	mu          sync.Mutex
	nodes       []string // nodes the exporter is configured with
	tweak       func(*cmsws.Config)
	connections int           // event connections per node
	batch       time.Duration // the planner's batch interval
	// keepDown is keep_calls_when_down for every node (0: keep until back).
	keepDown time.Duration
	// capacity is capacity_participants per node (nil: none stated).
	capacity map[string]int
	// restInterval, when not 0, polls every node's REST API that often.
	restInterval time.Duration
}

// fastClient makes reconnects and probes quick enough for tests while
// keeping every mechanism of a production client.
func fastClient(c *cmsws.Config) {
	c.ProbeInterval = 2 * time.Second
	c.ProbeTimeout = time.Second
	c.BackoffMin, c.BackoffMax = 100*time.Millisecond, 500*time.Millisecond
	c.AuthFailureBackoff = time.Hour
}

func newHarness(t testing.TB, opts cmswstest.Options, tweak func(*cmsws.Config), before ...func(*cmswstest.Cluster)) *harness {
	t.Helper()
	return newHarnessConnections(t, 1, opts, tweak, before...)
}

// newHarnessConnections is newHarness with that many event connections per node.
func newHarnessConnections(t testing.TB, connections int, opts cmswstest.Options, tweak func(*cmsws.Config), before ...func(*cmswstest.Cluster)) *harness {
	t.Helper()
	return newHarnessBatch(t, connections, 100*time.Millisecond, opts, tweak, before...)
}

// newHarnessBatch is newHarnessConnections with the planner's batch interval.
func newHarnessBatch(t testing.TB, connections int, batch time.Duration, opts cmswstest.Options, tweak func(*cmsws.Config), before ...func(*cmswstest.Cluster)) *harness {
	t.Helper()
	cluster, err := cmswstest.NewCluster(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	for _, f := range before {
		f(cluster)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testutil.SyncBuffer{}
	logger := log.NewLogfmtLogger(logs)
	h := &harness{t: t, cluster: cluster, logs: logs, nodes: cluster.Nodes(), tweak: tweak, connections: connections, batch: batch}
	h.x = newExporter(ctx, logger)
	h.x.source = h.specs
	h.start(cancel)
	return h
}

// start applies the first configuration and serves /metrics until the
// test ends, when the server, the exporter and its context (cancel) stop.
func (h *harness) start(cancel context.CancelFunc) {
	h.t.Helper()
	if err := h.x.reload(); err != nil {
		h.t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.x.handler("/metrics"))
	h.t.Cleanup(func() {
		h.srv.Close()
		h.x.close()
		cancel()
	})
}

func (h *harness) specs() (settings, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var specs []supervisor.Spec
	for _, n := range h.nodes {
		c := cmsws.Config{
			Name: n, URL: h.cluster.URL(n), Username: "admin", Password: "secret",
			TLS:           &tls.Config{RootCAs: h.cluster.CertPool(), MinVersion: tls.VersionTLS12},
			Subscriptions: planner.BaseSet(0),
		}
		fastClient(&c)
		if h.tweak != nil {
			h.tweak(&c)
		}
		sp := supervisor.Spec{Client: c, Connections: h.connections, Settings: c.Name + c.URL + c.Password}
		if h.restInterval > 0 {
			sp.REST = &cmsrest.Config{Name: n, URL: c.URL, Username: c.Username, Password: c.Password,
				TLS: c.TLS, Interval: h.restInterval, Timeout: h.restInterval / 2}
			sp.Settings = fmt.Sprint(sp.Settings, h.restInterval)
		}
		specs = append(specs, sp)
	}
	var keepDown map[string]time.Duration
	if h.keepDown > 0 {
		keepDown = map[string]time.Duration{}
		for _, n := range h.nodes {
			keepDown[n] = h.keepDown
		}
	}
	return settings{specs: specs, perCall: true, keepDown: keepDown, capacity: h.capacity, roster: config.Roster{BatchInterval: h.batch}}, nil
}

// setKeepDown sets keep_calls_when_down for every node, as a reload would.
func (h *harness) setKeepDown(d time.Duration) {
	h.mu.Lock()
	h.keepDown = d
	h.mu.Unlock()
	if err := h.x.reload(); err != nil {
		h.t.Fatal(err)
	}
}

// scrape fetches /metrics and returns every sample as "name{labels}" → value.
func (h *harness) scrape() map[string]float64 {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return parseSamples(h.t, body)
}

func parseSamples(t testing.TB, body []byte) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := make(map[string]float64)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			out[seriesKey(name, m.GetLabel())] = value(f, m)
		}
	}
	return out
}

func value(f *dto.MetricFamily, m *dto.Metric) float64 {
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func key(name string, kv ...string) string {
	var labels []*dto.LabelPair
	for i := 0; i+1 < len(kv); i += 2 {
		n, v := kv[i], kv[i+1]
		labels = append(labels, &dto.LabelPair{Name: &n, Value: &v})
	}
	return seriesKey(name, labels)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// truthMetrics derives, from the fake cluster's ground truth, every
// call-level and cluster-level series the exporter must show, and the
// transition counters from what the fake told live (Transitions).
func truthMetrics(tr cmswstest.Truth, tx cmswstest.Transitions, up []string) map[string]float64 {
	want := make(map[string]float64)
	for name, v := range map[string]int{
		"cms_meetings_started_total": tx.MeetingsStarted, "cms_meetings_ended_total": tx.MeetingsEnded,
		"cms_recordings_started_total": tx.RecordingsStarted, "cms_recordings_stopped_total": tx.RecordingsStopped,
		"cms_streams_started_total": tx.StreamsStarted, "cms_streams_stopped_total": tx.StreamsStopped,
		"cms_meetings_locked_total": tx.MeetingsLocked, "cms_meetings_unlocked_total": tx.MeetingsUnlocked,
		"cms_participants_joined_total": tx.ParticipantsJoined,
		// The sum over reasons: see diffTruth.
		"cms_participants_left_total": tx.ParticipantsLeft,
	} {
		want[key(name)] = float64(v)
	}
	type meeting struct {
		callType                       string
		participants                   int
		recording, streaming, isLocked bool
	}
	meetings := make(map[string]*meeting)
	for node, nt := range tr.Nodes {
		for _, c := range nt.Calls {
			want[key("cms_call_info", "node", node, "call", c.ID, "correlator", c.Correlator, "name", c.Name, "call_type", c.CallType)] = 1
			want[key("cms_call_participants", "node", node, "call", c.ID)] = float64(c.Participants)
			want[key("cms_call_distributed_instances", "node", node, "call", c.ID)] = float64(c.DistributedInstances)
			want[key("cms_call_recording", "node", node, "call", c.ID)] = b2f(c.Recording)
			want[key("cms_call_streaming", "node", node, "call", c.ID)] = b2f(c.Streaming)
			want[key("cms_call_endpoint_recording", "node", node, "call", c.ID)] = b2f(c.EndpointRecording)
			want[key("cms_call_locked", "node", node, "call", c.ID)] = b2f(c.Locked)
			want[key("cms_node_calls", "node", node, "call_type", c.CallType)]++
			m := meetings[c.Correlator]
			if m == nil {
				m = &meeting{callType: c.CallType}
				meetings[c.Correlator] = m
			}
			m.participants = max(m.participants, c.Participants)
			m.recording = m.recording || c.Recording
			m.streaming = m.streaming || c.Streaming
			m.isLocked = m.isLocked || c.Locked
		}
	}
	var parts, rec, str, lck float64
	for _, m := range meetings {
		want[key("cms_cluster_meetings", "call_type", m.callType)]++
		parts += float64(m.participants)
		rec += b2f(m.recording)
		str += b2f(m.streaming)
		lck += b2f(m.isLocked)
	}
	want[key("cms_cluster_participants")] = parts
	want[key("cms_cluster_meetings_recording")] = rec
	want[key("cms_cluster_meetings_streaming")] = str
	want[key("cms_cluster_meetings_locked")] = lck
	for _, n := range up {
		want[key("cms_up", "node", n)] = 1
		// Synced: the snapshot phase is over, so what follows is live.
		want[key("cms_events_synced", "node", n)] = 1
	}
	return want
}

// modelFamilies are the families truthMetrics speaks for; for them the
// exporter must show exactly the truth (zero-valued aggregate rows aside).
var modelFamilies = []string{"cms_call_info", "cms_call_participants", "cms_call_distributed_instances",
	"cms_call_recording", "cms_call_streaming", "cms_call_endpoint_recording", "cms_call_locked",
	"cms_node_calls", "cms_cluster_meetings", "cms_cluster_participants", "cms_cluster_meetings_recording",
	"cms_cluster_meetings_streaming", "cms_cluster_meetings_locked", "cms_up", "cms_events_synced",
	"cms_meetings_started_total", "cms_meetings_ended_total", "cms_recordings_started_total",
	"cms_recordings_stopped_total", "cms_streams_started_total", "cms_streams_stopped_total",
	"cms_meetings_locked_total", "cms_meetings_unlocked_total", "cms_participants_joined_total",
	"cms_participants_left_total"}

// summedFamilies are compared with the truth as the sum of their series:
// the truth knows how many left, the exporter also says why.
var summedFamilies = map[string]bool{"cms_participants_left_total": true}

var zeroRowsAllowed = map[string]bool{"cms_node_calls": true, "cms_cluster_meetings": true, "cms_up": true, "cms_events_synced": true}

func family(k string) string { return k[:strings.IndexByte(k, '{')] }

// diffTruth lists the differences between the scraped model families and
// the truth, empty when they are equal.
func diffTruth(got, want map[string]float64) []string {
	var diffs []string
	inScope := make(map[string]bool)
	for _, f := range modelFamilies {
		inScope[f] = true
	}
	sums := map[string]float64{}
	for k, v := range got {
		f := family(k)
		if !inScope[f] {
			continue
		}
		if summedFamilies[f] {
			sums[key(f)] += v
			continue
		}
		w, ok := want[k]
		if !ok && v == 0 && zeroRowsAllowed[f] {
			continue
		}
		if !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s = %v", k, v))
		} else if w != v {
			diffs = append(diffs, fmt.Sprintf("%s = %v, truth %v", k, v, w))
		}
	}
	for k, w := range want {
		if summedFamilies[family(k)] {
			if g := sums[k]; g != w {
				diffs = append(diffs, fmt.Sprintf("sum of %s = %v, truth %v", family(k), g, w))
			}
			continue
		}
		if _, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s (truth %v)", k, w))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// eventuallyTruth waits until /metrics equals the cluster's ground truth,
// with every node in up reporting cms_up 1, and returns the last scrape.
// The fake's queues are drained first; the exporter applies what it acked
// right after, so a short settling poll follows.
func (h *harness) eventuallyTruth(up ...string) map[string]float64 {
	h.t.Helper()
	return h.eventuallyTruthWithin(15*time.Second, up...)
}

// eventuallyTruthWithin is eventuallyTruth with its deadline.
func (h *harness) eventuallyTruthWithin(d time.Duration, up ...string) map[string]float64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		got   map[string]float64
		diffs []string
	)
	for {
		_ = h.cluster.WaitIdle(ctx)
		got = h.scrape()
		diffs = diffTruth(got, truthMetrics(h.cluster.Truth(), h.cluster.Transitions(), up))
		if len(diffs) == 0 {
			return got
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("metrics never matched the cluster's truth; %d differences:\n  %s\nlogs:\n%s",
				len(diffs), strings.Join(first(diffs, 30), "\n  "), tail(h.logs.String(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eventually waits until cond holds for a scrape.
func (h *harness) eventually(what string, cond func(m map[string]float64) bool) map[string]float64 {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := h.scrape()
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("never saw %s\nlogs:\n%s", what, tail(h.logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
