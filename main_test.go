package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of http.DefaultClient used by tests.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		// signal.Notify's dispatcher lives for the process.
		goleak.IgnoreTopFunction("os/signal.signal_recv"),
		goleak.IgnoreTopFunction("os/signal.loop"),
	)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runningExporter is run() — the real main — in this process.
type runningExporter struct {
	t      *testing.T
	addr   string
	cancel context.CancelFunc
	done   chan int
	stderr *testutil.SyncBuffer
}

func startRun(t *testing.T, args ...string) *runningExporter {
	t.Helper()
	r := &runningExporter{t: t, addr: freeAddr(t), done: make(chan int, 1), stderr: &testutil.SyncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	args = append(args, "--web.listen-address="+r.addr)
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--log.level=") }) {
		args = append(args, "--log.level=debug")
	}
	go func() { r.done <- run(ctx, args, io.Discard, r.stderr) }()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *runningExporter) stop() int {
	r.cancel()
	select {
	case code, ok := <-r.done:
		if ok {
			close(r.done)
			return code
		}
		return 0
	case <-time.After(20 * time.Second):
		r.t.Fatal("run did not return after cancel")
		return -1
	}
}

func (r *runningExporter) get(path string) (int, string) {
	r.t.Helper()
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *runningExporter) metrics() map[string]float64 {
	r.t.Helper()
	code, body := r.get("/metrics")
	if code != 200 {
		return map[string]float64{} // not listening yet: callers poll
	}
	return parseSamples(r.t, []byte(body))
}

