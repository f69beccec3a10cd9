package cmsrest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// The bodies are shaped like CMS answers, with elements this poller does
// not know (later releases add some) around and inside the known ones.
func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		res  Resource
		body string
		want Result
	}{{
		name: "status, full",
		res:  ResourceStatus,
		body: `<?xml version="1.0"?>
<status>
  <softwareVersion>3.9.2</softwareVersion>
  <uptimeSeconds>86400</uptimeSeconds>
  <cdrTime>2026-11-30T12:00:00Z</cdrTime>
  <activated>true</activated>
  <clusterEnabled>false</clusterEnabled>
  <callLegsActive>12</callLegsActive>
  <callLegsMaxActive>40</callLegsMaxActive>
  <callLegsCompleted>1234</callLegsCompleted>
  <audioBitRateOutgoing>768000</audioBitRateOutgoing>
  <videoBitRateOutgoing>18000000</videoBitRateOutgoing>
  <audioBitRateIncoming>768000</audioBitRateIncoming>
  <videoBitRateIncoming>17000000</videoBitRateIncoming>
  <futureThing><nested>1</nested></futureThing>
</status>`,
		want: Result{Status: &Status{
			SoftwareVersion: "3.9.2", UptimeSeconds: ptr(86400.0), Activated: ptr(true), ClusterEnabled: ptr(false),
			CallLegsActive: ptr[int64](12), CallLegsMaxActive: ptr[int64](40), CallLegsCompleted: ptr[int64](1234),
			AudioBitRateOutgoing: ptr[int64](768000), VideoBitRateOutgoing: ptr[int64](18000000),
			AudioBitRateIncoming: ptr[int64](768000), VideoBitRateIncoming: ptr[int64](17000000),
		}},
	}, {
		name: "status, absent and zero differ",
		res:  ResourceStatus,
		body: `<status><callLegsActive>0</callLegsActive><callLegsMaxActive></callLegsMaxActive></status>`,
		want: Result{Status: &Status{CallLegsActive: ptr[int64](0)}},
	}, {
		name: "load",
		res:  ResourceLoad,
		body: `<load><mediaProcessingLoad>12000</mediaProcessingLoad><other>x</other></load>`,
		want: Result{Load: &Load{MediaProcessingLoad: ptr[int64](12000)}},
	}, {
		name: "cluster with limits",
		res:  ResourceCluster,
		body: `<cluster><uniqueName>cms1</uniqueName><participantLimit>200</participantLimit><loadLimit>250000</loadLimit><newLimit>3</newLimit></cluster>`,
		want: Result{Cluster: &Cluster{LoadLimit: ptr[int64](250000), ParticipantLimit: ptr[int64](200)}},
	}, {
		name: "cluster without limits",
		res:  ResourceCluster,
		body: `<cluster><uniqueName>cms1</uniqueName><peerLinkBitRate>2000000</peerLinkBitRate></cluster>`,
		want: Result{Cluster: &Cluster{}},
	}, {
		name: "alarms",
		res:  ResourceAlarms,
		body: `<alarms total="2">
  <alarm id="a1"><type>callDetailRecordConnectionFailure</type><activeTimeSeconds>90</activeTimeSeconds><failureReason>x</failureReason></alarm>
  <alarm id="a2"><type>mediaProcessingOverloaded</type><activeTimeSeconds>1.5</activeTimeSeconds></alarm>
</alarms>`,
		want: Result{Alarms: []Alarm{
			{ID: "a1", Type: "callDetailRecordConnectionFailure", ActiveFor: 90 * time.Second},
			{ID: "a2", Type: "mediaProcessingOverloaded", ActiveFor: 1500 * time.Millisecond},
		}},
	}, {
		name: "no alarms is an empty list, not nil",
		res:  ResourceAlarms,
		body: `<alarms total="0"></alarms>`,
		want: Result{Alarms: []Alarm{}},
	}, {
		name: "licensing",
		res:  ResourceLicensing,
		body: `<licensing>
  <features>
    <callBridge><status>activated</status><expiry>2026-12-31</expiry></callBridge>
    <webBridge><status>noLicense</status></webBridge>
    <recording><status>activated</status><limit>10</limit><expiry>2027-01-15T00:00:00+01:00</expiry></recording>
    <turn><status>expired</status><expiry>someday</expiry><extra>1</extra></turn>
    <newFeature><status>grace</status></newFeature>
  </features>
  <somethingElse/>
</licensing>`,
		want: Result{Licensing: &Licensing{Features: []Feature{
			{Name: "callBridge", Status: "activated", Expiry: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)},
			{Name: "webBridge", Status: "noLicense"},
			{Name: "recording", Status: "activated", Limit: ptr[int64](10), Expiry: time.Date(2027, 1, 14, 23, 0, 0, 0, time.UTC)},
			{Name: "turn", Status: "expired"},
			{Name: "newFeature", Status: "grace"},
		}}},
	}, {
		name: "multiparty licensing",
		res:  ResourceMultipartyLicensing,
		body: `<multipartyLicensing>
  <timestamp>2026-11-30T12:00:00Z</timestamp>
  <personalLicenseLimit>100</personalLicenseLimit>
  <personalLicenses>20</personalLicenses>
  <sharedLicenseLimit>50</sharedLicenseLimit>
  <capacityUnitLimit>0</capacityUnitLimit>
  <weightedCallsActive>7</weightedCallsActive>
  <weightedCallsWithoutPersonalLicense>3</weightedCallsWithoutPersonalLicense>
</multipartyLicensing>`,
		want: Result{MultipartyLicensing: &MultipartyLicensing{
			PersonalLicenseLimit: ptr[int64](100), PersonalLicenses: ptr[int64](20), SharedLicenseLimit: ptr[int64](50),
			CapacityUnitLimit: ptr[int64](0), WeightedCallsActive: ptr[int64](7), WeightedCallsWithoutPersonalLicense: ptr[int64](3),
		}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.res, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Resource = tc.res
			if !equalResults(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tc.want))
			}
		})
	}
}

