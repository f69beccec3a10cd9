package cmswstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// clock is a settable Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// restGet sends GET on a resource of node with the given credentials
// ("" for none) and returns the status and body.
func restGet(t *testing.T, c *Cluster, node string, res cmsrest.Resource, user, pass string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.URL(node)+res.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := httpClient(t, c).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", res.Path(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// decoded is what a resource's answer decodes to, as the matching field
// of NodeRESTTruth (so the two compare with DeepEqual).
func decoded(t *testing.T, c *Cluster, node string, res cmsrest.Resource) any {
	t.Helper()
	status, body := restGet(t, c, node, res, "admin", "secret")
	if status != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", node, res, status, body)
	}
	r, err := cmsrest.Decode(res, body)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", node, res, err, body)
	}
	return resultField(r)
}

// resultField is the resource field of a Result, dereferenced.
func resultField(r cmsrest.Result) any {
	switch r.Resource {
	case cmsrest.ResourceStatus:
		return *r.Status
	case cmsrest.ResourceLoad:
		return *r.Load
	case cmsrest.ResourceCluster:
		return *r.Cluster
	case cmsrest.ResourceAlarms:
		return r.Alarms
	case cmsrest.ResourceLicensing:
		return *r.Licensing
	case cmsrest.ResourceMultipartyLicensing:
		return *r.MultipartyLicensing
	}
	return nil
}

// truthField is the field of NodeRESTTruth for res.
func truthField(nt NodeRESTTruth, res cmsrest.Resource) any {
	switch res {
	case cmsrest.ResourceStatus:
		return nt.Status
	case cmsrest.ResourceLoad:
		return nt.Load
	case cmsrest.ResourceCluster:
		return nt.Cluster
	case cmsrest.ResourceAlarms:
		return nt.Alarms
	case cmsrest.ResourceLicensing:
		return nt.Licensing
	case cmsrest.ResourceMultipartyLicensing:
		return nt.MultipartyLicensing
	}
	return nil
}

// checkRESTAnswers compares every resource of every node, decoded with
// cmsrest's decoder, with RESTTruth. The clock must stand still.
func checkRESTAnswers(t *testing.T, c *Cluster) {
	t.Helper()
	truth := c.RESTTruth()
	for _, n := range c.Nodes() {
		for _, res := range cmsrest.Resources {
			got, want := decoded(t, c, n, res), truthField(truth[n], res)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:\n got  %s\n want %s", n, res, show(got), show(want))
			}
		}
	}
}

// show prints a value with its pointers followed.
func show(v any) string {
	var walk func(reflect.Value) string
	walk = func(v reflect.Value) string {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return "nil"
			}
			return walk(v.Elem())
		case reflect.Struct:
			if tm, ok := v.Interface().(time.Time); ok {
				return tm.String()
			}
			s := "{"
			for i := range v.NumField() {
				s += fmt.Sprintf(" %s=%s", v.Type().Field(i).Name, walk(v.Field(i)))
			}
			return s + " }"
		case reflect.Slice:
			s := "["
			for i := range v.Len() {
				s += " " + walk(v.Index(i))
			}
			return s + " ]"
		}
		return fmt.Sprint(v.Interface())
	}
	return walk(reflect.ValueOf(v))
}

