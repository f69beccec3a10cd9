package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/config"
)

// Every meeting_names value config accepts is one the collector knows:
// the two lists live in packages that must not import each other.
func TestMeetingNameModesAgree(t *testing.T) {
	for _, m := range config.MeetingNameModes() {
		if _, err := collector.ParseNameMode(m); err != nil {
			t.Errorf("config accepts meeting_names %q, the collector does not: %v", m, err)
		}
	}
}

// meeting_names reaches the model at start and at every reload: hashed,
// the name is not on /metrics; omitted, the label is empty; shown, it is
// the name.
func TestMeetingNamesFromConfig(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 1, Seed: 5})
	ok(t, err)
	defer cluster.Close()
	const secret = "Board of Directors Q3"
	_, err = cluster.StartMeeting("cms1", cmswstest.MeetingOptions{Name: secret})
	ok(t, err)
	dir := clusterFiles(t, cluster)
	cfg := writeConfig(t, dir, cluster, "cms1")
	setMode := func(mode string) {
		b, err := os.ReadFile(cfg)
		ok(t, err)
		lines := strings.Split(string(b), "\n")
		if strings.HasPrefix(lines[0], "meeting_names:") {
			lines = lines[1:]
		}
		ok(t, os.WriteFile(cfg, []byte("meeting_names: "+mode+"\n"+strings.Join(lines, "\n")), 0o600))
	}
	setMode("hash")
	r := startRun(t, "--config.file="+cfg, "--web.enable-lifecycle")
	nameOf := func() (string, bool) {
		for k := range r.metrics() {
			if strings.HasPrefix(k, "cms_call_info{") {
				i := strings.Index(k, `name="`)
				return k[i+6 : i+6+strings.IndexByte(k[i+6:], '"')], true
			}
		}
		return "", false
	}
	var got string
	r.waitFor("the meeting on /metrics", func() bool { var found bool; got, found = nameOf(); return found })
	if got == secret || len(got) != 12 {
		t.Fatalf("meeting_names: hash shows name=%q", got)
	}
	_, body := r.get("/metrics")
	if strings.Contains(body, secret) {
		t.Fatal("the meeting name is on /metrics with meeting_names: hash")
	}
	setMode("omit")
	if code, body := r.reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	r.waitFor("an empty name label", func() bool { n, found := nameOf(); return found && n == "" })
	setMode("show")
	if code, body := r.reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	r.waitFor("the name shown", func() bool { n, _ := nameOf(); return n == secret })
}

// At the default log level a rude frame's dump in the warning is redacted:
// a participant's name in it never reaches the log. At debug it is shown
// as it arrived, for whoever is debugging the protocol.
func TestFrameDumpsRedactedUnlessDebug(t *testing.T) {
	for _, lvl := range []string{"info", "debug"} {
		t.Run(lvl, func(t *testing.T) {
			cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 1, Seed: 5})
			ok(t, err)
			defer cluster.Close()
			dir := clusterFiles(t, cluster)
			r := startRun(t, "--config.file="+writeConfig(t, dir, cluster, "cms1"), "--log.level="+lvl)
			r.waitFor("cms1 up", func() bool { return r.metrics()[`cms_up{node="cms1"}`] == 1 })
			const name = "Zebediah Confidential"
			// Broken JSON (a cut frame), with no readable messageId.
			cluster.InjectRaw("cms1", []byte(`{"type":"message","message":{"type":"rosterUpdate","updates":[{"name":"`+name+`"`))
			r.waitFor("the frame counted", func() bool {
				return r.metrics()[`cms_events_message_errors_total{node="cms1",reason="malformed_json"}`] >= 1
			})
			logged := strings.Contains(r.stderr.String(), name)
			if logged != (lvl == "debug") {
				t.Fatalf("at --log.level=%s the name in the frame logged: %v\n%s", lvl, logged, tail(r.stderr.String(), 3000))
			}
		})
	}
}
