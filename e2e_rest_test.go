package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// restInterval is how often the end-to-end tests poll the fake's REST API.
const restInterval = 200 * time.Millisecond

// restFamilies are the REST-derived families truthREST speaks for: for
// them /metrics must show exactly the fake's books. Uptime and alarm ages
// move with the clock; timedFamilies checks them apart.
var restFamilies = []string{"cms_node_info", "cms_node_activated", "cms_node_cluster_enabled",
	"cms_node_call_legs", "cms_node_call_legs_max", "cms_node_call_legs_completed_total",
	"cms_node_media_bytes_per_second", "cms_node_media_processing_load", "cms_node_load_limit",
	"cms_node_participant_limit", "cms_license_status", "cms_license_expiry_timestamp_seconds",
	"cms_license_limit", "cms_license_personal_limit", "cms_license_personal_assigned",
	"cms_license_shared_limit", "cms_license_capacity_units_limit", "cms_license_capacity_units_used",
	"cms_license_weighted_calls", "cms_license_weighted_calls_without_personal_license", "cms_rest_up"}

// timedFamilies are present exactly where the truth has them, with a value
// at most a poll interval (plus a second of rounding) behind the truth's.
var timedFamilies = []string{"cms_node_uptime_seconds", "cms_node_alarm_active_seconds"}

func putOptional(want map[string]float64, v *int64, name string, kv ...string) {
	if v != nil {
		want[key(name, kv...)] = float64(*v)
	}
}

// truthREST derives, from the fake's books, every REST-derived series the
// exporter must show. A node whose REST API is faulty shows none of them,
// and cms_rest_up 0.
func truthREST(tr map[string]cmswstest.NodeRESTTruth) map[string]float64 {
	want := map[string]float64{}
	for node, nt := range tr {
		if nt.Fault != (cmswstest.RESTFault{}) {
			want[key("cms_rest_up", "node", node)] = 0
			continue
		}
		want[key("cms_rest_up", "node", node)] = 1
		st := nt.Status
		want[key("cms_node_info", "node", node, "version", st.SoftwareVersion)] = 1
		if st.UptimeSeconds != nil {
			want[key("cms_node_uptime_seconds", "node", node)] = *st.UptimeSeconds
		}
		if st.Activated != nil {
			want[key("cms_node_activated", "node", node)] = b2f(*st.Activated)
		}
		if st.ClusterEnabled != nil {
			want[key("cms_node_cluster_enabled", "node", node)] = b2f(*st.ClusterEnabled)
		}
		putOptional(want, st.CallLegsActive, "cms_node_call_legs", "node", node)
		putOptional(want, st.CallLegsMaxActive, "cms_node_call_legs_max", "node", node)
		putOptional(want, st.CallLegsCompleted, "cms_node_call_legs_completed_total", "node", node)
		for _, m := range []struct {
			bits             *int64
			media, direction string
		}{
			{st.AudioBitRateIncoming, "audio", "in"}, {st.AudioBitRateOutgoing, "audio", "out"},
			{st.VideoBitRateIncoming, "video", "in"}, {st.VideoBitRateOutgoing, "video", "out"},
		} {
			if m.bits != nil {
				want[key("cms_node_media_bytes_per_second", "node", node, "media", m.media, "direction", m.direction)] = float64(*m.bits) / 8
			}
		}
		putOptional(want, nt.Load.MediaProcessingLoad, "cms_node_media_processing_load", "node", node)
		putOptional(want, nt.Cluster.LoadLimit, "cms_node_load_limit", "node", node)
		putOptional(want, nt.Cluster.ParticipantLimit, "cms_node_participant_limit", "node", node)
		for _, a := range nt.Alarms {
			want[key("cms_node_alarm_active_seconds", "node", node, "type", a.Type)] = a.ActiveFor.Seconds()
		}
		for _, f := range nt.Licensing.Features {
			for _, s := range []string{"noLicense", "activated", "expired"} {
				want[key("cms_license_status", "node", node, "feature", f.Name, "status", s)] = b2f(f.Status == s)
			}
			if !f.Expiry.IsZero() {
				want[key("cms_license_expiry_timestamp_seconds", "node", node, "feature", f.Name)] = float64(f.Expiry.Unix())
			}
			putOptional(want, f.Limit, "cms_license_limit", "node", node, "feature", f.Name)
		}
		m := nt.MultipartyLicensing
		putOptional(want, m.PersonalLicenseLimit, "cms_license_personal_limit", "node", node)
		putOptional(want, m.PersonalLicenses, "cms_license_personal_assigned", "node", node)
		putOptional(want, m.SharedLicenseLimit, "cms_license_shared_limit", "node", node)
		putOptional(want, m.CapacityUnitLimit, "cms_license_capacity_units_limit", "node", node)
		putOptional(want, m.CapacityUnitUsage, "cms_license_capacity_units_used", "node", node)
		putOptional(want, m.WeightedCallsActive, "cms_license_weighted_calls", "node", node)
		putOptional(want, m.WeightedCallsWithoutPersonalLicense, "cms_license_weighted_calls_without_personal_license", "node", node)
	}
	return want
}

