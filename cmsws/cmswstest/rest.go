package cmswstest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
)

// This file is the fake's REST API: the node counters a Call Bridge keeps
// of itself (call legs, media load, limits, alarms, licences), derived
// from the same model the events describe, so a client can compare its
// events-built books with the node's own. Everything is guarded by
// Cluster.mu.

// The fake's media model: every call leg carries one audio and one video
// stream each way at these rates and costs this much media processing.
// Real CMS figures vary with codecs and layouts; what matters to a client
// is that they grow with the legs.
const (
	audioBitRatePerLeg = 64_000    // bit/s, each way
	videoBitRatePerLeg = 1_500_000 // bit/s, each way
	loadPerLeg         = 1_000     // mediaProcessingLoad units
	// DefaultSoftwareVersion is what status reports unless
	// Options.SoftwareVersion says otherwise.
	DefaultSoftwareVersion = "3.9.2"
)

// Defaults of multipartyLicensing while the scenario has not set it: fixed
// limits, and usage that follows the participants the node hosts (licences
// count calls, not the links between nodes).
const (
	defaultPersonalLicenseLimit = 100
	defaultPersonalLicenses     = 10
	defaultSharedLicenseLimit   = 50
	defaultCapacityUnitLimit    = 200
)

// RESTFault makes a node's REST API misbehave; the zero value is healthy.
type RESTFault struct {
	// Delay holds every answer back this long (the request's cancellation
	// ends the wait), like a Call Bridge too busy to answer its API.
	Delay time.Duration
	// Status, when not 0, answers every authenticated request with this
	// HTTP status (e.g. 403 for a user without API rights, 500).
	Status int
	// Malformed cuts every answer in half: 200 with XML that does not
	// parse.
	Malformed bool
}

// NodeRESTTruth is what each REST resource of a node answers now, decoded
// (as cmsrest.Decode would), and the fault that may keep it from saying so.
type NodeRESTTruth struct {
	Status              cmsrest.Status
	Load                cmsrest.Load
	Cluster             cmsrest.Cluster
	Alarms              []cmsrest.Alarm
	Licensing           cmsrest.Licensing
	MultipartyLicensing cmsrest.MultipartyLicensing
	Fault               RESTFault
}

// restState is a node's REST-side state. Guarded by Cluster.mu.
type restState struct {
	started time.Time // the node's (re)start, for uptimeSeconds
	hosted  int       // participants hosted on the node, all states
	extra   int       // legs the events never show (ExtraCallLegs)
	// maxLegs and completed are callLegsMaxActive and callLegsCompleted:
	// since the node (re)started.
	maxLegs, completed int64

	alarms   []alarmState // active, in the order raised
	alarmSeq uint64
	features []cmsrest.Feature // licensing, in the order first set
	// multiparty is what SetMultipartyLicensing set; nil = the defaults.
	multiparty                  *cmsrest.MultipartyLicensing
	loadLimit, participantLimit *int64
	fault                       RESTFault

	requests              map[cmsrest.Resource]int
	inFlight, maxInFlight int
	authFailures          int
}

type alarmState struct {
	id, typ string
	raised  time.Time
}

func newRESTState(now time.Time) restState {
	return restState{
		started:  now,
		features: []cmsrest.Feature{{Name: "callBridge", Status: "activated"}},
		requests: map[cmsrest.Resource]int{},
	}
}

// restart is a Call Bridge coming back: its counters start again. Its
// calls have ended by then (RestartNode ends them first); alarms, licences,
// limits and faults are configuration and survive.
func (s *restState) restart(now time.Time) {
	s.started = now
	s.extra = 0
	s.maxLegs, s.completed = 0, 0
}

// legs is callLegsActive: the participants the node hosts, one leg to
// every other node hosting each of its meetings (the distribution links),
// and the legs the events never show.
func (n *node) legs() int64 {
	links := 0
	for _, inst := range n.instances {
		links += len(inst.meeting.instances) - 1
	}
	return int64(n.rest.hosted + links + n.rest.extra)
}

// noteLegs raises callLegsMaxActive to the current legs.
func (n *node) noteLegs() { n.rest.maxLegs = max(n.rest.maxLegs, n.legs()) }

