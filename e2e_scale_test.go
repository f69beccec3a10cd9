package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// The cluster of BenchmarkScale24Nodes: the largest realistic
// deployment, one exporter watching every node over 4 connections.
const (
	scaleNodes       = 24
	scaleConnections = 4
	// scaleMeetings meetings over 1–3 nodes (60 % on one, 30 % on two, 10 %
	// on three: ~1,500 calls) of 2–28 participants (~15,000).
	scaleMeetings = 1000
	// scaleRate is the live traffic, numbered messages per second
	// cluster-wide.
	scaleRate = 250
	// scaleRun is the measured window; a burst every scaleBurstEvery.
	scaleRun        = 60 * time.Second
	scaleBurstEvery = 15 * time.Second
	// scaleSettle after a burst is not counted as live traffic.
	scaleSettle = 2 * time.Second
	// scaleBurstNodes nodes drop their connections at once (a site's link
	// failing): with one entry per snapshot message, their reconnect is a
	// burst of ~5,000 messages.
	scaleBurstNodes = 8
	// scaleScrapeEvery is how often the benchmark scrapes, as Prometheus
	// with a short interval would.
	scaleScrapeEvery = 5 * time.Second
	// scaleCleanWindow of traffic without faults ends the run, after which
	// the counters must count exactly again.
	scaleCleanWindow = 5 * time.Second
	scaleUser        = "metrics"
	scalePassword    = "scale-secret"
)

// scalePopulate starts the meetings and participants of the scale run in
// the fake before the exporter connects, so its first sync is the whole
// cluster at once. It returns the number of calls and participants.
func scalePopulate(tb testing.TB, c *cmswstest.Cluster) (calls, participants int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1124, 11))
	nodes := c.Nodes()
	for i := range scaleMeetings {
		spread := 1
		switch x := rng.Float64(); {
		case x < 0.1:
			spread = 3
		case x < 0.4:
			spread = 2
		}
		hosts := make([]string, 0, spread)
		for _, k := range rng.Perm(len(nodes))[:spread] {
			hosts = append(hosts, nodes[k])
		}
		corr, err := c.StartMeeting(hosts[0], cmswstest.MeetingOptions{Name: fmt.Sprintf("Space %04d", i), Recording: rng.Float64() < 0.2})
		if err != nil {
			tb.Fatal(err)
		}
		// Sizes 2..28, mean 15; every host has at least one participant.
		size := max(2+rng.IntN(14)+rng.IntN(14), spread)
		for j := range size {
			host := hosts[j%spread]
			if _, err := c.AddParticipant(corr, host, cmswstest.ParticipantOptions{
				Name: fmt.Sprintf("P %d-%d", i, j), URI: fmt.Sprintf("u%d-%d@example.org", i, j),
				AudioMuted: rng.Float64() < 0.3, VideoMuted: rng.Float64() < 0.1,
			}); err != nil {
				tb.Fatal(err)
			}
		}
		calls += spread
		participants += size
	}
	return calls, participants
}

// childExporter is the exporter binary, built from this package and run
// as its own process, so its CPU time is its own.
type childExporter struct {
	url  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	logs string // its log file
}

