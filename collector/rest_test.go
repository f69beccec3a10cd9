package collector

import (
	"errors"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
)

func i64(v int64) *int64 { return &v }

func ok(h *harness, node string, res cmsrest.Resource, fill func(*cmsrest.Result)) {
	r := cmsrest.Result{Node: node, Resource: res, Time: h.now()}
	fill(&r)
	h.c.HandleREST(r)
}

func failed(h *harness, node string, res cmsrest.Resource, reason string) {
	h.c.HandleREST(cmsrest.Result{Node: node, Resource: res, Time: h.now(), Err: errors.New("boom"), Reason: reason})
}

func status(legs int64) func(*cmsrest.Result) {
	return func(r *cmsrest.Result) {
		r.Status = &cmsrest.Status{SoftwareVersion: "3.9.2", CallLegsActive: i64(legs), CallLegsMaxActive: i64(legs + 3),
			CallLegsCompleted: i64(40), AudioBitRateIncoming: i64(64000)}
	}
}

// A resource renders while its latest request succeeded, disappears when
// one fails (no stale numbers), and the poller's counters say why.
func TestRESTSeriesFollowTheLatestAnswer(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.c.SetRESTEnabled(map[string]bool{"a": true})
	ok(h, "a", cmsrest.ResourceStatus, status(5))
	ok(h, "a", cmsrest.ResourceCluster, func(r *cmsrest.Result) { r.Cluster = &cmsrest.Cluster{LoadLimit: i64(120000)} })
	ok(h, "a", cmsrest.ResourceAlarms, func(r *cmsrest.Result) {
		r.Alarms = []cmsrest.Alarm{{Type: "recordingLowDiskSpace", ActiveFor: 90 * time.Second}, {Type: "recordingLowDiskSpace", ActiveFor: 10 * time.Second}}
	})
	ok(h, "a", cmsrest.ResourceLicensing, func(r *cmsrest.Result) {
		r.Licensing = &cmsrest.Licensing{Features: []cmsrest.Feature{
			{Name: "callBridge", Status: "activated", Expiry: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)},
			{Name: "recording", Status: "weird", Limit: i64(2)},
		}}
	})
	h.expect(`# TYPE cms_rest_up gauge
cms_rest_up{node="a"} 1
# TYPE cms_node_call_legs gauge
cms_node_call_legs{node="a"} 5
# TYPE cms_node_call_legs_completed_total counter
cms_node_call_legs_completed_total{node="a"} 40
# TYPE cms_node_media_bytes_per_second gauge
cms_node_media_bytes_per_second{node="a",media="audio",direction="in"} 8000
# TYPE cms_node_info gauge
cms_node_info{node="a",version="3.9.2"} 1
# TYPE cms_node_load_limit gauge
cms_node_load_limit{node="a"} 120000
# TYPE cms_node_alarm_active_seconds gauge
cms_node_alarm_active_seconds{node="a",type="recordingLowDiskSpace"} 90
# TYPE cms_license_status gauge
cms_license_status{node="a",feature="callBridge",status="noLicense"} 0
cms_license_status{node="a",feature="callBridge",status="activated"} 1
cms_license_status{node="a",feature="callBridge",status="expired"} 0
cms_license_status{node="a",feature="recording",status="noLicense"} 0
cms_license_status{node="a",feature="recording",status="activated"} 0
cms_license_status{node="a",feature="recording",status="expired"} 0
cms_license_status{node="a",feature="recording",status="other"} 1
# TYPE cms_license_expiry_timestamp_seconds gauge
cms_license_expiry_timestamp_seconds{node="a",feature="callBridge"} 1.8013536e+09
# TYPE cms_license_limit gauge
cms_license_limit{node="a",feature="recording"} 2
`, "cms_rest_up", "cms_node_call_legs", "cms_node_call_legs_completed_total", "cms_node_media_bytes_per_second",
		"cms_node_info", "cms_node_load_limit", "cms_node_participant_limit", "cms_node_alarm_active_seconds",
		"cms_license_status", "cms_license_expiry_timestamp_seconds", "cms_license_limit", "cms_node_media_processing_load")

	failed(h, "a", cmsrest.ResourceStatus, cmsrest.FailureTimeout)
	failed(h, "a", cmsrest.ResourceAlarms, "surprise")
	h.expect(`# TYPE cms_rest_up gauge
cms_rest_up{node="a"} 0
# TYPE cms_node_load_limit gauge
cms_node_load_limit{node="a"} 120000
`, "cms_rest_up", "cms_node_call_legs", "cms_node_info", "cms_node_load_limit", "cms_node_alarm_active_seconds")
	if got := h.value("cms_rest_request_failures_total", "node", "a", "resource", "status", "reason", "timeout"); got != 1 {
		t.Errorf("timeouts = %v, want 1", got)
	}
	if got := h.value("cms_rest_request_failures_total", "node", "a", "resource", "alarms", "reason", "other"); got != 1 {
		t.Errorf("unknown reason = %v, want 1 as other", got)
	}
	if got := h.value("cms_rest_requests_total", "node", "a", "resource", "status"); got != 2 {
		t.Errorf("status requests = %v, want 2", got)
	}

	// Back: the series return. Polling switched off: all of it goes.
	ok(h, "a", cmsrest.ResourceStatus, status(6))
	ok(h, "a", cmsrest.ResourceAlarms, func(r *cmsrest.Result) { r.Alarms = []cmsrest.Alarm{} })
	h.expect(`# TYPE cms_rest_up gauge
cms_rest_up{node="a"} 1
# TYPE cms_node_call_legs gauge
cms_node_call_legs{node="a"} 6
`, "cms_rest_up", "cms_node_call_legs", "cms_node_alarm_active_seconds")
	h.c.SetRESTEnabled(map[string]bool{})
	h.expect(``, "cms_rest_up", "cms_rest_requests_total", "cms_node_call_legs", "cms_node_load_limit")
	h.c.HandleREST(cmsrest.Result{Node: "ghost", Resource: cmsrest.ResourceStatus, Status: &cmsrest.Status{CallLegsActive: i64(1)}})
	h.expect(``, "cms_rest_up", "cms_node_call_legs")
}

