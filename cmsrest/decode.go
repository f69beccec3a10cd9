package cmsrest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrDecode marks an answer that is not the XML expected: not XML at all,
// another root element, a number or boolean that does not parse, or a body
// larger than MaxBodySize. Results carry it (wrapped, with the detail) with
// Reason FailureDecode.
var ErrDecode = errors.New("cmsrest: unexpected answer")

// MaxBodySize bounds the body read of one answer. The largest resource, the
// alarms list of a node in trouble, is a few kilobytes; a body beyond this
// is not an answer the poller can use, and reading it would let a broken
// peer make the exporter allocate without limit.
const MaxBodySize = 1 << 20

// Decode decodes one answer body of res into the matching field of a
// Result (Status for ResourceStatus, and so on; Alarms is non-nil for
// ResourceAlarms). Elements it does not know are ignored, since later CMS
// releases add some; a known element that is absent, or present but empty,
// stays nil. Anything else that does not fit (see ErrDecode) fails the
// whole answer: half an answer would show numbers the node did not send.
func Decode(res Resource, body []byte) (Result, error) {
	out := Result{Resource: res}
	var err error
	switch res {
	case ResourceStatus:
		out.Status, err = decodeStatus(body)
	case ResourceLoad:
		out.Load, err = decodeLoad(body)
	case ResourceCluster:
		out.Cluster, err = decodeCluster(body)
	case ResourceAlarms:
		out.Alarms, err = decodeAlarms(body)
	case ResourceLicensing:
		out.Licensing, err = decodeLicensing(body)
	case ResourceMultipartyLicensing:
		out.MultipartyLicensing, err = decodeMultiparty(body)
	default:
		return Result{}, fmt.Errorf("%w: unknown resource %q", ErrDecode, res)
	}
	if err != nil {
		return Result{Resource: res}, err
	}
	return out, nil
}

// unmarshal decodes body into v, whose XMLName tag names the root element
// expected: an HTML error page answered with 200 is a decode failure, not
// an empty answer.
func unmarshal(res Resource, body []byte, v any) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDecode, res, err)
	}
	return nil
}

// fields converts the text of known elements into typed values. It keeps
// the first error, so a decoder reads as a list of fields and checks once.
type fields struct {
	res Resource
	err error
}

// text returns the element's trimmed text, and false when it is absent or
// empty: CMS leaves out what it does not have, and an empty element says
// no more than a missing one.
func text(s *string) (string, bool) {
	if s == nil {
		return "", false
	}
	t := strings.TrimSpace(*s)
	return t, t != ""
}

func (f *fields) fail(name, value, want string, err error) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: %s: element %s: %q is not %s: %w", ErrDecode, f.res, name, value, want, err)
	}
}

func (f *fields) int(name string, s *string) *int64 {
	t, ok := text(s)
	if !ok {
		return nil
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		f.fail(name, t, "an integer", err)
		return nil
	}
	return &v
}

func (f *fields) float(name string, s *string) *float64 {
	t, ok := text(s)
	if !ok {
		return nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		f.fail(name, t, "a number", err)
		return nil
	}
	return &v
}

func (f *fields) bool(name string, s *string) *bool {
	t, ok := text(s)
	if !ok {
		return nil
	}
	v, err := strconv.ParseBool(t)
	if err != nil {
		f.fail(name, t, "a boolean", err)
		return nil
	}
	return &v
}

// seconds reads a duration given in (possibly fractional) seconds.
func (f *fields) seconds(name string, s *string) time.Duration {
	v := f.float(name, s)
	if v == nil {
		return 0
	}
	if *v < 0 {
		f.fail(name, *s, "a duration", errors.New("negative"))
		return 0
	}
	return time.Duration(*v * float64(time.Second))
}

type statusXML struct {
	XMLName              xml.Name `xml:"status"`
	SoftwareVersion      *string  `xml:"softwareVersion"`
	UptimeSeconds        *string  `xml:"uptimeSeconds"`
	Activated            *string  `xml:"activated"`
	ClusterEnabled       *string  `xml:"clusterEnabled"`
	CallLegsActive       *string  `xml:"callLegsActive"`
	CallLegsMaxActive    *string  `xml:"callLegsMaxActive"`
	CallLegsCompleted    *string  `xml:"callLegsCompleted"`
	AudioBitRateOutgoing *string  `xml:"audioBitRateOutgoing"`
	VideoBitRateOutgoing *string  `xml:"videoBitRateOutgoing"`
	AudioBitRateIncoming *string  `xml:"audioBitRateIncoming"`
	VideoBitRateIncoming *string  `xml:"videoBitRateIncoming"`
}

func decodeStatus(body []byte) (*Status, error) {
	var x statusXML
	if err := unmarshal(ResourceStatus, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceStatus}
	s := &Status{
		UptimeSeconds:        f.float("uptimeSeconds", x.UptimeSeconds),
		Activated:            f.bool("activated", x.Activated),
		ClusterEnabled:       f.bool("clusterEnabled", x.ClusterEnabled),
		CallLegsActive:       f.int("callLegsActive", x.CallLegsActive),
		CallLegsMaxActive:    f.int("callLegsMaxActive", x.CallLegsMaxActive),
		CallLegsCompleted:    f.int("callLegsCompleted", x.CallLegsCompleted),
		AudioBitRateOutgoing: f.int("audioBitRateOutgoing", x.AudioBitRateOutgoing),
		AudioBitRateIncoming: f.int("audioBitRateIncoming", x.AudioBitRateIncoming),
		VideoBitRateOutgoing: f.int("videoBitRateOutgoing", x.VideoBitRateOutgoing),
		VideoBitRateIncoming: f.int("videoBitRateIncoming", x.VideoBitRateIncoming),
	}
	s.SoftwareVersion, _ = text(x.SoftwareVersion)
	return s, f.err
}