// buildExporter builds this package's binary into dir.
func buildExporter(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "cms_exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startChildExporter writes a configuration for every node of c into dir
// (the fake's CA as ca_file, the password in password_file), starts bin
// with it on a free loopback port and returns when its HTTP server answers.
func startChildExporter(tb testing.TB, c *cmswstest.Cluster, bin, dir string) *childExporter {
	tb.Helper()
	if err := c.WriteCAFile(filepath.Join(dir, "ca.pem")); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte(scalePassword+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "defaults:\n  username: %s\n  password_file: password\n  tls:\n    ca_file: ca.pem\n  connections: %d\n", scaleUser, scaleConnections)
	cfg.WriteString("per_call_metrics: true\nnodes:\n")
	for _, n := range c.Nodes() {
		fmt.Fprintf(&cfg, "  - name: %s\n    url: %s\n", n, c.URL(n))
	}
	cfgFile := filepath.Join(dir, "cms_exporter.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	addr := freeLoopbackAddr(tb)
	x := &childExporter{url: "http://" + addr, logs: filepath.Join(dir, "exporter.log")}
	logFile, err := os.Create(x.logs)
	if err != nil {
		tb.Fatal(err)
	}
	x.cmd = exec.Command(bin, "--config.file="+cfgFile, "--web.listen-address="+addr, "--log.level="+cmp.Or(os.Getenv("CMS_SCALE_LOG_LEVEL"), "warn"))
	x.cmd.Stdout, x.cmd.Stderr = logFile, logFile
	if err := x.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = x.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = x.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = x.cmd.Process.Kill()
			<-done
		}
		logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(x.url + "/-/healthy")
		if err == nil {
			resp.Body.Close()
			return x
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the exporter never answered: %v\n%s", err, x.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeLoopbackAddr is a loopback address whose port was free a moment ago.
func freeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (x *childExporter) logTail() string {
	b, _ := os.ReadFile(x.logs)
	return tail(string(b), 3000)
}

// logAbout returns the exporter's log lines that name a call of diffs
// (more with CMS_SCALE_LOG_LEVEL=debug).
func (x *childExporter) logAbout(diffs []string) string {
	b, _ := os.ReadFile(x.logs)
	return linesAbout(string(b), diffs)
}

// scrape fetches /metrics and returns the body and the time it took.
func (x *childExporter) scrape(tb testing.TB) ([]byte, time.Duration) {
	tb.Helper()
	body, took, err := x.tryScrape(true)
	if err != nil {
		tb.Fatalf("%v\n%s", err, x.logTail())
	}
	return body, took
}

// identity asks for /metrics uncompressed; http.Get asks for gzip, as
// Prometheus does.
var identity = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// tryScrape is scrape for a goroutine other than the benchmark's; gzip
// says whether to ask for a compressed body.
func (x *childExporter) tryScrape(gzip bool) ([]byte, time.Duration, error) {
	client := http.DefaultClient
	if !gzip {
		client = identity
	}
	began := time.Now()
	resp, err := client.Get(x.url + "/metrics")
	if err != nil {
		return nil, 0, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("scrape: %w", err)
	}
	return body, time.Since(began), nil
}

// cpuSeconds is the exporter's own process_cpu_seconds_total.
func (x *childExporter) cpuSeconds(tb testing.TB) float64 {
	tb.Helper()
	body, _ := x.scrape(tb)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return f
		}
	}
	tb.Fatal("no process_cpu_seconds_total on /metrics")
	return 0
}

// fullDiff compares a /metrics body with the fake's truth: every call-level
// and cluster-level family, the transition counters shifted by offsets,
// and the roster of every meeting with full coverage (the budget, 4 × 100
// per node, exceeds the meetings). With adopt, the counters' offsets are
// taken from the body instead, as the chaos soak does after faults (see
// countersAdopt), and returned.
func fullDiff(tb testing.TB, body []byte, c *cmswstest.Cluster, offsets map[string]float64, adopt bool) ([]string, map[string]float64) {
	got := parseSamples(tb, body)
	tr := c.Truth()
	tx := c.Transitions()
	if adopt {
		offsets = counterOffsets(got, tx)
	}
	want := truthMetrics(tr, tx, c.Nodes())
	for f, v := range offsets {
		want[key(f)] += v
	}
	diffs := diffTruth(got, want)
	diffs = append(diffs, rosterDiff(got, tr, slices.Collect(maps.Keys(tr.Meetings)))...)
	if v := got[key("cms_roster_coverage_ratio")]; v != 1 {
		diffs = append(diffs, fmt.Sprintf("coverage %v, want 1", v))
	}
	return diffs, offsets
}

// waitTruth waits until the exporter's /metrics equal the truth in full
// (see fullDiff) and returns the counter offsets it compared with.
func (x *childExporter) waitTruth(tb testing.TB, c *cmswstest.Cluster, within time.Duration, offsets map[string]float64, adopt bool) map[string]float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_ = c.WaitIdle(ctx)
		body, _ := x.scrape(tb)
		diffs, offs := fullDiff(tb, body, c, offsets, adopt)
		if len(diffs) == 0 {
			return offs
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the exporter never matched the truth; counter offsets %v; %d differences:\n  %s\nexporter log:\n%s\nits lines on these calls:\n%s",
				offs, len(diffs), strings.Join(first(diffs, 30), "\n  "), x.logTail(), x.logAbout(diffs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// messagesSent is the numbered messages the fake has sent, cluster-wide.
func messagesSent(c *cmswstest.Cluster) int {
	n := 0
	for _, st := range c.Stats().Nodes {
		n += st.MessagesSent
	}
	return n
}

// burstDone reports whether the nodes of group are back in full: all
// their connections open again, nothing queued on them (every snapshot
// sent; the exporter acks and applies each message before it gets the
// next), and the cluster holding at least want active subscriptions (the
// roster subscriptions of meetings also hosted elsewhere may have moved to
// another node meanwhile, and stay there). It returns the numbered
// messages sent on the group's new connections.
func burstDone(c *cmswstest.Cluster, group []string, want int) (bool, int) {
	stats := c.Stats()
	msgs := 0
	done := activeSubscriptions(stats) >= want
	for _, n := range group {
		st := stats.Nodes[n]
		for _, cs := range st.Connections {
			msgs += int(cs.Sent)
			if cs.Queued > 0 {
				done = false
			}
		}
		if len(st.Connections) != scaleConnections {
			done = false
		}
	}
	return done, msgs
}

// activeSubscriptions counts the active subscriptions of the cluster.
func activeSubscriptions(stats cmswstest.Stats) int {
	n := 0
	for _, st := range stats.Nodes {
		for _, cs := range st.Connections {
			n += cs.Active
		}
	}
	return n
}

// connOpens records when the fake opened each node's events connections
// (its Logf says so), to tell the client's backoff from the resync itself.
type connOpens struct {
	mu     sync.Mutex
	byNode map[string][]time.Time
}

func (o *connOpens) logf(format string, args ...any) {
	if !strings.Contains(format, "events connection %d open") || len(args) == 0 {
		return
	}
	node, _ := args[0].(string)
	o.mu.Lock()
	o.byNode[node] = append(o.byNode[node], time.Now())
	o.mu.Unlock()
}

// lastFirstOpen is when the last of group's connections opened again after
// since: from then on, every connection of the burst is being served.
func (o *connOpens) lastFirstOpen(group []string, since time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	last := since
	for _, n := range group {
		after := 0
		for _, t := range o.byNode[n] {
			if t.After(since) {
				if after++; after == scaleConnections && t.After(last) {
					last = t
				}
			}
		}
	}
	return last
}

// processCPU is this process's CPU time (user + system): the fake cluster,
// its traffic and the benchmark's own scrape parsing.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScale24Nodes runs the exporter, built and started as its own
// process exactly as deployed (configuration file, password_file, the
// fake's CA as ca_file), against a fake cluster of 24 nodes watched over 4
// connections each: ~1,000 meetings, ~1,500 calls, ~15,000 participants,
// every roster watched. The fake sends one entry per snapshot message (the
// captures show up to 10; live updates mostly carry one): the worst case
// for the exporter, every entry read, acked and applied on its own.
//
// It reports:
//   - initial-sync-s: from the exporter's start to its /metrics equal to
//     the truth in full (the whole cluster's snapshot at once);
//   - cpu-%-of-core: the exporter's own process_cpu_seconds_total over the
//     measured window (scaleRun), as a share of one core, under live
//     traffic at scaleRate messages/s cluster-wide, a burst every
//     scaleBurstEvery (scaleBurstNodes nodes' connections dropped at once,
//     their reconnect a snapshot of ~5,000 messages), and a scrape every
//     scaleScrapeEvery;
//   - scrape-ms-median, scrape-ms-max (asking for gzip, as Prometheus
//     does), scrape-plain-ms-median (uncompressed), series, body-KB;
//   - burst-msgs, burst-resync-ms-median, burst-resync-ms-max: the bursts,
//     timed from the drop until the dropped nodes' new connections are
//     all open with nothing queued and the cluster's subscriptions back
//     and active; the client's reconnect backoff (backoff_min 1 s,
//     jittered) is in it, so burst-from-connect-ms-median times the same
//     from the last of the group's connections opening again;
//   - live-msg/s: what the traffic really sent, between bursts;
//   - fake-cpu-%-of-core: this process (fake, traffic, scrape parsing), so
//     a reader sees what else the machine was doing.
//
// At the end the traffic stops and the exporter's /metrics must equal the
// fake's truth in full (calls, rosters, gauges); the transition counters
// may have moved apart from the fake's ledger across the resyncs (see
// countersAdopt; counters-apart is by how much) and must count exactly
// again over a clean window of traffic after.
//
// Run by hand (a minute and a half; not in ./test.sh):
//
//	go test -run '^$' -bench BenchmarkScale24Nodes -benchtime 1x .
func BenchmarkScale24Nodes(b *testing.B) {
	if testing.Short() {
		b.Skip("a minute and a half of load: run by hand")
	}
	opens := &connOpens{byNode: map[string][]time.Time{}}
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: scaleNodes, Seed: 1124,
		Username: scaleUser, Password: scalePassword, SnapshotChunk: 1, Logf: opens.logf})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cluster.Close)
	calls, participants := scalePopulate(b, cluster)
	b.Logf("population: %d meetings, %d calls, %d participants on %d nodes", scaleMeetings, calls, participants, scaleNodes)

	for b.Loop() {
		runScale(b, cluster, opens)
	}
}

