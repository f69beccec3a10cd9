package monitoring

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// e2eFor replaces every non-zero `for` of the shipped rules in the
// end-to-end run: the production values (2m to 30m) cannot be waited for
// in a test. 10 s is still longer than CMS's lock-at-creation artifact plus
// ten scrape intervals, so the artifact part of the scenario keeps its
// meaning. The production values themselves are proven by promtool's unit
// tests (alerts/tests).
const e2eFor = 10 * time.Second

// capacities are the nodes' capacity_participants; cms3 states none.
var capacities = map[string]float64{"cms1": 10, "cms2": 100}

// e2e is one end-to-end run: the fake cluster, the exporter binary reaching
// each node through a cuttable proxy, and a real Prometheus with the rules.
type e2e struct {
	t          *testing.T
	cluster    *cmswstest.Cluster
	proxies    map[string]*proxy
	dir        string
	exporter   string // 127.0.0.1:PORT
	prom       promAPI
	dashboards map[string]*Dashboard // by uid
	vars       Vars
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: starts Prometheus and the exporter")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("Prometheus is not installed (%v): run monitoring/run.sh, which installs the Debian package", err)
	}
	e := &e2e{t: t, dir: t.TempDir(), proxies: map[string]*proxy{}, dashboards: map[string]*Dashboard{}}
	ds, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		e.dashboards[d.UID] = d
	}
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	exporterBin := buildExporter(t)

	e.cluster, err = cmswstest.NewCluster(cmswstest.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cluster.Close)
	m := e.startMeetings()

	e.startExporter(exporterBin)
	e.startPrometheus(promBin, groups)
	e.waitScraped()

	// Live changes the counters see: a participant leaves, one moves to
	// another meeting, a node sends a frame the exporter cannot use.
	e.must(e.cluster.RemoveParticipant(m.bigLeaver, "timeout"))
	if _, err := e.cluster.MoveParticipant(m.standupMover, m.board, "cms2"); err != nil {
		t.Fatal(err)
	}
	if n := e.cluster.InjectRaw("cms1", []byte(`{"type":"surprise","surprise":{}}`)); n != 1 {
		t.Fatalf("InjectRaw reached %d connections, want 1", n)
	}

	t.Run("recording started", func(t *testing.T) { e.recordingStarts(t, m.townHall) })
	t.Run("lock-at-creation artifact", func(t *testing.T) { e.lockArtifact(t) })
	t.Run("meeting locked", func(t *testing.T) { e.meetingLocked(t, m.board) })
	t.Run("dashboards equal the truth", func(t *testing.T) { e.dashboardsMatchTruth(t) })
	t.Run("capacity high", func(t *testing.T) { e.capacityHigh(t) })
	t.Run("node streams down", func(t *testing.T) { e.nodesDown(t) })
	t.Run("no unexpected alert", func(t *testing.T) { e.noUnexpectedAlerts(t) })
	t.Run("rules evaluate cleanly", func(t *testing.T) { e.rulesHealthy(t, groups) })
	t.Run("every dashboard query returns data", func(t *testing.T) { e.allQueriesAnswer(t) })
	t.Run("metric names are the exporter's", func(t *testing.T) { e.metricNamesExist(t, groups) })
}

func (e *e2e) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// meetings are the correlators and participant ids the scenario acts on.
type meetings struct {
	townHall, board, standup, big string
	bigLeaver, standupMover       string
}

// startMeetings creates the meetings running before the exporter starts
// (it learns them from the nodes' snapshots).
func (e *e2e) startMeetings() meetings {
	c := e.cluster
	var m meetings
	start := func(node, name string) string {
		corr, err := c.StartMeeting(node, cmswstest.MeetingOptions{Name: name})
		e.must(err)
		return corr
	}
	join := func(corr, node, who string, o cmswstest.ParticipantOptions) string {
		o.Name = who
		id, err := c.AddParticipant(corr, node, o)
		e.must(err)
		return id
	}
	// Town Hall: distributed over cms1 and cms2, 6 participants.
	m.townHall = start("cms1", "Town Hall")
	join(m.townHall, "cms1", "Ana", cmswstest.ParticipantOptions{AudioMuted: true})
	join(m.townHall, "cms1", "Ben", cmswstest.ParticipantOptions{Presenter: true})
	join(m.townHall, "cms1", "Cleo", cmswstest.ParticipantOptions{State: "ringing"})
	join(m.townHall, "cms2", "Dan", cmswstest.ParticipantOptions{VideoMuted: true, AudioMuted: true})
	join(m.townHall, "cms2", "Eve", cmswstest.ParticipantOptions{State: "onHold"})
	join(m.townHall, "cms2", "Finn", cmswstest.ParticipantOptions{VideoMuted: true})
	// Board: cms2 only, 3 participants.
	m.board = start("cms2", "Board")
	for _, who := range []string{"Gus", "Hana", "Ivo"} {
		join(m.board, "cms2", who, cmswstest.ParticipantOptions{AudioMuted: who == "Hana"})
	}
	// Standup: cms3 only, 4 participants.
	m.standup = start("cms3", "Standup")
	for i, who := range []string{"Jo", "Kai", "Lea", "Max"} {
		id := join(m.standup, "cms3", who, cmswstest.ParticipantOptions{AudioMuted: i < 2})
		if who == "Max" {
			m.standupMover = id
		}
	}
	// Big: cms1 only, 7 participants; one will leave. cms1 then carries
	// 6/2 (Town Hall) + 6 = 9 of its capacity 10.
	m.big = start("cms1", "Big")
	for i := range 7 {
		id := join(m.big, "cms1", fmt.Sprintf("guest%d", i), cmswstest.ParticipantOptions{TxAudioMuted: i%2 == 0})
		if i == 6 {
			m.bigLeaver = id
		}
	}
	return m
}