type loadXML struct {
	XMLName             xml.Name `xml:"load"`
	MediaProcessingLoad *string  `xml:"mediaProcessingLoad"`
}

func decodeLoad(body []byte) (*Load, error) {
	var x loadXML
	if err := unmarshal(ResourceLoad, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceLoad}
	l := &Load{MediaProcessingLoad: f.int("mediaProcessingLoad", x.MediaProcessingLoad)}
	return l, f.err
}

type clusterXML struct {
	XMLName          xml.Name `xml:"cluster"`
	LoadLimit        *string  `xml:"loadLimit"`
	ParticipantLimit *string  `xml:"participantLimit"`
}

func decodeCluster(body []byte) (*Cluster, error) {
	var x clusterXML
	if err := unmarshal(ResourceCluster, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceCluster}
	c := &Cluster{
		LoadLimit:        f.int("loadLimit", x.LoadLimit),
		ParticipantLimit: f.int("participantLimit", x.ParticipantLimit),
	}
	return c, f.err
}

type alarmsXML struct {
	XMLName xml.Name `xml:"alarms"`
	Alarms  []struct {
		ID                string  `xml:"id,attr"`
		Type              *string `xml:"type"`
		ActiveTimeSeconds *string `xml:"activeTimeSeconds"`
	} `xml:"alarm"`
}

func decodeAlarms(body []byte) ([]Alarm, error) {
	var x alarmsXML
	if err := unmarshal(ResourceAlarms, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceAlarms}
	out := make([]Alarm, 0, len(x.Alarms))
	for _, a := range x.Alarms {
		typ, _ := text(a.Type)
		out = append(out, Alarm{ID: a.ID, Type: typ, ActiveFor: f.seconds("activeTimeSeconds", a.ActiveTimeSeconds)})
	}
	return out, f.err
}

type licensingXML struct {
	XMLName  xml.Name `xml:"licensing"`
	Features struct {
		// Every child is a feature, named by its element: CMS adds
		// features in later releases.
		Any []struct {
			XMLName xml.Name
			Status  *string `xml:"status"`
			Expiry  *string `xml:"expiry"`
			Limit   *string `xml:"limit"`
		} `xml:",any"`
	} `xml:"features"`
}

func decodeLicensing(body []byte) (*Licensing, error) {
	var x licensingXML
	if err := unmarshal(ResourceLicensing, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceLicensing}
	l := &Licensing{Features: make([]Feature, 0, len(x.Features.Any))}
	for _, e := range x.Features.Any {
		ft := Feature{Name: e.XMLName.Local, Limit: f.int(e.XMLName.Local+"/limit", e.Limit)}
		ft.Status, _ = text(e.Status)
		if s, ok := text(e.Expiry); ok {
			// A date the poller cannot read must not hide the feature's
			// status: the expiry stays unknown (zero), the rest is used.
			ft.Expiry, _ = parseExpiry(s)
		}
		l.Features = append(l.Features, ft)
	}
	return l, f.err
}

// parseExpiry reads a licence expiry as CMS gives it: a date (2006-01-02,
// taken as midnight UTC) or an RFC 3339 timestamp.
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: expiry %q is neither a date nor RFC 3339", ErrDecode, s)
	}
	return t, nil
}

type multipartyXML struct {
	XMLName                             xml.Name `xml:"multipartyLicensing"`
	PersonalLicenseLimit                *string  `xml:"personalLicenseLimit"`
	PersonalLicenses                    *string  `xml:"personalLicenses"`
	SharedLicenseLimit                  *string  `xml:"sharedLicenseLimit"`
	CapacityUnitLimit                   *string  `xml:"capacityUnitLimit"`
	CapacityUnitUsage                   *string  `xml:"capacityUnitUsage"`
	WeightedCallsActive                 *string  `xml:"weightedCallsActive"`
	WeightedCallsWithoutPersonalLicense *string  `xml:"weightedCallsWithoutPersonalLicense"`
}

func decodeMultiparty(body []byte) (*MultipartyLicensing, error) {
	var x multipartyXML
	if err := unmarshal(ResourceMultipartyLicensing, body, &x); err != nil {
		return nil, err
	}
	f := fields{res: ResourceMultipartyLicensing}
	m := &MultipartyLicensing{
		PersonalLicenseLimit:                f.int("personalLicenseLimit", x.PersonalLicenseLimit),
		PersonalLicenses:                    f.int("personalLicenses", x.PersonalLicenses),
		SharedLicenseLimit:                  f.int("sharedLicenseLimit", x.SharedLicenseLimit),
		CapacityUnitLimit:                   f.int("capacityUnitLimit", x.CapacityUnitLimit),
		CapacityUnitUsage:                   f.int("capacityUnitUsage", x.CapacityUnitUsage),
		WeightedCallsActive:                 f.int("weightedCallsActive", x.WeightedCallsActive),
		WeightedCallsWithoutPersonalLicense: f.int("weightedCallsWithoutPersonalLicense", x.WeightedCallsWithoutPersonalLicense),
	}
	return m, f.err
}