// runScale is one measured run of BenchmarkScale24Nodes.
func runScale(b *testing.B, cluster *cmswstest.Cluster, opens *connOpens) {
	dir := b.TempDir()
	bin := buildExporter(b, dir)
	began := time.Now()
	x := startChildExporter(b, cluster, bin, dir)
	x.waitTruth(b, cluster, 5*time.Minute, nil, false)
	initialSync := time.Since(began)

	// Calibrate the traffic's pace: messages per step, quiet cluster.
	traffic := newScaleTraffic(cluster, 1124)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent0 := messagesSent(cluster)
	const calSteps = 2000
	calBegan := time.Now()
	for range calSteps {
		if err := traffic.Step(); err != nil {
			b.Fatal(err)
		}
	}
	stepCost := time.Since(calBegan) / calSteps
	// The planner's answer to new meetings (a roster subscription, its
	// snapshot) comes a batch interval later: wait for it too.
	_ = cluster.WaitIdle(ctx)
	time.Sleep(2 * time.Second)
	_ = cluster.WaitIdle(ctx)
	perStep := float64(messagesSent(cluster)-sent0) / calSteps
	interval := time.Duration(float64(time.Second) * perStep / scaleRate)
	b.Logf("traffic: %.2f messages per step, %v per step, one step every %v", perStep, stepCost, interval)

	cpu0, cpuTest0, wall0 := x.cpuSeconds(b), processCPU(), time.Now()
	sentAt0 := messagesSent(cluster)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var trafficErr error
	wg.Go(func() { trafficErr = traffic.Run(runCtx, interval) })

	var (
		mu      sync.Mutex
		scrapes []time.Duration // asking for gzip, as Prometheus does
		// plainScrapes alternate with them, asking for no compression.
		plainScrapes []time.Duration
		// scrapeLog and burstLog say when each took place, for the log.
		scrapeLog, burstLog []string
		series              int
		bodySize            int
		// scrapeErrs are failed scrapes: any fails the run.
		scrapeErrs []error
	)
	wg.Go(func() {
		tick := time.NewTicker(scaleScrapeEvery)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			gzip := len(scrapes) <= len(plainScrapes)
			body, took, err := x.tryScrape(gzip)
			if err != nil {
				mu.Lock()
				scrapeErrs = append(scrapeErrs, err)
				mu.Unlock()
				continue
			}
			n := 0
			for line := range bytes.SplitSeq(body, []byte("\n")) {
				if len(line) > 0 && line[0] != '#' {
					n++
				}
			}
			mu.Lock()
			scrapeLog = append(scrapeLog, fmt.Sprintf("%v@%v(gzip=%v)", took.Round(time.Millisecond), time.Since(wall0).Round(100*time.Millisecond), gzip))
			if gzip {
				scrapes = append(scrapes, took)
			} else {
				plainScrapes = append(plainScrapes, took)
			}
			series, bodySize = n, len(body)
			mu.Unlock()
		}
	})

	nodes := cluster.Nodes()
	var bursts, burstsFromConnect []time.Duration
	var burstMsgs []int
	// The live rate is measured between bursts, from scaleSettle after one
	// is done (the planner moves rosters back and forth meanwhile) to the
	// next drop.
	var liveMsgs int
	var liveTime time.Duration
	quietFrom, quietSent := wall0, sentAt0
	endQuiet := func() {
		liveMsgs += messagesSent(cluster) - quietSent
		liveTime += time.Since(quietFrom)
	}
	for i := 0; time.Since(wall0) < scaleRun-scaleBurstEvery/2; i++ {
		if i > 0 {
			time.Sleep(scaleSettle)
			quietFrom, quietSent = time.Now(), messagesSent(cluster)
		}
		time.Sleep(min(scaleBurstEvery, scaleRun-time.Since(wall0)))
		endQuiet()
		group := nodes[(i*scaleBurstNodes)%scaleNodes:][:scaleBurstNodes]
		// Meetings come and go meanwhile: a few subscriptions less than
		// before the drop is the same set.
		want := activeSubscriptions(cluster.Stats()) - 5
		dropped := time.Now()
		for _, n := range group {
			cluster.DropConnections(n)
		}
		for {
			done, msgs := burstDone(cluster, group, want)
			if done {
				bursts = append(bursts, time.Since(dropped))
				burstLog = append(burstLog, fmt.Sprintf("%v@%v", time.Since(dropped).Round(time.Millisecond), dropped.Sub(wall0).Round(100*time.Millisecond)))
				burstsFromConnect = append(burstsFromConnect, time.Since(opens.lastFirstOpen(group, dropped)))
				burstMsgs = append(burstMsgs, msgs)
				break
			}
			if time.Since(dropped) > time.Minute {
				b.Fatalf("burst %d: the dropped nodes %v never came back in full: want %d active, now %d; %+v\n%s",
					i, group, want, activeSubscriptions(cluster.Stats()), cluster.Stats().Nodes[group[0]], x.logTail())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cpu1, cpuTest1, wall := x.cpuSeconds(b), processCPU(), time.Since(wall0)
	stop()
	wg.Wait()
	if trafficErr != nil {
		b.Fatalf("traffic: %v", trafficErr)
	}

	// The traffic stopped: the exporter must have followed all of it;
	// the transition counters may have moved apart from the fake's ledger
	// while nodes resynced under traffic (see countersAdopt): they must
	// count exactly again over a clean window of traffic after.
	offsets := x.waitTruth(b, cluster, 2*time.Minute, nil, true)
	apart := 0.0
	for _, v := range offsets {
		apart += math.Abs(v)
	}
	cleanCtx, cleanStop := context.WithTimeout(context.Background(), scaleCleanWindow)
	if err := traffic.Run(cleanCtx, interval); err != nil {
		b.Fatalf("traffic: %v", err)
	}
	cleanStop()
	x.waitTruth(b, cluster, 2*time.Minute, offsets, false)

	mu.Lock()
	defer mu.Unlock()
	if len(scrapeErrs) > 0 {
		b.Fatalf("%d scrapes failed, first: %v\n%s", len(scrapeErrs), scrapeErrs[0], x.logTail())
	}
	b.ReportMetric(initialSync.Seconds(), "initial-sync-s")
	b.ReportMetric(100*(cpu1-cpu0)/wall.Seconds(), "cpu-%-of-core")
	b.ReportMetric(100*(cpuTest1-cpuTest0).Seconds()/wall.Seconds(), "fake-cpu-%-of-core")
	b.ReportMetric(float64(liveMsgs)/liveTime.Seconds(), "live-msg/s")
	b.ReportMetric(medianMs(scrapes), "scrape-ms-median")
	b.ReportMetric(maxMs(scrapes), "scrape-ms-max")
	b.ReportMetric(medianMs(plainScrapes), "scrape-plain-ms-median")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(bodySize)/1024, "body-KB")
	b.ReportMetric(apart, "counters-apart")
	b.ReportMetric(medianMs(bursts), "burst-resync-ms-median")
	b.ReportMetric(maxMs(bursts), "burst-resync-ms-max")
	b.ReportMetric(medianMs(burstsFromConnect), "burst-from-connect-ms-median")
	if len(burstMsgs) > 0 {
		slices.Sort(burstMsgs)
		b.ReportMetric(float64(burstMsgs[len(burstMsgs)/2]), "burst-msgs")
	}
	b.Logf("scrapes (took@when): %v; bursts (took@when): %v of %v messages", scrapeLog, burstLog, burstMsgs)
}

// scaleTraffic is the scale run's live traffic: the mix of Traffic
// (active-speaker toggles dominate, then mutes; joins and leaves with the
// captures' reasons; presenters, layouts, recording, streaming, locks;
// meetings ending and starting) at a cost per step independent of the
// cluster's size. Traffic reads the whole cluster before every step (16 ms
// at 15,000 participants: it could not keep 250 messages/s); this keeps
// its own book of the meetings and participants it acts on.
type scaleTraffic struct {
	c        *cmswstest.Cluster
	rng      *rand.Rand
	meetings []*scaleMeeting
	parts    []*scalePart
	index    map[*scalePart]int // position in parts
	started  int
}

type scaleMeeting struct {
	corr                         string
	local                        map[string]int // hosting node → its participants
	recording, streaming, locked bool
	size                         int
}

type scalePart struct {
	id, node                    string
	m                           *scaleMeeting
	speaker, audio, video, pres bool
}

var scaleLeaveReasons = []string{"timeout", "timeout", "timeout", "timeout", "timeout", "timeout", "timeout", "timeout", "timeout",
	"remoteTeardown", "remoteTeardown", "remoteTeardown", "noAnswer", "noAnswer", "notFound", "callEnded", "", "", "", ""}

var scaleLayouts = []string{"allEqual", "speakerOnly", "telepresence", "stacked", "onePlusFive", "onePlusN", "automatic"}

// newScaleTraffic books what the cluster holds now.
func newScaleTraffic(c *cmswstest.Cluster, seed uint64) *scaleTraffic {
	t := &scaleTraffic{c: c, rng: rand.New(rand.NewPCG(seed, 250)), index: map[*scalePart]int{}}
	tr := c.Truth()
	corrs := make([]string, 0, len(tr.Meetings))
	for corr := range tr.Meetings {
		corrs = append(corrs, corr)
	}
	slices.Sort(corrs)
	for _, corr := range corrs {
		mt := tr.Meetings[corr]
		m := &scaleMeeting{corr: corr, local: map[string]int{}, recording: mt.Recording, streaming: mt.Streaming, locked: mt.Locked}
		t.meetings = append(t.meetings, m)
		for _, id := range participantIDs(mt) {
			p := mt.Participants[id]
			t.addPart(&scalePart{id: id, node: p.Node, m: m, speaker: p.ActiveSpeaker, audio: p.AudioMuted, video: p.VideoMuted, pres: p.Presenter})
		}
	}
	return t
}

func (t *scaleTraffic) addPart(p *scalePart) {
	t.index[p] = len(t.parts)
	t.parts = append(t.parts, p)
	p.m.local[p.node]++
	p.m.size++
}

// dropPart forgets p; the last participant of a node ends its instance,
// the last of a meeting the meeting, as the fake does.
func (t *scaleTraffic) dropPart(p *scalePart) {
	i := t.index[p]
	last := t.parts[len(t.parts)-1]
	t.parts[i], t.index[last] = last, i
	t.parts = t.parts[:len(t.parts)-1]
	delete(t.index, p)
	p.m.size--
	if p.m.local[p.node]--; p.m.local[p.node] == 0 {
		delete(p.m.local, p.node)
	}
	if p.m.size == 0 {
		t.dropMeeting(p.m)
	}
}

func (t *scaleTraffic) dropMeeting(m *scaleMeeting) {
	if i := slices.Index(t.meetings, m); i >= 0 {
		t.meetings = slices.Delete(t.meetings, i, i+1)
	}
}

func (t *scaleTraffic) hosts(m *scaleMeeting) []string {
	hs := make([]string, 0, len(m.local))
	for n := range m.local {
		hs = append(hs, n)
	}
	slices.Sort(hs)
	return hs
}

// Step performs one action.
func (t *scaleTraffic) Step() error {
	if len(t.parts) == 0 {
		return t.startMeeting()
	}
	p := t.parts[t.rng.IntN(len(t.parts))]
	m := t.meetings[t.rng.IntN(len(t.meetings))]
	switch x := t.rng.Float64() * 100; {
	case x < 55:
		p.speaker = !p.speaker
		return t.c.UpdateParticipant(p.id, cmswstest.ParticipantChange{ActiveSpeaker: &p.speaker})
	case x < 64:
		p.audio = !p.audio
		return t.c.UpdateParticipant(p.id, cmswstest.ParticipantChange{AudioMuted: &p.audio})
	case x < 67:
		p.video = !p.video
		return t.c.UpdateParticipant(p.id, cmswstest.ParticipantChange{VideoMuted: &p.video})
	case x < 70:
		p.pres = !p.pres
		return t.c.UpdateParticipant(p.id, cmswstest.ParticipantChange{Presenter: &p.pres})
	case x < 72:
		l := scaleLayouts[t.rng.IntN(len(scaleLayouts))]
		return t.c.UpdateParticipant(p.id, cmswstest.ParticipantChange{Layout: &l})
	case x < 82:
		hs := t.hosts(m)
		node := hs[t.rng.IntN(len(hs))]
		t.started++
		id, err := t.c.AddParticipant(m.corr, node, cmswstest.ParticipantOptions{Name: fmt.Sprintf("J %d", t.started)})
		if err == nil {
			t.addPart(&scalePart{id: id, node: node, m: m})
		}
		return err
	case x < 92:
		if p.m.size == 1 {
			return nil // its meeting ends by the rarer end below
		}
		err := t.c.RemoveParticipant(p.id, scaleLeaveReasons[t.rng.IntN(len(scaleLeaveReasons))])
		t.dropPart(p)
		return err
	case x < 94:
		m.recording = !m.recording
		return t.c.SetRecording(m.corr, m.recording)
	case x < 96:
		m.streaming = !m.streaming
		return t.c.SetStreaming(m.corr, m.streaming)
	case x < 97:
		m.locked = !m.locked
		return t.c.SetLocked(m.corr, m.locked)
	case x < 98.5:
		err := t.c.EndMeeting(m.corr)
		for _, q := range slices.Clone(t.parts) {
			if q.m == m {
				t.dropPart(q)
			}
		}
		t.dropMeeting(m)
		if err != nil {
			return err
		}
		return t.startMeeting()
	default:
		return nil
	}
}

// startMeeting starts a meeting on one random node with 2–11 participants.
func (t *scaleTraffic) startMeeting() error {
	nodes := t.c.Nodes()
	node := nodes[t.rng.IntN(len(nodes))]
	t.started++
	corr, err := t.c.StartMeeting(node, cmswstest.MeetingOptions{Name: fmt.Sprintf("Started %d", t.started)})
	if err != nil {
		return err
	}
	m := &scaleMeeting{corr: corr, local: map[string]int{}}
	t.meetings = append(t.meetings, m)
	for j := range 2 + t.rng.IntN(10) {
		id, err := t.c.AddParticipant(corr, node, cmswstest.ParticipantOptions{Name: fmt.Sprintf("S %d-%d", t.started, j)})
		if err != nil {
			return err
		}
		t.addPart(&scalePart{id: id, node: node, m: m})
	}
	return nil
}

// Run calls Step every interval until ctx ends.
func (t *scaleTraffic) Run(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := t.Step(); err != nil {
				return err
			}
		}
	}
}