func TestRESTAnswersDecodeToTruth(t *testing.T) {
	clk := newClock()
	c := newTestCluster(t, Options{Nodes: 3, Now: clk.Now, SoftwareVersion: "3.10.1"})
	corr := must[string](t)(c.StartMeeting("cms1", MeetingOptions{Name: "S"}))
	must[string](t)(c.AddParticipant(corr, "cms1", ParticipantOptions{Name: "A"}))
	must[string](t)(c.AddParticipant(corr, "cms2", ParticipantOptions{Name: "B", State: "ringing"}))
	mustOK(t, c.RaiseAlarm("cms1", "callDetailRecordConnectionFailure"))
	clk.advance(90 * time.Second)
	mustOK(t, c.RaiseAlarm("cms1", "mediaProcessingOverloaded"))
	mustOK(t, c.SetLimits("cms1", ptr[int64](250000), ptr[int64](200)))
	mustOK(t, c.SetLimits("cms2", nil, ptr[int64](0)))
	mustOK(t, c.SetLicense("cms1", "recording", "activated", time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), ptr[int64](10)))
	mustOK(t, c.SetLicense("cms1", "callBridge", "expired", time.Date(2026, 6, 1, 13, 30, 15, 0, time.FixedZone("x", 3600)), nil))
	mustOK(t, c.SetLicense("cms2", "personal", "noLicense", time.Time{}, ptr[int64](0)))
	mustOK(t, c.SetMultipartyLicensing("cms3", cmsrest.MultipartyLicensing{PersonalLicenseLimit: ptr[int64](0), SharedLicenseLimit: ptr[int64](25)}))
	mustOK(t, c.ExtraCallLegs("cms3", 2))
	clk.advance(30 * time.Second)

	checkRESTAnswers(t, c)

	// Spot checks that the truth itself says what the scenario set.
	tr := c.RESTTruth()
	s1 := tr["cms1"].Status
	if s1.SoftwareVersion != "3.10.1" || *s1.UptimeSeconds != 120 || !*s1.Activated || !*s1.ClusterEnabled {
		t.Errorf("cms1 status %s", show(s1))
	}
	if a := tr["cms1"].Alarms; len(a) != 2 || a[0].ActiveFor != 120*time.Second || a[1].ActiveFor != 30*time.Second || a[0].ID == a[1].ID {
		t.Errorf("cms1 alarms %s", show(a))
	}
	if l := tr["cms2"].Cluster; l.LoadLimit != nil || *l.ParticipantLimit != 0 {
		t.Errorf("cms2 limits %s", show(l))
	}
	if l := tr["cms3"].Cluster; l.LoadLimit != nil || l.ParticipantLimit != nil {
		t.Errorf("cms3 limits %s, want none", show(l))
	}
	if f := tr["cms1"].Licensing.Features; len(f) != 2 || f[0].Name != "callBridge" || f[0].Status != "expired" ||
		!f[0].Expiry.Equal(time.Date(2026, 6, 1, 12, 30, 15, 0, time.UTC)) || f[1].Name != "recording" {
		t.Errorf("cms1 licensing %s", show(f))
	}
	if m := tr["cms3"].MultipartyLicensing; m.PersonalLicenses != nil || *m.SharedLicenseLimit != 25 {
		t.Errorf("cms3 multiparty %s", show(m))
	}
	// Defaults: usage follows the participants hosted (cms2 hosts B).
	if m := tr["cms2"].MultipartyLicensing; *m.WeightedCallsActive != 1 || *m.PersonalLicenseLimit == 0 {
		t.Errorf("cms2 multiparty %s", show(m))
	}
	if s := tr["cms2"].Status; *s.CallLegsActive != 2 || *s.AudioBitRateIncoming != 2*audioBitRatePerLeg ||
		*s.VideoBitRateOutgoing != 2*videoBitRatePerLeg || *tr["cms2"].Load.MediaProcessingLoad != 2*loadPerLeg {
		t.Errorf("cms2 status %s, load %s", show(s), show(tr["cms2"].Load))
	}

	// Clearing and removing is seen too.
	mustOK(t, c.ClearAlarm("cms1", "callDetailRecordConnectionFailure"))
	mustOK(t, c.RemoveLicense("cms1", "recording"))
	checkRESTAnswers(t, c)
	if tr := c.RESTTruth(); len(tr["cms1"].Alarms) != 1 || len(tr["cms1"].Licensing.Features) != 1 {
		t.Errorf("after clear and remove: %s", show(tr["cms1"]))
	}
}

// expectedLegs is what the events explain per node: its participants (all
// states) and one distribution leg per other node hosting each of its
// meetings.
func expectedLegs(tr Truth) map[string]int64 {
	out := map[string]int64{}
	for node, nt := range tr.Nodes {
		out[node] += 0
		for _, call := range nt.Calls {
			out[node] += int64(call.DistributedInstances)
		}
	}
	for _, m := range tr.Meetings {
		for _, p := range m.Participants {
			out[p.Node]++
		}
	}
	return out
}

