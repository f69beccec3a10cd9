package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/planner"
)

// counters is the meeting-level history a scenario script produced, which
// is the ground truth for the transition counters.
type counters struct {
	started, ended, recStarted, recStopped, streamStarted, streamStopped, locked, unlocked float64
}

func (h *harness) checkCounters(m map[string]float64, want counters) {
	h.t.Helper()
	got := counters{
		started: m[key("cms_meetings_started_total")], ended: m[key("cms_meetings_ended_total")],
		recStarted: m[key("cms_recordings_started_total")], recStopped: m[key("cms_recordings_stopped_total")],
		streamStarted: m[key("cms_streams_started_total")], streamStopped: m[key("cms_streams_stopped_total")],
		locked: m[key("cms_meetings_locked_total")], unlocked: m[key("cms_meetings_unlocked_total")],
	}
	if got != want {
		h.t.Fatalf("transition counters = %+v, want %+v", got, want)
	}
}

// Calls start, change and end on three nodes, one meeting distributed over
// all three; after every step the metrics equal the cluster's truth and the
// counters equal the script's meeting-level history.
func TestE2ECallsOnThreeNodes(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 3, Seed: 1}, nil)
	nodes := h.cluster.Nodes()
	m := h.eventuallyTruth(nodes...)
	h.checkCounters(m, counters{})

	start := must[string](t)
	space := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Space 001"}))
	board := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "Board", Recording: true}))
	adhoc := start(h.cluster.StartMeeting(nodes[2], cmswstest.MeetingOptions{Name: "adhoc", CallType: "adHoc", EmptyNameFirst: true}))
	all := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "All hands"}))
	ok(t, h.cluster.DistributeMeeting(all, nodes[1]))
	ok(t, h.cluster.DistributeMeeting(all, nodes[2]))
	for i, n := range nodes {
		for j := 0; j <= i; j++ {
			start(h.cluster.AddParticipant(all, n, cmswstest.ParticipantOptions{Name: "p"}))
		}
	}
	p1 := start(h.cluster.AddParticipant(space, nodes[0], cmswstest.ParticipantOptions{Name: "a"}))
	start(h.cluster.AddParticipant(space, nodes[0], cmswstest.ParticipantOptions{Name: "b"}))
	start(h.cluster.AddParticipant(board, nodes[1], cmswstest.ParticipantOptions{Name: "c"}))
	start(h.cluster.AddParticipant(adhoc, nodes[2], cmswstest.ParticipantOptions{Name: "d"}))
	m = h.eventuallyTruth(nodes...)
	// 4 meetings (the distributed one once), Board recording from its start.
	h.checkCounters(m, counters{started: 4, recStarted: 1})
	if got := m[key("cms_cluster_participants")]; got != 6+2+1+1 {
		t.Fatalf("cluster participants = %v, want 10 (the distributed meeting counted once)", got)
	}

	ok(t, h.cluster.SetRecording(all, true))
	ok(t, h.cluster.SetStreaming(space, true))
	ok(t, h.cluster.SetLocked(adhoc, true))
	ok(t, h.cluster.SetName(space, "Space 001 (renamed)"))
	ok(t, h.cluster.RemoveParticipant(p1, "remoteTeardown"))
	m = h.eventuallyTruth(nodes...)
	h.checkCounters(m, counters{started: 4, recStarted: 2, streamStarted: 1, locked: 1})

	// One node leaving the distributed meeting does not end the meeting.
	ok(t, h.cluster.EndInstance(all, nodes[2]))
	ok(t, h.cluster.EndMeeting(board)) // ends while recording: a recording stop
	ok(t, h.cluster.SetLocked(adhoc, false))
	ok(t, h.cluster.SetStreaming(space, false))
	m = h.eventuallyTruth(nodes...)
	h.checkCounters(m, counters{started: 4, ended: 1, recStarted: 2, recStopped: 1, streamStarted: 1, streamStopped: 1, locked: 1, unlocked: 1})

	ok(t, h.cluster.EndMeeting(all))
	ok(t, h.cluster.EndMeeting(space))
	ok(t, h.cluster.EndMeeting(adhoc))
	m = h.eventuallyTruth(nodes...)
	h.checkCounters(m, counters{started: 4, ended: 4, recStarted: 2, recStopped: 2, streamStarted: 1, streamStopped: 1, locked: 1, unlocked: 1})
	if errs := sumFamily(m, "cms_events_message_errors_total"); errs != 0 {
		t.Fatalf("message errors = %v, want 0", errs)
	}
}

func sumFamily(m map[string]float64, fam string) float64 {
	var s float64
	for k, v := range m {
		if family(k) == fam {
			s += v
		}
	}
	return s
}