// The drift compares the legs the nodes report with participants (once
// per meeting) plus distribution links (the instances' distributedInstances),
// and exists only while every node is synced and answered its status.
func TestCallLegsDrift(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.c.SetRESTEnabled(map[string]bool{"a": true, "b": true})
	h.synced("a", add("c1", "m1", participants(5), distributed(1)), add("c2", "m2", participants(2)))
	drift := []string{"cms_cluster_call_legs", "cms_cluster_call_legs_expected", "cms_cluster_call_legs_drift"}
	ok(h, "a", cmsrest.ResourceStatus, status(4))
	h.expect(``, drift...) // b is neither synced nor answered

	h.synced("b", add("c3", "m1", participants(5), distributed(1)))
	h.expect(``, drift...) // b's status not answered yet
	ok(h, "b", cmsrest.ResourceStatus, status(5))
	h.expect(``, drift...) // a answered while b was not synced
	ok(h, "a", cmsrest.ResourceStatus, status(4))
	// m1: 5 participants over two nodes (2 link legs), m2: 2 → 9 expected.
	h.expect(`# TYPE cms_cluster_call_legs gauge
cms_cluster_call_legs 9
# TYPE cms_cluster_call_legs_expected gauge
cms_cluster_call_legs_expected 9
# TYPE cms_cluster_call_legs_drift gauge
cms_cluster_call_legs_drift 0
`, drift...)

	ok(h, "b", cmsrest.ResourceStatus, status(8)) // legs outside any meeting
	if got := h.value("cms_cluster_call_legs_drift"); got != 3 {
		t.Errorf("drift = %v, want 3", got)
	}
	h.disconnect("b", cmsws.DisconnectReadError)
	h.expect(``, drift...)
}

// Meeting sizes are a histogram over meetings, with or without per-call
// series.
func TestMeetingSizeHistogram(t *testing.T) {
	h := newHarness(t, Options{})
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1", participants(2)), add("c2", "m2", participants(7)), add("c3", "m3", participants(1500)))
	h.expect(`# TYPE cms_cluster_meeting_participants histogram
cms_cluster_meeting_participants_bucket{le="2"} 1
cms_cluster_meeting_participants_bucket{le="3"} 1
cms_cluster_meeting_participants_bucket{le="5"} 1
cms_cluster_meeting_participants_bucket{le="10"} 2
cms_cluster_meeting_participants_bucket{le="20"} 2
cms_cluster_meeting_participants_bucket{le="50"} 2
cms_cluster_meeting_participants_bucket{le="100"} 2
cms_cluster_meeting_participants_bucket{le="200"} 2
cms_cluster_meeting_participants_bucket{le="500"} 2
cms_cluster_meeting_participants_bucket{le="1000"} 2
cms_cluster_meeting_participants_bucket{le="+Inf"} 3
cms_cluster_meeting_participants_sum 1509
cms_cluster_meeting_participants_count 3
`, "cms_cluster_meeting_participants")
}

func distributed(n int) opt {
	return func(u *cmsws.CallUpdate) { u.DistributedInstances = cmsws.Set(n) }
}

// A node that answers while the model changes is compared with the model
// of that moment: legs that joined after one node answered and before
// another did are no drift.
func TestCallLegsDriftPairsAnswersWithTheirMoment(t *testing.T) {
	h := newHarness(t, perCall)
	for _, n := range []string{"a", "b"} {
		h.c.AddNode(n)
	}
	h.c.SetRESTEnabled(map[string]bool{"a": true, "b": true})
	h.synced("a", add("c1", "m1", participants(4)))
	h.synced("b", add("c2", "m2", participants(2)))
	ok(h, "a", cmsrest.ResourceStatus, status(4)) // model: 6
	h.calls("b", upd("c2", participants(6)))      // 4 join m2 on b
	ok(h, "b", cmsrest.ResourceStatus, status(6)) // model: 10
	// Reported 10; expected mean(6, 10) = 8: the unequal shares (a hosts
	// none of the joiners) leave 2, where the model of now would say 0 and
	// the model of a's moment -4. A legs-outside-meetings drift of 3 would
	// read 5.
	if got := h.value("cms_cluster_call_legs_drift"); got != 2 {
		t.Errorf("drift = %v, want 2", got)
	}
	ok(h, "a", cmsrest.ResourceStatus, status(4)) // the next round: quiet again
	if got := h.value("cms_cluster_call_legs_drift"); got != 0 {
		t.Errorf("drift after a quiet round = %v, want 0", got)
	}
}