// checkLegs compares every node's callLegsActive with what the events
// explain, and the cluster's sum with participants + distribution legs.
func checkLegs(t *testing.T, c *Cluster, step string) {
	t.Helper()
	tr, rt := c.Truth(), c.RESTTruth()
	want := expectedLegs(tr)
	var sum, explained int64
	for node, nt := range rt {
		got := *nt.Status.CallLegsActive
		sum += got
		if got != want[node] {
			t.Fatalf("%s: %s has %d legs, the events explain %d", step, node, got, want[node])
		}
		if *nt.Status.CallLegsMaxActive < got {
			t.Fatalf("%s: %s max %d below active %d", step, node, *nt.Status.CallLegsMaxActive, got)
		}
	}
	for _, m := range tr.Meetings {
		explained += int64(len(m.Participants) + len(m.Calls)*(len(m.Calls)-1))
	}
	if sum != explained {
		t.Fatalf("%s: %d legs on the nodes, %d explained by the meetings", step, sum, explained)
	}
}

type legCounts struct{ active, max, completed int64 }

func legsOf(c *Cluster, node string) legCounts {
	s := c.RESTTruth()[node].Status
	return legCounts{*s.CallLegsActive, *s.CallLegsMaxActive, *s.CallLegsCompleted}
}

func TestRESTCallLegs(t *testing.T) {
	clk := newClock()
	c := newTestCluster(t, Options{Nodes: 3, Now: clk.Now})
	expect := func(step string, want map[string]legCounts) {
		t.Helper()
		checkLegs(t, c, step)
		for node, w := range want {
			if got := legsOf(c, node); got != w {
				t.Fatalf("%s: %s legs %+v, want %+v", step, node, got, w)
			}
		}
	}
	corr := must[string](t)(c.StartMeeting("cms1", MeetingOptions{Name: "S"}))
	expect("started, nobody in", map[string]legCounts{"cms1": {0, 0, 0}})
	a := must[string](t)(c.AddParticipant(corr, "cms1", ParticipantOptions{Name: "A"}))
	b := must[string](t)(c.AddParticipant(corr, "cms1", ParticipantOptions{Name: "B", State: "initial"}))
	expect("two on cms1", map[string]legCounts{"cms1": {2, 2, 0}})
	must[string](t)(c.AddParticipant(corr, "cms2", ParticipantOptions{Name: "C"}))
	expect("distributed to cms2", map[string]legCounts{"cms1": {3, 3, 0}, "cms2": {2, 2, 0}})
	mustOK(t, c.DistributeMeeting(corr, "cms3"))
	expect("instance on cms3 without participants", map[string]legCounts{"cms1": {4, 4, 0}, "cms2": {3, 3, 0}, "cms3": {2, 2, 0}})
	mustOK(t, c.EndInstance(corr, "cms3"))
	expect("cms3's instance ended", map[string]legCounts{"cms1": {3, 4, 1}, "cms2": {2, 3, 1}, "cms3": {0, 2, 2}})
	mustOK(t, c.RemoveParticipant(b, "timeout"))
	expect("B left", map[string]legCounts{"cms1": {2, 4, 2}})

	// A second meeting on cms2 and a move into it.
	other := must[string](t)(c.StartMeeting("cms2", MeetingOptions{Name: "T"}))
	must[string](t)(c.AddParticipant(other, "cms2", ParticipantOptions{Name: "D"}))
	expect("second meeting", map[string]legCounts{"cms2": {3, 3, 1}})
	must[string](t)(c.MoveParticipant(a, other, "cms2"))
	// A leaves cms1 (its leg and, with the instance, the link to cms2
	// end); on cms2 its new leg starts and the link to cms1 ends.
	expect("A moved", map[string]legCounts{"cms1": {0, 4, 4}, "cms2": {3, 4, 2}})

	// A restart ends the node's calls and starts its counters again.
	must[string](t)(c.AddParticipant(corr, "cms1", ParticipantOptions{Name: "E"}))
	expect("E joins on cms1", map[string]legCounts{"cms1": {2, 4, 4}, "cms2": {4, 4, 2}})
	clk.advance(time.Hour)
	mustOK(t, c.RestartNode("cms2"))
	expect("cms2 restarted", map[string]legCounts{"cms1": {1, 4, 5}, "cms2": {0, 0, 0}})
	if up := *c.RESTTruth()["cms2"].Status.UptimeSeconds; up != 0 {
		t.Errorf("uptime after restart %v", up)
	}
	if up := *c.RESTTruth()["cms1"].Status.UptimeSeconds; up != 3600 {
		t.Errorf("uptime of cms1 %v", up)
	}

	// Legs the events never show.
	mustOK(t, c.ExtraCallLegs("cms1", 5))
	expectOnly := func(step, node string, want legCounts) {
		t.Helper()
		if got := legsOf(c, node); got != want {
			t.Fatalf("%s: %s legs %+v, want %+v", step, node, got, want)
		}
	}
	expectOnly("5 extra legs", "cms1", legCounts{6, 6, 5})
	mustOK(t, c.ExtraCallLegs("cms1", 2))
	expectOnly("2 extra legs", "cms1", legCounts{3, 6, 8})
	mustOK(t, c.RestartNode("cms1"))
	expectOnly("cms1 restarted", "cms1", legCounts{0, 0, 0})
	checkLegs(t, c, "all restarted")
	if tr := c.Truth(); len(tr.Meetings) != 0 {
		t.Errorf("meetings left after both restarts: %v", tr.Meetings)
	}

	// A meeting over three nodes ends at once: on each node its
	// participant's leg and both links complete.
	last := must[string](t)(c.StartMeeting("cms1", MeetingOptions{Name: "U"}))
	for _, n := range c.Nodes() {
		must[string](t)(c.AddParticipant(last, n, ParticipantOptions{Name: "P " + n}))
	}
	expect("over three nodes", map[string]legCounts{"cms1": {3, 3, 0}, "cms2": {3, 3, 0}, "cms3": {3, 3, 2}})
	mustOK(t, c.EndMeeting(last))
	expect("ended", map[string]legCounts{"cms1": {0, 3, 3}, "cms2": {0, 3, 3}, "cms3": {0, 3, 5}})
}

