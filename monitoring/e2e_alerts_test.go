package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
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

// recordingStarts: recording starts live on Town Hall; the alert fires at
// once (info, no for) with the meeting's name, correlator and nodes.
func (e *e2e) recordingStarts(t *testing.T, townHall string) {
	e.must(e.cluster.SetRecording(townHall, true))
	a := e.waitAlert(t, "CMSRecordingStarted", map[string]string{"name": "Town Hall"}, "firing", 30*time.Second)
	want := map[string]string{"alertname": "CMSRecordingStarted", "severity": "info", "name": "Town Hall", "correlator": townHall}
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if d := a.Annotations["description"]; !strings.Contains(d, "Hosted on: cms1, cms2.") {
		t.Errorf("description %q does not list the hosting nodes", d)
	}
	if !strings.HasSuffix(a.Annotations["runbook_url"], "RUNBOOK.md#cmsrecordingstarted") {
		t.Errorf("runbook_url %q", a.Annotations["runbook_url"])
	}
	// Only Town Hall started recording.
	as, err := e.alertsNow("CMSRecordingStarted", nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("CMSRecordingStarted alerts %v, want Town Hall's only", as)
	}
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
		s, err := e.prom.query(fmt.Sprintf(`cms_call_locked{node="cms3",call=%q} == 1`, call), time.Time{})
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
		s, err := e.prom.query(fmt.Sprintf(`cms_call_locked{node="cms3",call=%q} == 0`, call), time.Time{})
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
	checks := map[string]float64{
		// The artifact-free metrics never moved.
		`max_over_time(cms_cluster_meetings_locked{job="cms"}[1m])`: 0,
		`cms_meetings_locked_total{job="cms"}`:                      0,
		`cms_meetings_unlocked_total{job="cms"}`:                    0,
		// The raw per-call value did show it.
		fmt.Sprintf(`max_over_time(cms_call_locked{node="cms3",call=%q}[1m])`, call): 1,
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

// meetingLocked: Board is locked for real; the lock alert is pending first
// (its for), then firing, with the meeting's name.
func (e *e2e) meetingLocked(t *testing.T, board string) {
	e.must(e.cluster.SetLocked(board, true))
	labels := map[string]string{"name": "Board"}
	e.waitAlert(t, "CMSMeetingLocked", labels, "pending", 15*time.Second)
	a := e.waitAlert(t, "CMSMeetingLocked", labels, "firing", e2eFor+30*time.Second)
	want := map[string]string{"alertname": "CMSMeetingLocked", "severity": "info", "name": "Board", "correlator": board}
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if d := a.Annotations["description"]; !strings.Contains(d, "Hosted on: cms2.") {
		t.Errorf("description %q does not list the hosting node", d)
	}
	as, err := e.alertsNow("CMSMeetingLocked", nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("CMSMeetingLocked alerts %v, want Board's only", as)
	}
}

// capacityHigh: cms1 carries 9 of its 10: warning, not critical; cms2 (7 of
// 100) and cms3 (no capacity stated) nothing.
func (e *e2e) capacityHigh(t *testing.T) {
	a := e.waitAlert(t, "CMSNodeCapacityHigh", map[string]string{"node": "cms1"}, "firing", e2eFor+30*time.Second)
	want := map[string]string{"alertname": "CMSNodeCapacityHigh", "severity": "warning", "node": "cms1", "job": "cms", "instance": e.exporter}
	if !equalMaps(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if s := a.Annotations["summary"]; s != "CMS node cms1 at 90% of its capacity" {
		t.Errorf("summary %q", s)
	}
	as, err := e.alertsNow("CMSNodeCapacityHigh", nil)
	e.must(err)
	if len(as) != 1 {
		t.Errorf("CMSNodeCapacityHigh alerts %v, want cms1's warning only", as)
	}
}

// nodesDown: cms2 becomes unreachable (its proxy is cut) and cms3 gets a
// wrong password by a reload. Both streams go down; only cms3's is an
// authentication failure.
func (e *e2e) nodesDown(t *testing.T) {
	e.proxies["cms2"].Close()
	e.must(os.WriteFile(filepath.Join(e.dir, "password-cms3"), []byte("wrong\n"), 0o600))
	resp, err := httpClient.Post("http://"+e.exporter+"/-/reload", "", nil)
	e.must(err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %s", resp.Status)
	}
	for _, n := range []string{"cms2", "cms3"} {
		for _, sev := range []string{"warning", "critical"} {
			labels := map[string]string{"node": n, "severity": sev}
			a := e.waitAlert(t, "CMSNodeEventsDown", labels, "firing", e2eFor+60*time.Second)
			want := map[string]string{"alertname": "CMSNodeEventsDown", "severity": sev, "node": n, "job": "cms", "instance": e.exporter}
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
	want := map[string]string{"alertname": "CMSAuthenticationFailing", "severity": "warning", "node": "cms3", "job": "cms", "instance": e.exporter}
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
}

// noUnexpectedAlerts: the alerts now are exactly those the scenario caused.
// CMSRosterCoverageLow may join them: the meetings hosted only by the nodes
// now down lost their roster subscription (RUNBOOK.md inhibits it while
// CMSNodeEventsDown fires).
func (e *e2e) noUnexpectedAlerts(t *testing.T) {
	all, err := e.prom.alerts()
	e.must(err)
	expected := []string{
		`firing CMSAuthenticationFailing{instance="X",job="cms",node="cms3",severity="warning"}`,
		`firing CMSMeetingLocked{correlator="X",name="Board",severity="info"}`,
		`firing CMSNodeCapacityHigh{instance="X",job="cms",node="cms1",severity="warning"}`,
		`firing CMSNodeEventsDown{instance="X",job="cms",node="cms2",severity="critical"}`,
		`firing CMSNodeEventsDown{instance="X",job="cms",node="cms2",severity="warning"}`,
		`firing CMSNodeEventsDown{instance="X",job="cms",node="cms3",severity="critical"}`,
		`firing CMSNodeEventsDown{instance="X",job="cms",node="cms3",severity="warning"}`,
		`firing CMSRecordingStarted{correlator="X",name="Town Hall",severity="info"}`,
	}
	var got []string
	for _, a := range all {
		if a.Labels["alertname"] == "CMSRosterCoverageLow" {
			continue
		}
		for _, k := range []string{"instance", "correlator"} {
			if _, ok := a.Labels[k]; ok {
				a.Labels[k] = "X"
			}
		}
		got = append(got, a.String())
	}
	sort.Strings(got)
	if !slices.Equal(got, expected) {
		t.Errorf("alerts:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(expected, "\n  "))
	}
}

// rulesHealthy: Prometheus evaluated every shipped rule against the real
// exporter output without an error (a many-to-many join, say).
func (e *e2e) rulesHealthy(t *testing.T, groups *rulefmt.RuleGroups) {
	rs, err := e.prom.rules()
	e.must(err)
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
