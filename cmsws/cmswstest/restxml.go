package cmswstest

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// renderREST writes the XML a Call Bridge answers for res, from t: the
// elements CMS sends, in its order, with absent values left out, and one
// element a client does not know (later releases add some).
func renderREST(res cmsrest.Resource, t NodeRESTTruth) []byte {
	var w xmlWriter
	w.b.WriteString(`<?xml version="1.0"?>` + "\n")
	switch res {
	case cmsrest.ResourceStatus:
		s := t.Status
		w.open("status")
		w.text("softwareVersion", s.SoftwareVersion)
		if s.UptimeSeconds != nil {
			w.text("uptimeSeconds", strconv.FormatFloat(*s.UptimeSeconds, 'f', -1, 64))
		}
		w.text("cdrTime", "2026-01-01T00:00:00Z")
		w.bool("activated", s.Activated)
		w.bool("clusterEnabled", s.ClusterEnabled)
		w.int("callLegsActive", s.CallLegsActive)
		w.int("callLegsMaxActive", s.CallLegsMaxActive)
		w.int("callLegsCompleted", s.CallLegsCompleted)
		w.int("audioBitRateOutgoing", s.AudioBitRateOutgoing)
		w.int("videoBitRateOutgoing", s.VideoBitRateOutgoing)
		w.int("audioBitRateIncoming", s.AudioBitRateIncoming)
		w.int("videoBitRateIncoming", s.VideoBitRateIncoming)
		w.close("status")
	case cmsrest.ResourceLoad:
		w.open("load")
		w.int("mediaProcessingLoad", t.Load.MediaProcessingLoad)
		w.close("load")
	case cmsrest.ResourceCluster:
		w.open("cluster")
		w.text("uniqueName", "fake")
		w.int("loadLimit", t.Cluster.LoadLimit)
		w.int("participantLimit", t.Cluster.ParticipantLimit)
		w.close("cluster")
	case cmsrest.ResourceAlarms:
		w.b.WriteString(`<alarms total="` + strconv.Itoa(len(t.Alarms)) + `">`)
		for _, a := range t.Alarms {
			w.b.WriteString(`<alarm id="`)
			_ = xml.EscapeText(&w.b, []byte(a.ID))
			w.b.WriteString(`">`)
			w.text("type", a.Type)
			w.text("activeTimeSeconds", strconv.FormatInt(int64(a.ActiveFor/time.Second), 10))
			w.close("alarm")
		}
		w.close("alarms")
	case cmsrest.ResourceLicensing:
		w.open("licensing")
		w.open("features")
		for _, f := range t.Licensing.Features {
			w.open(f.Name)
			w.text("status", f.Status)
			if !f.Expiry.IsZero() {
				w.text("expiry", formatExpiry(f.Expiry))
			}
			w.int("limit", f.Limit)
			w.close(f.Name)
		}
		w.close("features")
		w.close("licensing")
	case cmsrest.ResourceMultipartyLicensing:
		m := t.MultipartyLicensing
		w.open("multipartyLicensing")
		w.text("timestamp", "2026-01-01T00:00:00Z")
		w.int("personalLicenseLimit", m.PersonalLicenseLimit)
		w.int("personalLicenses", m.PersonalLicenses)
		w.int("sharedLicenseLimit", m.SharedLicenseLimit)
		w.int("capacityUnitLimit", m.CapacityUnitLimit)
		w.int("capacityUnitUsage", m.CapacityUnitUsage)
		w.int("weightedCallsActive", m.WeightedCallsActive)
		w.int("weightedCallsWithoutPersonalLicense", m.WeightedCallsWithoutPersonalLicense)
		w.close("multipartyLicensing")
	}
	return w.b.Bytes()
}

// formatExpiry writes a date where the expiry is one (midnight UTC), as
// CMS does, and RFC 3339 otherwise.
func formatExpiry(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// xmlWriter writes the small, flat documents of the REST API.
type xmlWriter struct{ b bytes.Buffer }

func (w *xmlWriter) open(name string)  { w.b.WriteString("<" + name + ">") }
func (w *xmlWriter) close(name string) { w.b.WriteString("</" + name + ">") }

func (w *xmlWriter) text(name, v string) {
	w.open(name)
	_ = xml.EscapeText(&w.b, []byte(v))
	w.close(name)
}

func (w *xmlWriter) int(name string, v *int64) {
	if v != nil {
		w.text(name, strconv.FormatInt(*v, 10))
	}
}

func (w *xmlWriter) bool(name string, v *bool) {
	if v != nil {
		w.text(name, strconv.FormatBool(*v))
	}
}