// legsChanged accounts for a change of m that had the instances prev:
// distribution links that ended are completed legs on both of their nodes,
// and every node involved may have a new highest leg count. Participants'
// own legs are counted where they join and leave. Caller holds c.mu,
// inside changeMeeting.
func (c *Cluster) legsChanged(m *meeting, prev map[string]*instance) {
	for name, inst := range prev {
		if m.instances[name] != inst {
			// Every link of the dropped instance ends.
			inst.node.rest.completed += int64(len(prev) - 1)
			continue
		}
		for other, oi := range prev {
			if other != name && m.instances[other] != oi {
				inst.node.rest.completed++
			}
		}
	}
	for _, inst := range m.instances {
		inst.node.noteLegs()
	}
}

// participantJoined and participantLeft keep a node's own participant legs.
// Caller holds c.mu.
func (n *node) participantJoined() { n.rest.hosted++ }

func (n *node) participantLeft() {
	n.rest.hosted--
	n.rest.completed++
}

// restAnswers is what every resource of n answers now. Caller holds c.mu.
func (c *Cluster) restAnswers(n *node) NodeRESTTruth {
	now := c.opts.Now()
	legs := n.legs()
	s := &n.rest
	t := NodeRESTTruth{
		Status: cmsrest.Status{
			SoftwareVersion:      c.opts.SoftwareVersion,
			UptimeSeconds:        ptr(float64(wholeSeconds(now.Sub(s.started)))),
			Activated:            ptr(true),
			ClusterEnabled:       ptr(len(c.nodes) > 1),
			CallLegsActive:       ptr(legs),
			CallLegsMaxActive:    ptr(s.maxLegs),
			CallLegsCompleted:    ptr(s.completed),
			AudioBitRateOutgoing: ptr(legs * audioBitRatePerLeg),
			AudioBitRateIncoming: ptr(legs * audioBitRatePerLeg),
			VideoBitRateOutgoing: ptr(legs * videoBitRatePerLeg),
			VideoBitRateIncoming: ptr(legs * videoBitRatePerLeg),
		},
		Load:    cmsrest.Load{MediaProcessingLoad: ptr(legs * loadPerLeg)},
		Cluster: cmsrest.Cluster{LoadLimit: clonePtr(s.loadLimit), ParticipantLimit: clonePtr(s.participantLimit)},
		Alarms:  make([]cmsrest.Alarm, 0, len(s.alarms)),
		Fault:   s.fault,
	}
	for _, a := range s.alarms {
		t.Alarms = append(t.Alarms, cmsrest.Alarm{ID: a.id, Type: a.typ, ActiveFor: time.Duration(wholeSeconds(now.Sub(a.raised))) * time.Second})
	}
	for _, f := range s.features {
		f.Limit = clonePtr(f.Limit)
		t.Licensing.Features = append(t.Licensing.Features, f)
	}
	if s.multiparty != nil {
		t.MultipartyLicensing = cloneMultiparty(*s.multiparty)
	} else {
		used := int64(s.hosted)
		t.MultipartyLicensing = cmsrest.MultipartyLicensing{
			PersonalLicenseLimit:                ptr[int64](defaultPersonalLicenseLimit),
			PersonalLicenses:                    ptr[int64](defaultPersonalLicenses),
			SharedLicenseLimit:                  ptr[int64](defaultSharedLicenseLimit),
			CapacityUnitLimit:                   ptr[int64](defaultCapacityUnitLimit),
			CapacityUnitUsage:                   ptr(used),
			WeightedCallsActive:                 ptr(used),
			WeightedCallsWithoutPersonalLicense: ptr(used),
		}
	}
	return t
}

// wholeSeconds is how CMS counts uptime and alarm age: whole seconds,
// never negative (a test clock may stand still or go back).
func wholeSeconds(d time.Duration) int64 { return max(int64(d/time.Second), 0) }

func ptr[T any](v T) *T { return &v }