// Through random traffic and restarts, every node's legs stay what the
// events explain, the highest never falls below them and the completed
// count only grows, until a restart starts both again.
func TestRESTCallLegsUnderTraffic(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 3, Seed: 3, Logf: func(string, ...any) {}})
	tg := NewTraffic(c, TrafficOptions{Seed: 11})
	prev := map[string]legCounts{}
	for i := 1; i <= 1500; i++ {
		restarted := ""
		if i%500 == 250 { // cms1, cms2, cms3 in turn
			restarted = c.Nodes()[i/500]
			mustOK(t, c.RestartNode(restarted))
		}
		if err := tg.Step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		checkLegs(t, c, fmt.Sprintf("step %d", i))
		for _, n := range c.Nodes() {
			got := legsOf(c, n)
			if n != restarted && (got.completed < prev[n].completed || got.max < prev[n].max) {
				t.Fatalf("step %d: %s went from %+v to %+v without a restart", i, n, prev[n], got)
			}
			prev[n] = got
		}
	}
	for n, l := range prev {
		if l.max == 0 || l.completed == 0 {
			t.Errorf("%s: %+v: traffic did not exercise the counters", n, l)
		}
	}
}

func TestRESTAuth(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 1})
	for _, cred := range [][2]string{{"", ""}, {"admin", "wrong"}, {"root", "secret"}} {
		if status, _ := restGet(t, c, "cms1", cmsrest.ResourceStatus, cred[0], cred[1]); status != http.StatusUnauthorized {
			t.Errorf("credentials %q: HTTP %d, want 401", cred, status)
		}
	}
	if status, _ := restGet(t, c, "cms1", cmsrest.ResourceStatus, "admin", "secret"); status != http.StatusOK {
		t.Errorf("good credentials: HTTP %d", status)
	}
	if status, _ := restGet(t, c, "cms1", cmsrest.ResourceLoad, "admin", "secret"); status != http.StatusOK {
		t.Errorf("good credentials: HTTP %d", status)
	}
	st := c.Stats().Nodes["cms1"]
	if st.RESTAuthFailures != 3 || st.RESTRequests[cmsrest.ResourceStatus] != 4 || st.RESTRequests[cmsrest.ResourceLoad] != 1 ||
		st.AuthFailures != 0 || st.RESTMaxConcurrent != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRESTFaults(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 2})
	get := func() (int, []byte) { return restGet(t, c, "cms1", cmsrest.ResourceStatus, "admin", "secret") }

	mustOK(t, c.SetRESTFault("cms1", RESTFault{Status: http.StatusInternalServerError}))
	if status, _ := get(); status != http.StatusInternalServerError {
		t.Errorf("Status fault: HTTP %d", status)
	}
	// Bad credentials are refused before the fault answers.
	if status, _ := restGet(t, c, "cms1", cmsrest.ResourceStatus, "admin", "x"); status != http.StatusUnauthorized {
		t.Errorf("bad credentials under a Status fault: HTTP %d", status)
	}
	if got := c.RESTTruth()["cms1"].Fault; got.Status != http.StatusInternalServerError {
		t.Errorf("truth fault %+v", got)
	}
	// The other node and the events side are not affected.
	if status, _ := restGet(t, c, "cms2", cmsrest.ResourceStatus, "admin", "secret"); status != http.StatusOK {
		t.Errorf("cms2: HTTP %d", status)
	}
	if tok := token(t, c, "cms1"); tok == "" {
		t.Error("no token under a REST fault")
	}

	mustOK(t, c.SetRESTFault("cms1", RESTFault{Malformed: true}))
	status, body := get()
	if _, err := cmsrest.Decode(cmsrest.ResourceStatus, body); status != http.StatusOK || !errors.Is(err, cmsrest.ErrDecode) {
		t.Errorf("Malformed: HTTP %d, decode error %v\n%s", status, err, body)
	}

	// A delayed answer comes late; a request given up during the delay
	// ends the handler at once.
	mustOK(t, c.SetRESTFault("cms1", RESTFault{Delay: 200 * time.Millisecond}))
	start := time.Now()
	if status, _ := get(); status != http.StatusOK || time.Since(start) < 200*time.Millisecond {
		t.Errorf("Delay: HTTP %d after %v", status, time.Since(start))
	}
	mustOK(t, c.SetRESTFault("cms1", RESTFault{Delay: time.Hour}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL("cms1")+cmsrest.ResourceLoad.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := httpClient(t, c).Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("an answer despite an hour's delay")
	}
	eventually(t, "the delayed handler to end", func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if n := c.byName["cms1"].rest.inFlight; n != 0 {
			return fmt.Errorf("%d in flight: %w", n, errNotYet)
		}
		return nil
	})

	mustOK(t, c.SetRESTFault("cms1", RESTFault{}))
	if status, _ := get(); status != http.StatusOK {
		t.Errorf("healed: HTTP %d", status)
	}

	// A node cut off answers nothing but 503, like for the events.
	mustOK(t, c.SetUnreachable("cms1", true))
	if status, _ := get(); status != http.StatusServiceUnavailable {
		t.Errorf("unreachable: HTTP %d", status)
	}
}

