package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// alertsNow returns the current alerts matching name and the given labels.
func (e *e2e) alertsNow(name string, labels map[string]string) ([]alert, error) {
	all, err := e.prom.alerts()
	if err != nil {
		return nil, err
	}
	var out []alert
	for _, a := range all {
		if a.Labels["alertname"] != name {
			continue
		}
		ok := true
		for k, v := range labels {
			if a.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// waitAlert waits until exactly one alert matches and is in state.
func (e *e2e) waitAlert(t *testing.T, name string, labels map[string]string, state string, timeout time.Duration) alert {
	t.Helper()
	var got alert
	eventually(t, timeout, fmt.Sprintf("%s%v %s", name, labels, state), func() error {
		as, err := e.alertsNow(name, labels)
		if err != nil {
			return err
		}
		if len(as) != 1 || as[0].State != state {
			return fmt.Errorf("alerts %v", as)
		}
		got = as[0]
		return nil
	})
	return got
}

func (e *e2e) meetingCorrelator(name string) string {
	for corr, m := range e.cluster.Truth().Meetings {
		if m.Name == name {
			return corr
		}
	}
	e.t.Fatalf("no meeting %q in the truth", name)
	return ""
}

// recordingStarts: recording starts live on paris's Town Hall; the alert
// fires at once (info, no for) with the meeting's name, correlator and
// nodes, and the exporter's labels. Lyon's Town Hall, same correlator and
// name, recorded since before lyon's exporter started, is not announced:
// lyon counted no start.
func (e *e2e) recordingStarts(t *testing.T, townHall string) {
	e.must(e.cluster.SetRecording(townHall, true))
	a := e.waitAlert(t, "CMSRecordingStarted", map[string]string{"name": "Town Hall"}, "firing", 30*time.Second)
	// Lyon's Town Hall (cms1) is not among the hosting nodes.
	e.checkMeetingAlert(t, a, e.paris, "Town Hall", townHall, "cms1, cms2")
	if !strings.HasSuffix(a.Annotations["runbook_url"], "RUNBOOK.md#cmsrecordingstarted") {
		t.Errorf("runbook_url %q", a.Annotations["runbook_url"])
	}
}

// recordingStops: lyon's Town Hall stops being recorded, live: announced for
// lyon only, although paris's Town Hall (same correlator and name) is
// recorded.
func (e *e2e) recordingStops(t *testing.T, townHall string) {
	e.must(e.lyon.cluster.SetRecording(townHall, false))
	a := e.waitAlert(t, "CMSRecordingStopped", map[string]string{"name": "Town Hall"}, "firing", 30*time.Second)
	e.checkMeetingAlert(t, a, e.lyon, "Town Hall", townHall, "cms1")
}

// streamingStarts: lyon's Keynote starts streaming, live: announced for lyon
// only. Paris's Standup, streamed since before paris's exporter started, is
// not: paris counted no streaming start.
func (e *e2e) streamingStarts(t *testing.T, keynote string) {
	e.must(e.lyon.cluster.SetStreaming(keynote, true))
	a := e.waitAlert(t, "CMSStreamingStarted", map[string]string{"name": "Keynote"}, "firing", 30*time.Second)
	e.checkMeetingAlert(t, a, e.lyon, "Keynote", keynote, "cms3")
}

// lockArtifact: a meeting starts announced as locked and is unlocked 1-2 s
// later, after Prometheus scraped the raw lock (as the captures show
// artifacts of up to 4.1 s). Nothing may count it, nor alert on it.
func (e *e2e) lockArtifact(t *testing.T) {
	lobby, err := e.cluster.StartMeeting("cms3", cmswstest.MeetingOptions{Name: "Lobby", Locked: true})
	e.must(err)
	call := e.cluster.Truth().Meetings[lobby].Calls["cms3"]
	// Proof that the artifact reached Prometheus: otherwise "no alert"
	// would prove nothing. The exporter settles a lock after 5 s, so the
	// unlock must come before; Prometheus scrapes every second.
	eventually(t, 4*time.Second, "Prometheus sees Lobby's raw creation lock", func() error {
		s, err := e.prom.query(fmt.Sprintf(`cms_call_locked{instance=%q,node="cms3",call=%q} == 1`, e.paris.exporter, call), time.Time{})
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	e.must(e.cluster.SetLocked(lobby, false))
	eventually(t, 10*time.Second, "Lobby unlocked in Prometheus", func() error {
		s, err := e.prom.query(fmt.Sprintf(`cms_call_locked{instance=%q,node="cms3",call=%q} == 0`, e.paris.exporter, call), time.Time{})
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	// Longer than the test's for: an alert the artifact started would fire.
	time.Sleep(e2eFor + 2*time.Second)
	paris := fmt.Sprintf(`job="cms",instance=%q`, e.paris.exporter)
	checks := map[string]float64{
		// The artifact-free metrics never moved.
		`max_over_time(cms_cluster_meetings_locked{` + paris + `}[1m])`: 0,
		`cms_meetings_locked_total{` + paris + `}`:                      0,
		`cms_meetings_unlocked_total{` + paris + `}`:                    0,
		// The raw per-call value did show it.
		fmt.Sprintf(`max_over_time(cms_call_locked{%s,node="cms3",call=%q}[1m])`, paris, call): 1,
		// No alert was ever pending or firing for the meeting.
		`count_over_time(ALERTS{name="Lobby"}[1h]) or vector(0)`: 0,
	}
	for q, want := range checks {
		s, err := e.prom.query(q, time.Time{})
		e.must(err)
		if len(s) != 1 || s[0].Value != want {
			t.Errorf("%s = %v, want %v", q, s, want)
		}
	}
}

// meetingLocked: paris's Board is locked for real; the lock alert is pending
// first (its for), then firing, with the meeting's name. Lyon's Vault,
// locked since before lyon's exporter started, is never even pending.
func (e *e2e) meetingLocked(t *testing.T, board string) {
	e.must(e.cluster.SetLocked(board, true))
	labels := map[string]string{"name": "Board"}
	e.waitAlert(t, "CMSMeetingLocked", labels, "pending", 15*time.Second)
	a := e.waitAlert(t, "CMSMeetingLocked", labels, "firing", e2eFor+30*time.Second)
	e.checkMeetingAlert(t, a, e.paris, "Board", board, "cms2")
}

// checkMeetingAlert: a, a meeting alert, carries the site's exporter
// labels, the meeting's name and correlator, lists exactly its hosting
// nodes of that site, and is the only alert of its name: no other
// cluster's meeting (same name, same correlator) is announced with it.
func (e *e2e) checkMeetingAlert(t *testing.T, a alert, s *site, name, correlator, hostedOn string) {
	t.Helper()
	alertname := a.Labels["alertname"]
	want := s.labels(map[string]string{"alertname": alertname, "severity": "info", "name": name, "correlator": correlator})
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if d := a.Annotations["description"]; !strings.Contains(d, "Hosted on: "+hostedOn+".") {
		t.Errorf("description %q does not list %s's hosting nodes (%s)", d, s.name, hostedOn)
	}
	as, err := e.alertsNow(alertname, nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("%s alerts %v, want %s's %s only", alertname, as, s.name, name)
	}
}

// capacityHigh: paris's cms1 carries 9 of its 10: warning, not critical;
// cms2 (7 of 100) and cms3 (no capacity stated) nothing, nor lyon's cms1
// (nothing of 10).
func (e *e2e) capacityHigh(t *testing.T) {
	a := e.waitAlert(t, "CMSNodeCapacityHigh", map[string]string{"node": "cms1"}, "firing", e2eFor+30*time.Second)
	want := e.paris.labels(map[string]string{"alertname": "CMSNodeCapacityHigh", "severity": "warning", "node": "cms1"})
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if s := a.Annotations["summary"]; s != "CMS node cms1 at 90% of its capacity" {
		t.Errorf("summary %q", s)
	}
	as, err := e.alertsNow("CMSNodeCapacityHigh", nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("CMSNodeCapacityHigh alerts %v, want paris's cms1 warning only", as)
	}
}

// nodesDown: paris's cms2 becomes unreachable (its proxy is cut) and its
// cms3 gets a wrong password by a reload. Both streams go down; only cms3's
// is an authentication failure. Lyon's nodes of the same names stay up.
func (e *e2e) nodesDown(t *testing.T) {
	ended := func() []sample {
		s, err := e.prom.query(`cms_meetings_ended_total{cluster="paris"}`, time.Time{})
		e.must(err)
		return s
	}
	endedBefore := ended()
	e.paris.proxies["cms2"].Close()
	e.must(os.WriteFile(filepath.Join(e.paris.dir, "password-cms3"), []byte("wrong\n"), 0o600))
	if code := e.reload(e.paris); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	for _, n := range []string{"cms2", "cms3"} {
		for _, sev := range []string{"warning", "critical"} {
			labels := map[string]string{"node": n, "severity": sev}
			a := e.waitAlert(t, "CMSNodeEventsDown", labels, "firing", e2eFor+60*time.Second)
			want := e.paris.labels(map[string]string{"alertname": "CMSNodeEventsDown", "severity": sev, "node": n})
			if !equalMaps(a.Labels, want) {
				t.Errorf("labels %v, want %v", a.Labels, want)
			}
		}
	}
	a, err := e.alertsNow("CMSNodeEventsDown", map[string]string{"node": "cms2", "severity": "warning"})
	e.must(err)
	if d := a[0].Annotations["description"]; !strings.Contains(d, "network=") {
		t.Errorf("cms2's description %q does not give the network failures", d)
	}
	auth := e.waitAlert(t, "CMSAuthenticationFailing", map[string]string{"node": "cms3"}, "firing", 30*time.Second)
	want := e.paris.labels(map[string]string{"alertname": "CMSAuthenticationFailing", "severity": "warning", "node": "cms3"})
	if !equalMaps(auth.Labels, want) {
		t.Errorf("labels %v, want %v", auth.Labels, want)
	}
	as, err := e.alertsNow("CMSAuthenticationFailing", nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("CMSAuthenticationFailing alerts %v, want cms3's only (cms2 is a network failure)", as)
	}
	if as, _ := e.alertsNow("CMSNodeEventsDown", map[string]string{"node": "cms1"}); len(as) != 0 {
		t.Errorf("cms1 is up, yet %v", as)
	}
	// keep_calls_when_down (5s here) after cms2 went down, its calls leave
	// the per-call and cluster series: Board, hosted on cms2 alone, is no
	// longer counted, and its lock alert resolves; no end is counted.
	eventually(t, 60*time.Second, "cms2's calls gone from paris's series", func() error {
		s, err := e.prom.query(`cms_call_info{cluster="paris",node="cms2"}`, time.Time{})
		if err != nil {
			return err
		}
		if len(s) != 0 {
			return fmt.Errorf("%d call series of cms2 left", len(s))
		}
		return nil
	})
	eventually(t, 60*time.Second, "Board's lock alert resolved", func() error {
		as, err := e.alertsNow("CMSMeetingLocked", map[string]string{"name": "Board"})
		if err != nil {
			return err
		}
		if len(as) != 0 {
			return fmt.Errorf("still %v", as)
		}
		return nil
	})
	if after := ended(); len(after) != 1 || len(endedBefore) != 1 || after[0].Value != endedBefore[0].Value {
		t.Errorf("paris's meetings ended went from %v to %v over the outage: an expiry is no end", endedBefore, after)
	}
}

// noUnexpectedAlerts: the alerts now are exactly those the scenario caused
// (Board's lock alert resolved when cms2's calls expired, see nodesDown).
// CMSRosterCoverageLow may join them: the meetings hosted only by the nodes
// now down lost their roster subscription (RUNBOOK.md inhibits it while
// CMSNodeEventsDown fires).
func (e *e2e) noUnexpectedAlerts(t *testing.T) {
	all, err := e.prom.alerts()
	e.must(err)
	// Instances are shown as the name of their site, correlators as X.
	expected := []string{
		`firing CMSAuthenticationFailing{cluster="paris",instance="paris",job="cms",node="cms3",severity="warning"}`,
		`firing CMSExporterReloadFailed{cluster="lyon",instance="lyon",job="cms",severity="warning"}`,
		`firing CMSNodeCapacityHigh{cluster="paris",instance="paris",job="cms",node="cms1",severity="warning"}`,
		`firing CMSNodeEventsDown{cluster="paris",instance="paris",job="cms",node="cms2",severity="critical"}`,
		`firing CMSNodeEventsDown{cluster="paris",instance="paris",job="cms",node="cms2",severity="warning"}`,
		`firing CMSNodeEventsDown{cluster="paris",instance="paris",job="cms",node="cms3",severity="critical"}`,
		`firing CMSNodeEventsDown{cluster="paris",instance="paris",job="cms",node="cms3",severity="warning"}`,
		`firing CMSRecordingStarted{cluster="paris",correlator="X",instance="paris",job="cms",name="Town Hall",severity="info"}`,
		`firing CMSRecordingStopped{cluster="lyon",correlator="X",instance="lyon",job="cms",name="Town Hall",severity="info"}`,
		`firing CMSStreamingStarted{cluster="lyon",correlator="X",instance="lyon",job="cms",name="Keynote",severity="info"}`,
	}
	var got []string
	for _, a := range all {
		if a.Labels["alertname"] == "CMSRosterCoverageLow" {
			continue
		}
		for _, s := range e.sites() {
			if a.Labels["instance"] == s.exporter {
				a.Labels["instance"] = s.name
			}
		}
		if _, ok := a.Labels["correlator"]; ok {
			a.Labels["correlator"] = "X"
		}
		got = append(got, a.String())
	}
	slices.Sort(got)
	if !slices.Equal(got, expected) {
		t.Errorf("alerts:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(expected, "\n  "))
	}
}

// breakReload writes an invalid configuration file for the site's exporter
// and asks it to reload: it refuses (500) and keeps running.
func (e *e2e) breakReload(s *site) {
	e.must(os.WriteFile(s.config, []byte("nodes: [\n"), 0o600))
	if code := e.reload(s); code != 500 {
		e.t.Fatalf("reload of a broken file: %d, want 500", code)
	}
}

// reloadFailed: lyon's exporter refused its broken file at the start of the
// scenario: CMSExporterReloadFailed fires for lyon, not for paris (whose
// reload in nodesDown worked).
func (e *e2e) reloadFailed(t *testing.T) {
	a := e.waitAlert(t, "CMSExporterReloadFailed", nil, "firing", e2eFor+30*time.Second)
	want := e.lyon.labels(map[string]string{"alertname": "CMSExporterReloadFailed", "severity": "warning"})
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
}

// exporterDown: lyon's exporter stops. CMSExporterDown (both severities,
// their for shortened) fires for lyon's target, recognised by the
// cms_exporter_build_info it exposed, and not for paris.
func (e *e2e) exporterDown(t *testing.T) {
	e.lyon.proc.stop()
	for _, sev := range []string{"warning", "critical"} {
		a := e.waitAlert(t, "CMSExporterDown", map[string]string{"severity": sev}, "firing", e2eFor+30*time.Second)
		want := e.lyon.labels(map[string]string{"alertname": "CMSExporterDown", "severity": sev})
		if !equalMaps(a.Labels, want) {
			t.Errorf("labels %v, want %v", a.Labels, want)
		}
	}
	as, err := e.alertsNow("CMSExporterDown", nil)
	e.must(err)
	if len(as) != 2 {
		t.Errorf("CMSExporterDown alerts %v, want lyon's warning and critical only", as)
	}
}

// rulesHealthy: Prometheus evaluated every shipped rule against the real
// exporter output without an error (a many-to-many join, say).
func (e *e2e) rulesHealthy(t *testing.T, groups *rulefmt.RuleGroups) {
	checkRulesHealthy(t, e.prom, groups)
}

// checkRulesHealthy: prom loaded every rule of groups, and evaluated each
// without an error.
func checkRulesHealthy(t *testing.T, prom promAPI, groups *rulefmt.RuleGroups) {
	t.Helper()
	rs, err := prom.rules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range groups.Groups {
		n += len(g.Rules)
	}
	if len(rs) != n {
		t.Errorf("Prometheus loaded %d rules, the file has %d", len(rs), n)
	}
	for _, r := range rs {
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s: health %q, last error %q", r.Name, r.Health, r.LastError)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