func cloneMultiparty(m cmsrest.MultipartyLicensing) cmsrest.MultipartyLicensing {
	return cmsrest.MultipartyLicensing{
		PersonalLicenseLimit:                clonePtr(m.PersonalLicenseLimit),
		PersonalLicenses:                    clonePtr(m.PersonalLicenses),
		SharedLicenseLimit:                  clonePtr(m.SharedLicenseLimit),
		CapacityUnitLimit:                   clonePtr(m.CapacityUnitLimit),
		CapacityUnitUsage:                   clonePtr(m.CapacityUnitUsage),
		WeightedCallsActive:                 clonePtr(m.WeightedCallsActive),
		WeightedCallsWithoutPersonalLicense: clonePtr(m.WeightedCallsWithoutPersonalLicense),
	}
}

// RESTTruth returns, per node, what every REST resource answers now: the
// ground truth for a client of the REST API. Uptime and alarm ages follow
// Options.Now, in whole seconds as the XML gives them.
func (c *Cluster) RESTTruth() map[string]NodeRESTTruth {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]NodeRESTTruth, len(c.nodes))
	for _, n := range c.nodes {
		out[n.name] = c.restAnswers(n)
	}
	return out
}

// restRoutes adds the REST resources to a node's mux.
func (c *Cluster) restRoutes(mux *http.ServeMux, n *node) {
	for _, res := range cmsrest.Resources {
		mux.HandleFunc(res.Path(), func(w http.ResponseWriter, r *http.Request) { c.serveREST(n, res, w, r) })
	}
}

