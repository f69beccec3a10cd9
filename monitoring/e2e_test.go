package monitoring

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// e2eFor replaces every non-zero `for` of the shipped rules in the
// end-to-end run: the production values (2m to 30m) cannot be waited for
// in a test. 10 s is still longer than CMS's lock-at-creation artifact plus
// ten scrape intervals, so the artifact part of the scenario keeps its
// meaning. The production values themselves are proven by promtool's unit
// tests (alerts/tests).
const e2eFor = 10 * time.Second

// capacities are paris's nodes' capacity_participants; cms3 states none.
var capacities = map[string]float64{"cms1": 10, "cms2": 100}

// lyonCapacities: lyon's cms1 has the capacity of paris's cms1 and none of
// its load.
var lyonCapacities = map[string]float64{"cms1": 10}

// e2e is one end-to-end run: two CMS clusters (paris, where the main
// scenario plays, and lyon beside it), each with its exporter, and a real
// Prometheus scraping both with the rules loaded.
type e2e struct {
	t           *testing.T
	paris, lyon *site
	cluster     *cmswstest.Cluster // paris's: the truth the dashboards show
	dir         string
	prom        promAPI
	dashboards  map[string]*Dashboard // by uid
	vars        Vars
}

func (e *e2e) sites() []*site { return []*site{e.paris, e.lyon} }

// TestEndToEnd runs the scenario once per Prometheus server (see
// prometheusServers): the same rules and expectations on every major.
func TestEndToEnd(t *testing.T) {
	servers, ds, exporterBin := e2eSetup(t)
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { endToEnd(t, srv.bin, ds, groups, exporterBin) })
	}
}

// e2eSetup is what every end-to-end test needs first: the Prometheus
// servers to run on, the dashboards, and the exporter binary. It skips in
// -short mode.
func e2eSetup(t *testing.T) ([]promServer, []*Dashboard, string) {
	t.Helper()
	servers, ds := e2eSetupServers(t)
	return servers, ds, buildExporter(t)
}

// e2eSetupServers is e2eSetup without the exporter, for a test whose
// targets are not the exporter.
func e2eSetupServers(t *testing.T) ([]promServer, []*Dashboard) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: starts Prometheus")
	}
	servers, err := prometheusServers()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := LoadDashboards(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	return servers, ds
}

func endToEnd(t *testing.T, promBin string, ds []*Dashboard, groups *rulefmt.RuleGroups, exporterBin string) {
	e := &e2e{t: t, dir: t.TempDir(), dashboards: map[string]*Dashboard{}}
	for _, d := range ds {
		e.dashboards[d.UID] = d
	}
	newCluster := func(seed int64) *cmswstest.Cluster {
		c, err := cmswstest.NewCluster(cmswstest.Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	e.paris = newSite("paris", newCluster(1), capacities)
	e.cluster = e.paris.cluster
	m := e.startMeetings()
	e.lyon = newSite("lyon", newCluster(2), lyonCapacities)
	l := e.startLyonMeetings(m)

	e.startExporter(exporterBin, e.paris)
	e.startExporter(exporterBin, e.lyon)
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
	// Lyon's configuration file gets broken and reloaded now, so that the
	// alert's for has passed when it is checked.
	e.breakReload(e.lyon)

	t.Run("recording started", func(t *testing.T) { e.recordingStarts(t, m.townHall) })
	t.Run("recording stopped", func(t *testing.T) { e.recordingStops(t, l.townHall) })
	t.Run("streaming started", func(t *testing.T) { e.streamingStarts(t, l.keynote) })
	t.Run("lock-at-creation artifact", func(t *testing.T) { e.lockArtifact(t) })
	t.Run("meeting locked", func(t *testing.T) { e.meetingLocked(t, m.board) })
	t.Run("dashboards equal the truth", func(t *testing.T) { e.dashboardsMatchTruth(t) })
	t.Run("capacity high", func(t *testing.T) { e.capacityHigh(t) })
	t.Run("node streams down", func(t *testing.T) { e.nodesDown(t) })
	t.Run("reload failed", func(t *testing.T) { e.reloadFailed(t) })
	t.Run("no unexpected alert", func(t *testing.T) { e.noUnexpectedAlerts(t) })
	t.Run("rules evaluate cleanly", func(t *testing.T) { e.rulesHealthy(t, groups) })
	t.Run("every dashboard query returns data", func(t *testing.T) { e.allQueriesAnswer(t) })
	t.Run("metric names are the exporter's", func(t *testing.T) { e.metricNamesExist(t, groups) })
	// Last: lyon's series go stale with its exporter.
	t.Run("exporter down", func(t *testing.T) { e.exporterDown(t) })
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
	startWith := func(node string, o cmswstest.MeetingOptions) string {
		corr, err := c.StartMeeting(node, o)
		e.must(err)
		return corr
	}
	start := func(node, name string) string { return startWith(node, cmswstest.MeetingOptions{Name: name}) }
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
	// Standup: cms3 only, 4 participants, streamed all along (lyon's
	// streaming start must not announce it).
	m.standup = startWith("cms3", cmswstest.MeetingOptions{Name: "Standup", Streaming: true})
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

// lyonMeetings are the correlators of lyon's meetings.
type lyonMeetings struct {
	townHall, vault, keynote string
}

// startLyonMeetings creates lyon's meetings, before its exporter starts: it
// learns them from the snapshots and counts no change for them. Each is a
// trap for an alert that would let paris's counters vouch for lyon:
//   - "Town Hall", paris's Town Hall correlator and name, on cms1, recorded:
//     paris's recording start must not announce it; its recording stop,
//     live, must be announced for lyon only;
//   - "Vault", on cms2, locked: paris's lock must not announce it;
//   - "Keynote", on cms3: it starts streaming live.
func (e *e2e) startLyonMeetings(m meetings) lyonMeetings {
	c := e.lyon.cluster
	start := func(node string, o cmswstest.MeetingOptions) string {
		corr, err := c.StartMeeting(node, o)
		e.must(err)
		return corr
	}
	return lyonMeetings{
		townHall: start("cms1", cmswstest.MeetingOptions{Name: "Town Hall", Correlator: m.townHall, Recording: true}),
		vault:    start("cms2", cmswstest.MeetingOptions{Name: "Vault", Locked: true}),
		keynote:  start("cms3", cmswstest.MeetingOptions{Name: "Keynote"}),
	}
}