// diffREST compares the REST-derived families of a scrape with the truth.
func diffREST(got, want map[string]float64) []string {
	var diffs []string
	exact, timed := map[string]bool{}, map[string]bool{}
	for _, f := range restFamilies {
		exact[f] = true
	}
	for _, f := range timedFamilies {
		timed[f] = true
	}
	for k, v := range got {
		f := family(k)
		if !exact[f] && !timed[f] {
			continue
		}
		w, ok := want[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("unexpected %s = %v", k, v))
		case exact[f] && v != w:
			diffs = append(diffs, fmt.Sprintf("%s = %v, truth %v", k, v, w))
		case timed[f] && (v > w || v < w-restInterval.Seconds()-1):
			diffs = append(diffs, fmt.Sprintf("%s = %v, truth %v (one poll behind at most)", k, v, w))
		}
	}
	for k, w := range want {
		if _, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s (truth %v)", k, w))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// eventuallyREST waits until the events model equals the truth (nodes in
// up) and every REST-derived series equals the fake's books.
func (h *harness) eventuallyREST(up ...string) map[string]float64 {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.eventuallyTruth(up...)
		got := h.scrape()
		diffs := diffREST(got, truthREST(h.cluster.RESTTruth()))
		if len(diffs) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("REST series never matched the fake's books; %d differences:\n  %s\nlogs:\n%s",
				len(diffs), strings.Join(first(diffs, 30), "\n  "), tail(h.logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newRESTHarness(t *testing.T, opts cmswstest.Options) *harness {
	t.Helper()
	h := newHarness(t, opts, nil)
	h.restInterval = restInterval
	ok(t, h.x.reload())
	return h
}

// Every REST-derived series equals the fake's books through meetings,
// limits, licences (expiring, expired), alarms raised and cleared, and a
// node restart; with the cluster quiet, the model's legs equal the nodes'.
func TestE2ERESTMatchesTheNodesBooks(t *testing.T) {
	h := newRESTHarness(t, cmswstest.Options{Nodes: 3, Seed: 91})
	nodes := h.cluster.Nodes()
	c := h.cluster
	h.eventuallyREST(nodes...)

	board := must[string](t)(c.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Board"}))
	ok(t, c.DistributeMeeting(board, nodes[1]))
	ok(t, c.DistributeMeeting(board, nodes[2]))
	for i, n := range []string{nodes[0], nodes[0], nodes[1], nodes[2], nodes[2]} {
		must[string](t)(c.AddParticipant(board, n, cmswstest.ParticipantOptions{Name: fmt.Sprint("p", i)}))
	}
	small := must[string](t)(c.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "Small"}))
	must[string](t)(c.AddParticipant(small, nodes[1], cmswstest.ParticipantOptions{Name: "q", State: "ringing"}))
	ok(t, c.SetLimits(nodes[0], ptr[int64](50000), ptr[int64](80)))
	now := time.Now()
	ok(t, c.SetLicense(nodes[1], "recording", "activated", now.Add(20*24*time.Hour), ptr[int64](2)))
	ok(t, c.SetLicense(nodes[2], "callBridge", "expired", now.Add(-24*time.Hour), nil))
	ok(t, c.SetMultipartyLicensing(nodes[0], cmsrest.MultipartyLicensing{PersonalLicenseLimit: ptr[int64](10), CapacityUnitUsage: ptr[int64](3)}))
	ok(t, c.RaiseAlarm(nodes[1], "recordingLowDiskSpace"))
	m := h.eventuallyREST(nodes...)
	// 6 participants, a meeting on 3 nodes (6 link legs): 12 legs.
	h.eventually("no drift with the cluster quiet", func(m map[string]float64) bool {
		return m[key("cms_cluster_call_legs_drift")] == 0 && m[key("cms_cluster_call_legs_expected")] == 12
	})
	if m[key("cms_node_participant_limit", "node", nodes[1])] != 0 {
		t.Error("a node without a participant limit shows one")
	}

	ok(t, c.ClearAlarm(nodes[1], "recordingLowDiskSpace"))
	ok(t, c.EndInstance(board, nodes[2]))
	ok(t, c.RestartNode(nodes[1]))
	h.eventuallyREST(nodes...)
	h.eventually("no drift after the restart", func(m map[string]float64) bool {
		return m[key("cms_cluster_call_legs_drift")] == 0 && m[key("cms_cluster_call_legs_expected")] == 2
	})
	for k := range h.scrape() {
		if family(k) == "cms_node_alarm_active_seconds" {
			t.Errorf("%s still shown after the alarm cleared", k)
		}
	}
}

// A node whose REST API fails keeps its events metrics: its REST series
// disappear (never stale), cms_rest_up says 0, and every failure is
// counted by reason; once healed, its series are back. The reverse: a node
// whose events are down keeps its REST series, and the drift, which needs
// every node synced, is absent meanwhile.
func TestE2ERESTFailureAndEventsFailureAreIndependent(t *testing.T) {
	h := newRESTHarness(t, cmswstest.Options{Nodes: 2, Seed: 92})
	nodes := h.cluster.Nodes()
	c := h.cluster
	space := must[string](t)(c.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Space"}))
	must[string](t)(c.AddParticipant(space, nodes[0], cmswstest.ParticipantOptions{Name: "a"}))
	h.eventuallyREST(nodes...)

	for _, tc := range []struct {
		fault  cmswstest.RESTFault
		reason string
	}{
		{cmswstest.RESTFault{Status: 500}, cmsrest.FailureHTTPStatus},
		{cmswstest.RESTFault{Status: 403}, cmsrest.FailureAuth},
		{cmswstest.RESTFault{Malformed: true}, cmsrest.FailureDecode},
		{cmswstest.RESTFault{Delay: time.Second}, cmsrest.FailureTimeout},
	} {
		ok(t, c.SetRESTFault(nodes[0], tc.fault))
		m := h.eventuallyREST(nodes...)
		if v := m[key("cms_rest_request_failures_total", "node", nodes[0], "resource", "status", "reason", tc.reason)]; v == 0 {
			t.Errorf("fault %+v: no %s failure counted", tc.fault, tc.reason)
		}
		if _, ok := m[key("cms_cluster_call_legs_drift")]; ok {
			t.Errorf("fault %+v: drift shown while a node's books are unknown", tc.fault)
		}
		ok(t, c.SetRESTFault(nodes[0], cmswstest.RESTFault{}))
		h.eventuallyREST(nodes...)
	}

	// Events down, REST up.
	ok(t, c.RefuseEvents(nodes[1], true))
	// Down, and kept down: a reconnect attempt was refused.
	m := h.eventually("node events refused", func(m map[string]float64) bool {
		return m[key("cms_up", "node", nodes[1])] == 0 &&
			m[key("cms_events_connect_failures_total", "node", nodes[1], "reason", "handshake")] > 0
	})
	if diffs := diffREST(m, truthREST(c.RESTTruth())); len(diffs) > 0 {
		t.Errorf("REST series changed with the events down:\n  %s", strings.Join(diffs, "\n  "))
	}
	if _, ok := m[key("cms_cluster_call_legs_drift")]; ok {
		t.Error("drift shown while a node's events are down")
	}
	ok(t, c.RefuseEvents(nodes[1], false))
	h.eventuallyREST(nodes...)
}

// Legs the events never show (calls outside meetings, a missed update)
// make the drift what they are, and it returns to 0 when they go.
func TestE2EDriftShowsLegsTheEventsDoNotExplain(t *testing.T) {
	h := newRESTHarness(t, cmswstest.Options{Nodes: 2, Seed: 93})
	nodes := h.cluster.Nodes()
	c := h.cluster
	m := must[string](t)(c.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "M"}))
	must[string](t)(c.AddParticipant(m, nodes[0], cmswstest.ParticipantOptions{Name: "a"}))
	h.eventuallyREST(nodes...)
	h.eventually("drift 0", func(m map[string]float64) bool { return m[key("cms_cluster_call_legs_drift")] == 0 })
	ok(t, c.ExtraCallLegs(nodes[1], 3))
	h.eventually("drift 3", func(m map[string]float64) bool { return m[key("cms_cluster_call_legs_drift")] == 3 })
	ok(t, c.ExtraCallLegs(nodes[1], 0))
	h.eventually("drift back to 0", func(m map[string]float64) bool { return m[key("cms_cluster_call_legs_drift")] == 0 })
}