// serveREST answers GET on one resource: counted, delayed by the node's
// fault, HTTP Basic checked on every request (the REST API has no tokens),
// then the fault's status, or the XML of restAnswers.
func (c *Cluster) serveREST(n *node, res cmsrest.Resource, w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	s := &n.rest
	s.requests[res]++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	fault := s.fault
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		s.inFlight--
		c.mu.Unlock()
	}()

	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(c.opts.Username)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(c.opts.Password)) != 1 {
		c.mu.Lock()
		s.authFailures++
		c.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="cms"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if fault.Status != 0 {
		http.Error(w, http.StatusText(fault.Status), fault.Status)
		return
	}
	c.mu.Lock()
	answers := c.restAnswers(n)
	c.mu.Unlock()
	body := renderREST(res, answers)
	if fault.Malformed {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(body)
}

// RaiseAlarm makes the node report an active alarm of type typ, active
// from now (Options.Now). An alarm of that type already active stays as it
// is.
func (c *Cluster) RaiseAlarm(name, typ string) error {
	if !xmlName(typ) {
		return fmt.Errorf("%w: alarm type %q", ErrInvalid, typ)
	}
	return c.withNode(name, func(n *node) {
		s := &n.rest
		if slices.ContainsFunc(s.alarms, func(a alarmState) bool { return a.typ == typ }) {
			return
		}
		s.alarmSeq++
		id := fmt.Sprintf("a1a1a1a1-0000-4000-8000-%012x", s.alarmSeq)
		s.alarms = append(s.alarms, alarmState{id: id, typ: typ, raised: c.opts.Now()})
	})
}

// ClearAlarm ends the node's active alarm of type typ; it fails when there
// is none.
func (c *Cluster) ClearAlarm(name, typ string) error {
	var found bool
	err := c.withNode(name, func(n *node) {
		i := slices.IndexFunc(n.rest.alarms, func(a alarmState) bool { return a.typ == typ })
		if found = i >= 0; found {
			n.rest.alarms = slices.Delete(n.rest.alarms, i, i+1)
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: no active alarm %q on %s", ErrInvalid, typ, name)
	}
	return err
}

// SetLicense adds or replaces the licensed feature (callBridge, recording,
// ...; the element name in /api/v1/system/licensing) of the node. A zero
// expiry reports none; otherwise the expiry is reported to the second, as
// a date when it is midnight UTC and as RFC 3339 otherwise. A nil limit
// reports none. Every node starts with callBridge activated, no expiry.
func (c *Cluster) SetLicense(name, feature, status string, expiry time.Time, limit *int64) error {
	if !xmlName(feature) || status == "" {
		return fmt.Errorf("%w: licence feature %q, status %q", ErrInvalid, feature, status)
	}
	if !expiry.IsZero() {
		expiry = expiry.UTC().Truncate(time.Second)
	}
	f := cmsrest.Feature{Name: feature, Status: status, Expiry: expiry, Limit: clonePtr(limit)}
	return c.withNode(name, func(n *node) {
		s := &n.rest
		if i := slices.IndexFunc(s.features, func(x cmsrest.Feature) bool { return x.Name == feature }); i >= 0 {
			s.features[i] = f
		} else {
			s.features = append(s.features, f)
		}
	})
}

// RemoveLicense drops a feature from the node's licensing answer; it
// fails when the node reports no such feature.
func (c *Cluster) RemoveLicense(name, feature string) error {
	var found bool
	err := c.withNode(name, func(n *node) {
		s := &n.rest
		i := slices.IndexFunc(s.features, func(x cmsrest.Feature) bool { return x.Name == feature })
		if found = i >= 0; found {
			s.features = slices.Delete(s.features, i, i+1)
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: no licence feature %q on %s", ErrInvalid, feature, name)
	}
	return err
}

// SetMultipartyLicensing makes the node report v, as is (nil fields are
// left out), from now on. Until then it reports fixed limits and usage
// that follows the participants it hosts.
func (c *Cluster) SetMultipartyLicensing(name string, v cmsrest.MultipartyLicensing) error {
	v = cloneMultiparty(v)
	return c.withNode(name, func(n *node) { n.rest.multiparty = &v })
}

// SetLimits sets the loadLimit and participantLimit the node's cluster
// configuration reports; nil leaves the element out (no limit configured,
// the default).
func (c *Cluster) SetLimits(name string, loadLimit, participantLimit *int64) error {
	l, p := clonePtr(loadLimit), clonePtr(participantLimit)
	return c.withNode(name, func(n *node) { n.rest.loadLimit, n.rest.participantLimit = l, p })
}

// ExtraCallLegs sets the number of call legs the node counts that no event
// shows (n ≥ 0; 0 = none, the default): a client whose books are built
// from the events must see them disagree with the node's. Extra legs that
// go away count as completed; a restart ends them.
func (c *Cluster) ExtraCallLegs(name string, n int) error {
	if n < 0 {
		return fmt.Errorf("%w: %d extra call legs", ErrInvalid, n)
	}
	return c.withNode(name, func(nd *node) {
		s := &nd.rest
		if n < s.extra {
			s.completed += int64(s.extra - n)
		}
		s.extra = n
		nd.noteLegs()
	})
}

// SetRESTFault makes the node's REST API misbehave as f says, for the
// requests received from now on; the zero RESTFault heals it. The events
// side is not affected.
func (c *Cluster) SetRESTFault(name string, f RESTFault) error {
	if f.Delay < 0 || (f.Status != 0 && (f.Status < 300 || f.Status > 599)) {
		return fmt.Errorf("%w: REST fault %+v", ErrInvalid, f)
	}
	return c.withNode(name, func(n *node) { n.rest.fault = f })
}

// xmlName accepts the names the fake writes as XML elements or text
// without escaping surprises: letters and digits, starting with a letter,
// like every CMS element and alarm type.
func xmlName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// trafficAlarms are the alarm types the traffic generator raises.
var trafficAlarms = []string{"callDetailRecordConnectionFailure", "mediaProcessingOverloaded"}

// alarmActions adds, for the demo's sake, a rare alarm on a node that has
// none and the clearing of an active one. Against the weight of a dozen
// meetings' actions, at the demo's 5 steps a second, that is an alarm
// every few minutes lasting a few minutes: long enough, at times, for an
// alert that waits 5 minutes.
func (t *Traffic) alarmActions(acts *actions) {
	active := t.c.activeAlarms()
	for i, node := range t.c.Nodes() {
		if len(active[i]) == 0 {
			acts.add(0.1, func() error { return t.c.RaiseAlarm(node, pick(t.rng, trafficAlarms)) })
		}
		for _, typ := range active[i] {
			acts.add(0.15, func() error { return t.c.ClearAlarm(node, typ) })
		}
	}
}

// activeAlarms lists every node's active alarm types, nodes in
// configuration order, alarms in the order raised.
func (c *Cluster) activeAlarms() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]string, len(c.nodes))
	for i, n := range c.nodes {
		for _, a := range n.rest.alarms {
			out[i] = append(out[i], a.typ)
		}
	}
	return out
}