// equalResults compares results field by field, expiries with Equal (a
// timestamp keeps the offset it was written with).
func equalResults(a, b Result) bool {
	if a.Licensing != nil && b.Licensing != nil {
		if len(a.Licensing.Features) != len(b.Licensing.Features) {
			return false
		}
		for i, fa := range a.Licensing.Features {
			fb := b.Licensing.Features[i]
			if !fa.Expiry.Equal(fb.Expiry) {
				return false
			}
			fa.Expiry, fb.Expiry = time.Time{}, time.Time{}
			if !reflect.DeepEqual(fa, fb) {
				return false
			}
		}
		a.Licensing, b.Licensing = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func TestDecodeFailures(t *testing.T) {
	cases := []struct {
		name, body, detail string
		res                Resource
	}{
		{"not XML", `{"callLegsActive": 3}`, "EOF", ResourceStatus},
		{"truncated", `<status><callLegsActive>3</callLe`, "unexpected EOF", ResourceStatus},
		{"HTML error page", `<html><body>Service unavailable</body></html>`, "expected element type <status>", ResourceStatus},
		{"other root", `<load><mediaProcessingLoad>1</mediaProcessingLoad></load>`, "expected element type <status>", ResourceStatus},
		{"empty", ``, "EOF", ResourceLoad},
		{"number that does not parse", `<status><callLegsActive>3</callLegsActive><callLegsCompleted>lots</callLegsCompleted></status>`,
			`element callLegsCompleted: "lots" is not an integer`, ResourceStatus},
		{"boolean that does not parse", `<status><activated>maybe</activated></status>`, `element activated: "maybe" is not a boolean`, ResourceStatus},
		{"float where an integer goes", `<load><mediaProcessingLoad>1.5</mediaProcessingLoad></load>`, "is not an integer", ResourceLoad},
		{"limit that does not parse", `<licensing><features><recording><status>activated</status><limit>ten</limit></recording></features></licensing>`,
			`element recording/limit: "ten" is not an integer`, ResourceLicensing},
		{"negative alarm age", `<alarms><alarm><type>x</type><activeTimeSeconds>-3</activeTimeSeconds></alarm></alarms>`,
			"activeTimeSeconds", ResourceAlarms},
		{"unknown resource", `<x/>`, "unknown resource", Resource("nope")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.res, []byte(tc.body))
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("err %v, want ErrDecode", err)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("err %q does not say %q", err, tc.detail)
			}
			if got.Status != nil || got.Load != nil || got.Licensing != nil || got.Alarms != nil {
				t.Errorf("half an answer returned: %+v", got)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	for s, want := range map[string]time.Time{
		"2026-12-31":                time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		" 2026-12-31\n":             time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		"2026-12-31T10:00:00Z":      time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC),
		"2026-12-31T10:00:00-05:00": time.Date(2026, 12, 31, 15, 0, 0, 0, time.UTC),
	} {
		got, err := parseExpiry(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "31/12/2026", "2026-13-01", "never"} {
		if got, err := parseExpiry(s); err == nil {
			t.Errorf("parseExpiry(%q) = %v, want an error", s, got)
		}
	}
}

func BenchmarkDecodeStatus(b *testing.B) {
	body := []byte(`<?xml version="1.0"?><status><softwareVersion>3.9.2</softwareVersion><uptimeSeconds>86400</uptimeSeconds>` +
		`<activated>true</activated><clusterEnabled>true</clusterEnabled><callLegsActive>12</callLegsActive>` +
		`<callLegsMaxActive>40</callLegsMaxActive><callLegsCompleted>1234</callLegsCompleted>` +
		`<audioBitRateOutgoing>768000</audioBitRateOutgoing><videoBitRateOutgoing>18000000</videoBitRateOutgoing>` +
		`<audioBitRateIncoming>768000</audioBitRateIncoming><videoBitRateIncoming>17000000</videoBitRateIncoming></status>`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(ResourceStatus, body); err != nil {
			b.Fatal(err)
		}
	}
}

// dump prints a result with its pointers followed.
func dump(r Result) string {
	var b strings.Builder
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", v.Type().Field(i).Name, deref(f))
	}
	return b.String()
}

func deref(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return "&" + deref(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t.String()
		}
		var parts []string
		for i := range v.NumField() {
			parts = append(parts, v.Type().Field(i).Name+"="+deref(v.Field(i)))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case reflect.Slice:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, deref(v.Index(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