// A node's connection drops while calls change. After the reconnect the
// model equals the truth (the call that ended meanwhile is gone, the one
// that started is there) and no counter moved for what was only seen in
// the snapshot.
func TestE2EReconnectReconciles(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 3, Seed: 2}, func(c *cmsws.Config) {
		// Long enough that the changes below surely happen while the node is down.
		c.BackoffMin, c.BackoffMax = 600*time.Millisecond, 600*time.Millisecond
	})
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	start := must[string](t)
	gone := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "ends while down"}))
	stays := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "stays"}))
	dist := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "distributed"}))
	ok(t, h.cluster.DistributeMeeting(dist, nodes[1]))
	start(h.cluster.AddParticipant(stays, nodes[1], cmswstest.ParticipantOptions{Name: "x"}))
	m := h.eventuallyTruth(nodes...)
	h.checkCounters(m, counters{started: 3})
	connects := m[key("cms_events_connects_total", "node", nodes[1])]

	if n := h.cluster.DropConnections(nodes[1]); n != 1 {
		t.Fatalf("dropped %d connections, want 1", n)
	}
	ok(t, h.cluster.EndMeeting(gone))
	born := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "starts while down", Recording: true}))
	ok(t, h.cluster.SetRecording(stays, true))
	start(h.cluster.AddParticipant(stays, nodes[1], cmswstest.ParticipantOptions{Name: "y"}))
	ok(t, h.cluster.EndInstance(dist, nodes[1]))
	_ = born

	m = h.eventuallyTruth(nodes...)
	if got := m[key("cms_events_connects_total", "node", nodes[1])]; got != connects+1 {
		t.Fatalf("connects = %v, want %v", got, connects+1)
	}
	if got := m[key("cms_events_disconnects_total", "node", nodes[1], "reason", cmsws.DisconnectReadError)]; got != 1 {
		t.Fatalf("read_error disconnects = %v, want 1", got)
	}
	// Nothing above was seen live on nodes[1]: the snapshot replaced its
	// calls silently. The only live transitions are none.
	h.checkCounters(m, counters{started: 3})
}

// The node forgets its tokens and drops the connection: the client must
// fetch a fresh token (it never reuses one) and resync.
func TestE2ETokenExpiryReauth(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 2, Seed: 3}, nil)
	nodes := h.cluster.Nodes()
	must[string](t)(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "m"}))
	h.eventuallyTruth(nodes...)
	issued := h.cluster.Stats().Nodes[nodes[0]].TokensIssued

	h.cluster.ExpireTokens(nodes[0])
	h.cluster.DropConnections(nodes[0])
	must[string](t)(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "n"}))
	m := h.eventuallyTruth(nodes...)
	st := h.cluster.Stats().Nodes[nodes[0]]
	if st.TokensIssued != issued+1 || st.TokensRejected != 0 {
		t.Fatalf("tokens issued %d (before %d), rejected %d: want one fresh token and no reuse", st.TokensIssued, issued, st.TokensRejected)
	}
	if got := m[key("cms_events_connects_total", "node", nodes[0])]; got != 2 {
		t.Fatalf("connects = %v, want 2", got)
	}
}

// The node stops reading and acking but keeps TCP open (a hung peer or a
// middlebox black hole): the probe must notice within its deadline.
func TestE2EStalledConnectionDetectedByProbe(t *testing.T) {
	const interval, timeout = 400 * time.Millisecond, 300 * time.Millisecond
	h := newHarness(t, cmswstest.Options{Nodes: 2, Seed: 4}, func(c *cmsws.Config) {
		c.ProbeInterval, c.ProbeTimeout = interval, timeout
	})
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	stalled := time.Now()
	if n := h.cluster.StallConnections(nodes[1]); n != 1 {
		t.Fatalf("stalled %d connections, want 1", n)
	}
	h.eventually("a probe_timeout disconnect", func(m map[string]float64) bool {
		return m[key("cms_events_disconnects_total", "node", nodes[1], "reason", cmsws.DisconnectProbeTimeout)] == 1
	})
	// The deadline the configuration promises: the next probe goes out
	// within one interval and must be acked within the timeout; the check
	// runs every timeout/4. The rest is scrape polling (50 ms) and slack
	// for a loaded machine.
	if took, limit := time.Since(stalled), interval+timeout+timeout/4+time.Second; took > limit {
		t.Fatalf("stall detected after %v, configured deadline %v", took, limit)
	}
	must[string](t)(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "after stall"}))
	h.eventuallyTruth(nodes...)
}

