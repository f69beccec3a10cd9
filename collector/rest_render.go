package collector

import (
	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// knownLicenseStatuses are the statuses of a licensed feature CMS
// documents; anything else renders as "other".
var knownLicenseStatuses = []string{"noLicense", "activated", "expired"}

// renderREST renders what a node's REST poller reported: the poller's own
// counters always, each resource's series only while its latest request
// succeeded.
func renderREST(r *renderer, node string, s *restState) {
	r.gauge(mRESTUp, b2f(s.up()), node)
	for _, res := range cmsrest.Resources {
		name := string(res)
		r.counter(mRESTRequests, s.requests[res], node, name)
		for _, reason := range cmsrest.Failures {
			r.counter(mRESTFailures, s.failures[res][reason], node, name, reason)
		}
		if v := s.failures[res][labelOther]; v > 0 {
			r.counter(mRESTFailures, v, node, name, labelOther)
		}
		if t, ok := s.lastSuccess[res]; ok {
			r.gauge(mRESTLastSuccess, float64(t.UnixNano())/1e9, node, name)
		}
	}
	if res, ok := s.answered(cmsrest.ResourceStatus); ok && res.Status != nil {
		renderStatus(r, node, res.Status)
	}
	if res, ok := s.answered(cmsrest.ResourceLoad); ok && res.Load != nil {
		optional(r, mNodeMediaLoad, res.Load.MediaProcessingLoad, node)
	}
	if res, ok := s.answered(cmsrest.ResourceCluster); ok && res.Cluster != nil {
		optional(r, mNodeLoadLimit, res.Cluster.LoadLimit, node)
		optional(r, mNodeParticipantLimit, res.Cluster.ParticipantLimit, node)
	}
	if res, ok := s.answered(cmsrest.ResourceAlarms); ok {
		renderAlarms(r, node, res.Alarms)
	}
	if res, ok := s.answered(cmsrest.ResourceLicensing); ok && res.Licensing != nil {
		renderLicensing(r, node, res.Licensing)
	}
	if res, ok := s.answered(cmsrest.ResourceMultipartyLicensing); ok && res.MultipartyLicensing != nil {
		m := res.MultipartyLicensing
		optional(r, mLicensePersonalLimit, m.PersonalLicenseLimit, node)
		optional(r, mLicensePersonalAssigned, m.PersonalLicenses, node)
		optional(r, mLicenseSharedLimit, m.SharedLicenseLimit, node)
		optional(r, mLicenseCapacityUnitsLimit, m.CapacityUnitLimit, node)
		optional(r, mLicenseCapacityUnitsUsed, m.CapacityUnitUsage, node)
		optional(r, mLicenseWeightedCalls, m.WeightedCallsActive, node)
		optional(r, mLicenseWeightedCallsWithoutPersonal, m.WeightedCallsWithoutPersonalLicense, node)
	}
}

func renderStatus(r *renderer, node string, st *cmsrest.Status) {
	if st.SoftwareVersion != "" {
		r.gauge(mNodeInfo, 1, node, cleanLabel(st.SoftwareVersion))
	}
	if st.UptimeSeconds != nil {
		r.gauge(mNodeUptime, *st.UptimeSeconds, node)
	}
	if st.Activated != nil {
		r.gauge(mNodeActivated, b2f(*st.Activated), node)
	}
	if st.ClusterEnabled != nil {
		r.gauge(mNodeClusterEnabled, b2f(*st.ClusterEnabled), node)
	}
	optional(r, mNodeCallLegs, st.CallLegsActive, node)
	optional(r, mNodeCallLegsMax, st.CallLegsMaxActive, node)
	if st.CallLegsCompleted != nil {
		r.counter(mNodeCallLegsCompleted, float64(*st.CallLegsCompleted), node)
	}
	// CMS reports bits per second; Prometheus's base unit is bytes.
	for _, m := range []struct {
		bits             *int64
		media, direction string
	}{
		{st.AudioBitRateIncoming, "audio", "in"},
		{st.AudioBitRateOutgoing, "audio", "out"},
		{st.VideoBitRateIncoming, "video", "in"},
		{st.VideoBitRateOutgoing, "video", "out"},
	} {
		if m.bits != nil {
			r.gauge(mNodeMediaBytes, float64(*m.bits)/8, node, m.media, m.direction)
		}
	}
}

func renderAlarms(r *renderer, node string, alarms []cmsrest.Alarm) {
	// Two entries of one type (CMS lists alarms by id) render once, the
	// longest-active: one series per node and type.
	longest := make(map[string]float64, len(alarms))
	for _, a := range alarms {
		t := cleanLabel(a.Type)
		if v, ok := longest[t]; !ok || a.ActiveFor.Seconds() > v {
			longest[t] = a.ActiveFor.Seconds()
		}
	}
	for t, v := range longest {
		r.gauge(mNodeAlarmActive, v, node, t)
	}
}

func renderLicensing(r *renderer, node string, l *cmsrest.Licensing) {
	for _, f := range l.Features {
		feature := cleanLabel(f.Name)
		status := knownOrOther(f.Status, knownLicenseStatuses)
		for _, st := range knownLicenseStatuses {
			r.gauge(mLicenseStatus, b2f(st == status), node, feature, st)
		}
		if status == labelOther {
			r.gauge(mLicenseStatus, 1, node, feature, labelOther)
		}
		if !f.Expiry.IsZero() {
			r.gauge(mLicenseExpiry, float64(f.Expiry.Unix()), node, feature)
		}
		optional(r, mLicenseLimit, f.Limit, node, feature)
	}
}

// optional renders a gauge the node may not report (nil: absent).
func optional(r *renderer, m metric, v *int64, labels ...string) {
	if v != nil {
		r.gauge(m, float64(*v), labels...)
	}
}

// renderDrift checks the event model against the nodes' books: the call
// legs the nodes report against those the model explains.
//
// The nodes answer at different moments (their polls are spread over the
// interval) while meetings go on, so the model's count now would differ
// from the sum of the nodes' counts by whatever changed meanwhile: noise
// that looks like drift on a busy cluster. Instead each status answer is
// paired with what the model explained at that moment, and the expectation
// is the mean of those: exact while nothing changes, and off only by the
// changes times the nodes' unequal shares while it does. A real drift
// (legs the events never show, or a model that missed a remove) stays
// whole in the difference.
//
// Both need every node current (events synced now and when it answered,
// status answered): a number built from a stale half would alert on
// nothing but the staleness.
//
// snapDrift computes both under the lock (O(nodes)); renderDrift shows
// them.
func (c *Collector) snapDrift() driftSnap {
	if len(c.nodes) == 0 {
		return driftSnap{}
	}
	var reported int64
	var expected float64
	for _, n := range c.nodes {
		if n.rest == nil || !n.synced || !n.primary().connected || !n.rest.comparable {
			return driftSnap{}
		}
		legs, ok := n.rest.callLegs()
		if !ok {
			return driftSnap{}
		}
		reported += legs
		expected += float64(n.rest.expectedAtStatus)
	}
	expected /= float64(len(c.nodes))
	return driftSnap{ok: true, reported: reported, expected: expected}
}

// driftSnap is the call legs the nodes report and those the model
// expects; ok false: not every node is current, so neither shows.
type driftSnap struct {
	ok       bool
	reported int64
	expected float64
}

func renderDrift(r *renderer, d driftSnap) {
	if !d.ok {
		return
	}
	r.gauge(mClusterCallLegs, float64(d.reported))
	r.gauge(mClusterCallLegsExpected, d.expected)
	r.gauge(mClusterCallLegsDrift, float64(d.reported)-d.expected)
}