func (r *runningExporter) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("never: %s\nstderr:\n%s", what, tail(r.stderr.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *runningExporter) reload() (int, string) {
	resp, err := http.Post("http://"+r.addr+"/-/reload", "text/plain", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// clusterFiles writes the files a config for cluster needs into a new
// temporary directory, as an operator would keep them: the fake's CA
// (ca.pem) and the password file (pw). writeConfig refers to both.
func clusterFiles(t *testing.T, cluster *cmswstest.Cluster) string {
	t.Helper()
	dir := t.TempDir()
	ok(t, cluster.WriteCAFile(filepath.Join(dir, "ca.pem")))
	ok(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600))
	return dir
}

// writeConfig writes a config file for the given fake nodes, with the
// fake's CA and a password file, as an operator would.
func writeConfig(t *testing.T, dir string, c *cmswstest.Cluster, nodes ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  username: admin\n  password_file: pw\n  tls:\n    ca_file: ca.pem\n")
	fmt.Fprintf(&b, "  probe_interval: 2s\n  probe_timeout: 1s\n  backoff_min: 100ms\n  backoff_max: 500ms\nnodes:\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n", n, c.URL(n))
	}
	path := filepath.Join(dir, "cms_exporter.yml")
	ok(t, os.WriteFile(path+".tmp", []byte(b.String()), 0o600))
	ok(t, os.Rename(path+".tmp", path))
	return path
}

func nodeSeries(m map[string]float64, node string) []string {
	var out []string
	for k := range m {
		if strings.Contains(k, `node="`+node+`"`) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Reload adds and removes nodes without touching the others; a password
// change (SIGHUP) restarts exactly that node; a broken file changes nothing.
func TestReloadAddsAndRemovesNodes(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 3, Seed: 11})
	ok(t, err)
	defer cluster.Close()
	dir := clusterFiles(t, cluster)
	cfg := writeConfig(t, dir, cluster, "cms1", "cms2")
	_, err = cluster.StartMeeting("cms3", cmswstest.MeetingOptions{Name: "on cms3"})
	ok(t, err)

	r := startRun(t, "--config.file="+cfg, "--web.enable-lifecycle")
	// /-/ready says the configuration is loaded; the nodes take longer.
	var m map[string]float64
	r.waitFor("cms1 and cms2 synced", func() bool {
		m = r.metrics()
		return m[key("cms_events_synced", "node", "cms1")] == 1 && m[key("cms_events_synced", "node", "cms2")] == 1
	})
	if m[key("cms_up", "node", "cms1")] != 1 || m[key("cms_up", "node", "cms2")] != 1 || len(nodeSeries(m, "cms3")) != 0 {
		t.Fatalf("before reload: up cms1=%v cms2=%v, cms3 series %v", m[key("cms_up", "node", "cms1")], m[key("cms_up", "node", "cms2")], nodeSeries(m, "cms3"))
	}

	writeConfig(t, dir, cluster, "cms1", "cms3")
	if code, body := r.reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	r.waitFor("cms3 up with its call, cms2 gone", func() bool {
		m = r.metrics()
		return m[key("cms_up", "node", "cms3")] == 1 && m[key("cms_node_calls", "node", "cms3", "call_type", "coSpace")] == 1 &&
			len(nodeSeries(m, "cms2")) == 0
	})
	st := cluster.Stats().Nodes
	if st["cms1"].Accepted != 1 || m[key("cms_events_connects_total", "node", "cms1")] != 1 {
		t.Fatalf("cms1 was reconnected by a reload that did not change it: accepted %d", st["cms1"].Accepted)
	}
	if len(st["cms2"].Connections) != 0 {
		t.Fatalf("cms2 still connected after removal")
	}

	// A broken file: rejected, reported, the running set stays.
	ok(t, os.WriteFile(cfg, []byte("nodes:\n  - name: cms1\n    url: https://x\n    pasword: oops\n"), 0o600))
	code, body := r.reload()
	if code != 500 || !strings.Contains(body, "pasword") || !strings.Contains(body, "cms_exporter.yml") {
		t.Fatalf("broken reload answered %d %q; want 500 naming the file and the field", code, body)
	}
	m = r.metrics()
	if m[key("cms_exporter_config_last_reload_successful")] != 0 || m[key("cms_up", "node", "cms1")] != 1 || m[key("cms_up", "node", "cms3")] != 1 {
		t.Fatal("a broken reload changed the running set or was not reported")
	}

	// SIGHUP with the good file back: the reload succeeds, and since no
	// effective setting changed, no connection is touched.
	writeConfig(t, dir, cluster, "cms1", "cms3")
	ok(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600))
	ok(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	r.waitFor("SIGHUP reload succeeded", func() bool {
		return r.metrics()[key("cms_exporter_config_last_reload_successful")] == 1
	})
	if got := cluster.Stats().Nodes["cms1"].Accepted; got != 1 {
		t.Fatalf("an unchanged configuration reconnected cms1 (%d connections)", got)
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("run exited %d", code)
	}
	if logs := r.stderr.String(); strings.Contains(logs, "secret") {
		t.Fatalf("the password appears in the logs")
	}
}

// --config.check validates and exits: 0 for the example, 1 naming the file
// and field for a typo.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	ok(t, os.WriteFile(bad, []byte("nodes:\n  - name: a\n    url: http://cms.example.org\n    usernme: x\n"), 0o600))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--config.check", "--config.file=" + bad}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d for a bad file", code)
	}
	for _, want := range []string{"bad.yml", "usernme"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("error output lacks %q:\n%s", want, stderr.String())
		}
	}
}