// Wrong credentials: one clear error line, the auth reason counted,
// cms_up 0, and no retry storm (the slow auth backoff holds).
func TestE2EWrongCredentials(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 2, Seed: 5}, func(c *cmsws.Config) {
		if strings.HasSuffix(c.Name, "2") {
			c.Password = "wrong-password"
		}
	})
	nodes := h.cluster.Nodes()
	h.eventually("auth failure counted and the good node up", func(m map[string]float64) bool {
		return m[key("cms_events_connect_failures_total", "node", nodes[1], "reason", cmsws.ConnectFailureAuth)] == 1 &&
			m[key("cms_up", "node", nodes[0])] == 1
	})
	time.Sleep(500 * time.Millisecond) // time for a busy loop to show itself
	m := h.scrape()
	if got := m[key("cms_up", "node", nodes[1])]; got != 0 {
		t.Fatalf("cms_up of the node with wrong credentials = %v", got)
	}
	if st := h.cluster.Stats().Nodes[nodes[1]]; st.AuthFailures != 1 {
		t.Fatalf("token requests with bad credentials = %d, want exactly 1 (slow auth backoff)", st.AuthFailures)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "authentication failed"); n != 1 {
		t.Fatalf("%d 'authentication failed' log lines, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs, "wrong-password") || strings.Contains(logs, "secret") {
		t.Fatalf("a password leaked into the logs:\n%s", logs)
	}
	if body := h.rawMetrics(); strings.Contains(body, "wrong-password") || strings.Contains(body, `"secret"`) {
		t.Fatal("a password leaked into /metrics")
	}
}

// Malformed and unknown frames are counted and logged; the state survives
// and later updates still apply.
func TestE2EMalformedAndUnknownFrames(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 1, Seed: 6}, nil)
	node := h.cluster.Nodes()[0]
	mt := must[string](t)(h.cluster.StartMeeting(node, cmswstest.MeetingOptions{Name: "survivor"}))
	h.eventuallyTruth(node)

	frames := []string{
		`{not json`,
		`{"type":"message","message":{"messageId":999,"type":"futureUpdate","x":1}}`,
		`{"type":"surprise"}`,
	}
	for _, f := range frames {
		if n := h.cluster.InjectRaw(node, []byte(f)); n != 1 {
			t.Fatalf("injected into %d connections", n)
		}
	}
	m := h.eventually("the three bad frames counted", func(m map[string]float64) bool {
		return m[key("cms_events_message_errors_total", "node", node, "reason", cmsws.ReasonMalformedJSON)] >= 1 &&
			m[key("cms_events_message_errors_total", "node", node, "reason", cmsws.MessageErrorUnknownType)] >= 1 &&
			m[key("cms_events_message_errors_total", "node", node, "reason", cmsws.ReasonUnknownEnvelope)] >= 1
	})
	if got := m[key("cms_events_disconnects_total", "node", node, "reason", cmsws.DisconnectReadError)]; got != 0 {
		t.Fatalf("bad frames cost the connection")
	}
	ok(t, h.cluster.SetRecording(mt, true))
	h.eventuallyTruth(node)
	if !strings.Contains(h.logs.String(), "unusable message") {
		t.Fatal("no log line for the bad frames")
	}
}

// Five connections are in use (CMM and others): the exporter's is refused,
// counted as a handshake failure, and it gets in once a slot frees.
func TestE2ESixthConnectionRefused(t *testing.T) {
	var squatters []context.CancelFunc
	h := newHarness(t, cmswstest.Options{Nodes: 1, Seed: 7}, nil, func(cluster *cmswstest.Cluster) {
		node := cluster.Nodes()[0]
		for i := 0; i < 5; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			c, err := cmsws.New(cmsws.Config{Name: "squatter", URL: cluster.URL(node), Username: "admin", Password: "secret",
				TLS: tlsFor(cluster), Subscriptions: planner.BaseSet(0)})
			ok(t, err)
			done := make(chan struct{})
			go func() { defer close(done); c.Run(ctx) }()
			squatters = append(squatters, cancel)
			t.Cleanup(func() { cancel(); <-done })
		}
		waitFor(t, "five squatting connections", func() bool { return len(cluster.Stats().Nodes[node].Connections) == 5 })
	})
	node := h.cluster.Nodes()[0]
	h.eventually("the refusal counted as a handshake failure", func(m map[string]float64) bool {
		return m[key("cms_events_connect_failures_total", "node", node, "reason", cmsws.ConnectFailureHandshake)] >= 1
	})
	if st := h.cluster.Stats().Nodes[node]; st.RefusedConnections < 1 || len(st.Connections) != 5 {
		t.Fatalf("fake saw %d refusals and %d connections", st.RefusedConnections, len(st.Connections))
	}
	if m := h.scrape(); m[key("cms_up", "node", node)] != 0 {
		t.Fatal("cms_up 1 without a connection")
	}
	squatters[0]() // a slot frees up
	h.eventuallyTruth(node)
}

func tlsFor(c *cmswstest.Cluster) *tls.Config {
	return &tls.Config{RootCAs: c.CertPool(), MinVersion: tls.VersionTLS12}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) rawMetrics() string {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
