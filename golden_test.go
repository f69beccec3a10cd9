package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/*.prom from the current code")

// timingFamilies depend on when things happened (clock readings, probe
// and retry counts, scrape durations), not on what the cluster holds: the
// golden exposition keeps their series and labels but not their values.
var timingFamilies = map[string]bool{
	"cms_events_last_message_timestamp_seconds":                 true,
	"cms_events_messages_total":                                 true,
	"cms_events_connection_attempts_total":                      true,
	"cms_events_probes_total":                                   true,
	"cms_events_probe_latency_seconds":                          true,
	"cms_events_connected_since_timestamp_seconds":              true,
	"cms_exporter_config_last_reload_success_timestamp_seconds": true,
	"cms_exporter_build_info":                                   true,
}

// TestGoldenExposition pins what a fixed fake-cluster scenario renders:
// every cms_* family, its help, type, series, labels and values (timing
// families: series and labels only). A refactoring must leave it byte for
// byte the same; a deliberate change of the exposition rewrites it with
// `go test -run TestGoldenExposition -update .` and shows in the diff.
func TestGoldenExposition(t *testing.T) {
	h := newHarnessConnections(t, 2, cmswstest.Options{Nodes: 3, Seed: 8, Username: "admin", Password: "secret"}, nil)
	nodes := h.cluster.Nodes()
	h.capacity = map[string]int{nodes[0]: 120, nodes[2]: 0}
	ok(t, h.x.reload())
	h.eventuallyTruth(nodes...)

	c := h.cluster
	big := must[string](t)(c.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Board", Recording: true}))
	ok(t, c.DistributeMeeting(big, nodes[1]))
	locked := must[string](t)(c.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "Locked room", CallType: "adHoc", Locked: true, Streaming: true}))
	// Rosters are watched before anyone joins, so every join is live.
	h.eventuallyRoster(nodes...)
	var leaving string
	for i, n := range []string{nodes[0], nodes[0], nodes[1], nodes[1], nodes[0]} {
		id := must[string](t)(c.AddParticipant(big, n, cmswstest.ParticipantOptions{
			Name: "p" + string(rune('a'+i)), AudioMuted: i%2 == 0, VideoMuted: i == 3, Presenter: i == 1,
		}))
		if i == 4 {
			leaving = id
		}
	}
	ringing := must[string](t)(c.AddParticipant(locked, nodes[1], cmswstest.ParticipantOptions{Name: "caller", State: "ringing", TxVideoMuted: true}))
	ok(t, c.UpdateParticipant(ringing, cmswstest.ParticipantChange{ActiveSpeaker: ptr(true)}))
	h.eventuallyRoster(nodes...)
	ok(t, c.RemoveParticipant(leaving, "timeout"))
	short := must[string](t)(c.StartMeeting(nodes[2], cmswstest.MeetingOptions{Name: "Short", CallType: "forwarding", EndpointRecording: true}))
	h.eventuallyRoster(nodes...)
	ok(t, c.EndMeeting(short))
	ok(t, c.SetRecording(big, false))
	ok(t, c.SetLocked(locked, false))
	h.eventuallyRoster(nodes...)
	// The planner lets go of the ended meeting's roster subscription.
	h.eventually("no pending or deactivated subscription", func(m map[string]float64) bool {
		for k, v := range m {
			if strings.HasPrefix(k, "cms_events_subscriptions{") && v != 0 &&
				(strings.Contains(k, `state="pending"`) || strings.Contains(k, `state="deactivated"`)) {
				return false
			}
		}
		return true
	})

	got := goldenExposition(t, []byte(h.rawMetrics()))
	path := filepath.Join("testdata", "golden", "scenario.prom")
	if *updateGolden {
		ok(t, os.MkdirAll(filepath.Dir(path), 0o755))
		ok(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("exposition differs from %s:\n%s", path, lineDiff(string(want), string(got)))
	}
}

// goldenExposition re-encodes the cms_* families of a scrape in a stable
// form, with the values of timing families replaced by 0.
func goldenExposition(t *testing.T, body []byte) []byte {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range fams {
			if strings.HasPrefix(n, "cms_") && !yield(n) {
				return
			}
		}
	}) {
		f := fams[name]
		if timingFamilies[name] {
			for _, m := range f.GetMetric() {
				switch {
				case m.Counter != nil:
					m.Counter.Value = ptr(0.0)
					m.Counter.CreatedTimestamp = nil
				case m.Gauge != nil:
					m.Gauge.Value = ptr(0.0)
				}
			}
		}
		for _, m := range f.GetMetric() {
			if m.Counter != nil {
				m.Counter.CreatedTimestamp = nil
			}
		}
		if _, err := expfmt.MetricFamilyToText(&out, f); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