// The demo needs nothing: every metric of the model is served within a few
// seconds, all three nodes are up, and the numbers move.
func TestDemoServesEveryMetricAndMoves(t *testing.T) {
	r := startRun(t, "--demo", "--demo.seed=42")
	var first map[string]float64
	r.waitFor("three nodes up with calls", func() bool {
		first = r.metrics()
		return first[key("cms_up", "node", "cms-a")] == 1 && first[key("cms_up", "node", "cms-b")] == 1 &&
			first[key("cms_up", "node", "cms-c")] == 1 && sumFamily(first, "cms_call_info") > 0
	})
	wantFamilies := []string{"cms_up", "cms_call_info", "cms_call_participants", "cms_call_distributed_instances",
		"cms_call_recording", "cms_call_streaming", "cms_call_endpoint_recording", "cms_call_locked", "cms_node_calls",
		"cms_cluster_meetings", "cms_cluster_participants", "cms_cluster_meetings_recording", "cms_cluster_meetings_streaming",
		"cms_cluster_meetings_locked", "cms_meetings_started_total", "cms_meetings_ended_total", "cms_recordings_started_total",
		"cms_recordings_stopped_total", "cms_streams_started_total", "cms_streams_stopped_total", "cms_meetings_locked_total",
		"cms_meetings_unlocked_total", "cms_events_connects_total", "cms_events_messages_total", "cms_events_subscriptions",
		"cms_events_last_message_timestamp_seconds", "cms_events_synced", "cms_events_connected", "cms_exporter_build_info",
		"cms_call_roster_participants", "cms_call_participants_audio_muted", "cms_cluster_participants_audio_muted",
		"cms_cluster_participants_video_muted", "cms_participants_joined_total", "cms_participants_left_total",
		"cms_roster_coverage_ratio", "cms_roster_meetings", "cms_subscription_budget_used", "cms_node_capacity_participants"}
	var missing []string
	r.waitFor("every family served", func() bool {
		first = r.metrics()
		names := demoFamilies(first)
		missing = missing[:0]
		for _, want := range wantFamilies {
			if !names[want] {
				missing = append(missing, want)
			}
		}
		return len(missing) == 0
	})
	moved := map[string]bool{}
	r.waitFor("numbers moving: messages, participants, muted counts, roster coverage", func() bool {
		now := r.metrics()
		for _, f := range []string{"cms_events_messages_total", "cms_call_participants", "cms_roster_coverage_ratio"} {
			if sumFamily(now, f) != sumFamily(first, f) {
				moved[f] = true
			}
		}
		if sumFamily(now, "cms_cluster_participants_audio_muted")+sumFamily(now, "cms_cluster_participants_video_muted") !=
			sumFamily(first, "cms_cluster_participants_audio_muted")+sumFamily(first, "cms_cluster_participants_video_muted") {
			moved["muted"] = true
		}
		return len(moved) == 4
	})

	// The budget tells the truth under the demo's limit (3 rosters per
	// connection, plus calls on connection 0): used + left is 4, and while
	// meetings are skipped for budget, some connection has nothing left.
	r.waitFor("the budget agreeing with the coverage", func() bool {
		m := r.metrics()
		full := false
		for _, n := range []string{"cms-a", "cms-b", "cms-c"} {
			used := m[key("cms_subscription_budget_used", "node", n, "connection", "0")]
			left := m[key("cms_subscription_budget_left", "node", n, "connection", "0")]
			if used+left != demoRosterBudget+1 {
				t.Fatalf("%s: budget used %v + left %v, want the demo's limit %d", n, used, left, demoRosterBudget+1)
			}
			full = full || left == 0
		}
		skipped := m[key("cms_roster_meetings", "state", "skipped")]
		return skipped > 0 && full && m[key("cms_roster_coverage_ratio")] < 1
	})
}

func demoFamilies(m map[string]float64) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[family(k)] = true
	}
	return out
}

// The README's metrics table lists exactly the cms_* families the exporter
// describes, with their labels.
func TestREADMEMetricsTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	ok(t, err)
	s := string(readme)
	begin, end := strings.Index(s, "<!-- metrics-table:begin -->"), strings.Index(s, "<!-- metrics-table:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no metrics table markers")
	}
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\| (gauge|counter|histogram) \\|([^|]*)\\|")
	documented := map[string]string{}
	for _, line := range strings.Split(s[begin:end], "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = normLabels(strings.Split(m[3], ","))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newExporter(ctx, log.NewNopLogger())
	defer x.close()
	described := map[string]string{}
	descRe := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	// Every collector of cms_* families newExporter registers; the gather
	// below catches one added there and missing here.
	for _, c := range []prometheus.Collector{x.model, x.reloadOK, x.reloadTimestamp} {
		ch := make(chan *prometheus.Desc, 512)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := descRe.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read %s", d)
			}
			described[m[1]] = normLabels(strings.Split(m[2], ","))
		}
	}
	// build_info's labels are constant labels, not variable ones.
	described["cms_exporter_build_info"] = documented["cms_exporter_build_info"]
	fams, err := x.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if _, ok := described[f.GetName()]; strings.HasPrefix(f.GetName(), "cms_") && !ok {
			t.Errorf("%s is registered but not in this test's list of collectors", f.GetName())
		}
	}
	for name, labels := range described {
		doc, okDoc := documented[name]
		switch {
		case !okDoc:
			t.Errorf("%s is exposed but not in the README table", name)
		case doc != labels:
			t.Errorf("%s: README labels %q, code %q", name, doc, labels)
		}
	}
	for name := range documented {
		if _, okDesc := described[name]; !okDesc {
			t.Errorf("README documents %s, which the exporter does not expose", name)
		}
	}
}

func normLabels(ls []string) string {
	var out []string
	for _, l := range ls {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