// Concurrent requests are counted, so a test can prove its client keeps
// one in flight.
func TestRESTMaxConcurrent(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 1})
	mustOK(t, c.SetRESTFault("cms1", RESTFault{Delay: 100 * time.Millisecond}))
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			tr := &http.Transport{TLSClientConfig: httpClient(t, c).Transport.(*http.Transport).TLSClientConfig}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, c.URL("cms1")+cmsrest.ResourceStatus.Path(), nil)
			req.SetBasicAuth("admin", "secret")
			if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if st := c.Stats().Nodes["cms1"]; st.RESTMaxConcurrent != 3 || st.RESTRequests[cmsrest.ResourceStatus] != 3 {
		t.Errorf("max concurrent %d, requests %v; want 3, 3", st.RESTMaxConcurrent, st.RESTRequests)
	}
}

func TestRESTMethodNotAllowed(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 1})
	req, err := http.NewRequest(http.MethodPost, c.URL("cms1")+cmsrest.ResourceStatus.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "secret")
	resp, err := httpClient(t, c).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: HTTP %d", resp.StatusCode)
	}
}

func TestRESTScenarioValidation(t *testing.T) {
	c := newTestCluster(t, Options{Nodes: 1})
	for name, err := range map[string]error{
		"alarm type with a space":   c.RaiseAlarm("cms1", "bad type"),
		"empty alarm type":          c.RaiseAlarm("cms1", ""),
		"clear an alarm not active": c.ClearAlarm("cms1", "x"),
		"feature with markup":       c.SetLicense("cms1", "<x>", "activated", time.Time{}, nil),
		"feature without status":    c.SetLicense("cms1", "turn", "", time.Time{}, nil),
		"remove a missing feature":  c.RemoveLicense("cms1", "turn"),
		"negative extra legs":       c.ExtraCallLegs("cms1", -1),
		"fault with status 200":     c.SetRESTFault("cms1", RESTFault{Status: http.StatusOK}),
		"negative delay":            c.SetRESTFault("cms1", RESTFault{Delay: -time.Second}),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, err := range map[string]error{
		"RaiseAlarm":             c.RaiseAlarm("cms9", "x"),
		"ClearAlarm":             c.ClearAlarm("cms9", "x"),
		"SetLicense":             c.SetLicense("cms9", "turn", "activated", time.Time{}, nil),
		"RemoveLicense":          c.RemoveLicense("cms9", "turn"),
		"SetMultipartyLicensing": c.SetMultipartyLicensing("cms9", cmsrest.MultipartyLicensing{}),
		"SetLimits":              c.SetLimits("cms9", nil, nil),
		"ExtraCallLegs":          c.ExtraCallLegs("cms9", 1),
		"SetRESTFault":           c.SetRESTFault("cms9", RESTFault{}),
	} {
		if !errors.Is(err, ErrUnknownNode) {
			t.Errorf("%s on an unknown node: %v", name, err)
		}
	}
	// Raising an active alarm again keeps it (and its age).
	mustOK(t, c.RaiseAlarm("cms1", "x"))
	mustOK(t, c.RaiseAlarm("cms1", "x"))
	if a := c.RESTTruth()["cms1"].Alarms; len(a) != 1 {
		t.Errorf("alarms %v", a)
	}
	// The scenario's pointers are copied, not kept.
	limit := int64(5)
	mustOK(t, c.SetLimits("cms1", &limit, nil))
	limit = 6
	if got := *c.RESTTruth()["cms1"].Cluster.LoadLimit; got != 5 {
		t.Errorf("load limit %d follows the caller's variable", got)
	}
}

// The traffic generator raises and clears an alarm now and then, the same
// way for the same seeds.
func TestTrafficAlarms(t *testing.T) {
	run := func() (history []string, raised, cleared int) {
		c := newTestCluster(t, Options{Nodes: 3, Seed: 1, Logf: func(string, ...any) {}})
		tg := NewTraffic(c, TrafficOptions{Seed: 7})
		prev := 0
		for i := range 4000 {
			if err := tg.Step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			active := c.activeAlarms()
			n := 0
			for _, a := range active {
				n += len(a)
			}
			switch {
			case n > prev:
				raised++
			case n < prev:
				cleared++
			}
			if n != prev {
				history = append(history, fmt.Sprintf("%d:%v", i, active))
			}
			prev = n
		}
		return history, raised, cleared
	}
	h1, raised, cleared := run()
	h2, _, _ := run()
	if !reflect.DeepEqual(h1, h2) {
		t.Errorf("same seeds, different alarms:\n%v\n%v", h1, h2)
	}
	if raised == 0 || cleared == 0 || raised > 40 {
		t.Errorf("%d alarms raised, %d cleared in 4000 steps; want a few", raised, cleared)
	}
	t.Logf("%d raised, %d cleared", raised, cleared)
}
