package cmswstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// TrafficOptions configure a Traffic generator.
type TrafficOptions struct {
	// Seed makes the sequence of actions reproducible: with the same
	// cluster Seed, the same steps give the same Truth.
	Seed int64
	// Meetings is the number of meetings kept alive (default 12).
	Meetings int
	// MinParticipants and MaxParticipants bound a meeting's planned size
	// (default 2 and 15, as seen for coSpace meetings in the captures).
	MinParticipants, MaxParticipants int
	// Logf receives failed steps in Run (default: discarded).
	Logf func(format string, args ...any)
}

// Traffic drives a Cluster with seeded random but realistic activity:
// coSpace meetings over 1–3 nodes, participants joining initial, some
// ringing, then connected, very frequent active-speaker toggles, mutes, an
// occasional presenter or layout change, leaves with the reasons seen in the
// captures, recording usually on from the start when on at all, streaming on
// and off, rare locks, and meetings ending when everyone has left.
//
// It reads the cluster's state before every step, so faults injected
// meanwhile (RestartNode, ...) are taken into account.
type Traffic struct {
	c *Cluster
	o TrafficOptions

	mu      sync.Mutex
	rng     *rand.Rand
	plans   map[string]*plan // by correlator
	spaces  int              // names handed out
	persons int
}

// plan is the generator's intention for one meeting.
type plan struct {
	target   int      // participants to reach
	nodes    []string // nodes it spreads over; nodes[0] first
	draining bool     // everyone leaves from now on
}

// NewTraffic returns a generator for c.
func NewTraffic(c *Cluster, o TrafficOptions) *Traffic {
	if o.Meetings <= 0 {
		o.Meetings = 12
	}
	if o.MinParticipants <= 0 {
		o.MinParticipants = 2
	}
	if o.MaxParticipants < o.MinParticipants {
		o.MaxParticipants = max(15, o.MinParticipants)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return &Traffic{
		c:     c,
		o:     o,
		rng:   rand.New(rand.NewPCG(uint64(o.Seed), 0x74726166666963)),
		plans: map[string]*plan{},
	}
}

// Run calls Step every interval until ctx ends, logging failed steps.
func (t *Traffic) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := t.Step(); err != nil {
				t.o.Logf("cmswstest: traffic step: %v", err)
			}
		}
	}
}

// meetingSnap and participantSnap are the generator's read-only view of the
// cluster, in creation order so choices are reproducible.
type meetingSnap struct {
	corr                 string
	recording, streaming bool
	locked               bool
	nodes                []string
	participants         []participantSnap
	connected, waiting   int
}

type participantSnap struct {
	id, node, state, name, uri string
	audioMuted, videoMuted     bool
	txAudioMuted, txVideoMuted bool
	presenter, activeSpeaker   bool
}

func (c *Cluster) trafficView() []meetingSnap {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []meetingSnap
	for _, m := range sortedValues(c.meetings) {
		ms := meetingSnap{corr: m.correlator, recording: m.recording, streaming: m.streaming, locked: m.locked}
		for _, inst := range sortedValues(m.instances) {
			ms.nodes = append(ms.nodes, inst.node.name)
		}
		for _, p := range sortedValues(m.participants) {
			v := p.view
			ms.participants = append(ms.participants, participantSnap{
				id: p.id, node: p.node.name, state: v.state, name: v.name, uri: v.uri,
				audioMuted: v.audioMuted, videoMuted: v.videoMuted, txAudioMuted: v.txAudioMuted,
				txVideoMuted: v.txVideoMuted, presenter: v.presenter, activeSpeaker: v.activeSpeaker,
			})
			switch v.state {
			case "connected", "onHold":
				ms.connected++
			default:
				ms.waiting++
			}
		}
		out = append(out, ms)
	}
	return out
}

// action is one candidate of a step.
type action struct {
	weight float64
	do     func() error
}

// Step performs one random action and returns its error, if any (an
// action can fail when the cluster changed under it, e.g. by a fault).
func (t *Traffic) Step() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	view := t.c.trafficView()
	t.dropPlansOfEnded(view)

	var acts actions
	if len(view) < t.o.Meetings {
		acts.add(8, t.startMeeting)
	}
	for i := range view {
		t.meetingActions(&acts, &view[i], view)
	}
	t.alarmActions(&acts)
	return acts.pick(t.rng)
}

// dropPlansOfEnded forgets the plans of meetings no longer in view.
func (t *Traffic) dropPlansOfEnded(view []meetingSnap) {
	live := make(map[string]bool, len(view))
	for _, m := range view {
		live[m.corr] = true
	}
	for corr := range t.plans {
		if !live[corr] {
			delete(t.plans, corr)
		}
	}
}

// meetingActions adds what may happen next to meeting m, with weights
// shaped like the captures: speaker toggles dominate, then mutes; joins
// until the meeting's target size, then it drains and ends.
func (t *Traffic) meetingActions(acts *actions, m *meetingSnap, view []meetingSnap) {
	add := acts.add
	pl := t.planFor(m)
	switch {
	case len(m.participants) == 0:
		// Only a fault or a test leaves a meeting without anyone.
		add(5, func() error { return t.c.EndMeeting(m.corr) })
		return
	case pl.draining:
		add(3, func() error { return t.leaveOne(m) })
	case len(m.participants) < pl.target:
		add(2.5, func() error { return t.join(m, pl) })
	default:
		w := 0.15
		if len(view) > t.o.Meetings {
			w = 2
		}
		add(w, func() error { pl.draining = true; return nil })
	}
	if m.waiting > 0 {
		add(3, func() error { return t.progress(m) })
	}
	if m.connected > 0 {
		add(10, func() error { return t.toggleSpeaker(m) })
		add(2, func() error { return t.toggleMute(m) })
		add(0.3, func() error { return t.toggleTxMute(m) })
		add(0.5, func() error { return t.togglePresenter(m) })
		add(0.3, func() error { return t.changeLayout(m) })
		add(0.15, func() error { return t.toggleHold(m) })
		add(0.1, func() error { return t.c.SetLayout(m.corr, pick(t.rng, layouts)) })
		if !pl.draining {
			add(0.6, func() error { return t.leaveOne(m) })
		}
	}
	add(0.15, func() error { return t.c.SetStreaming(m.corr, !m.streaming) })
	add(0.1, func() error { return t.c.SetRecording(m.corr, !m.recording) })
	if m.locked {
		add(0.5, func() error { return t.c.SetLocked(m.corr, false) })
	} else {
		add(0.03, func() error { return t.c.SetLocked(m.corr, true) })
	}
	if len(view) > 1 && m.connected > 0 {
		add(0.03, func() error { return t.move(m, view) })
	}
}

// actions are the weighted candidates of one Step.
type actions []action

func (a *actions) add(w float64, f func() error) {
	if w > 0 {
		*a = append(*a, action{w, f})
	}
}

// pick runs one action, chosen with probability proportional to its
// weight; none is no error.
func (a actions) pick(rng *rand.Rand) error {
	if len(a) == 0 {
		return nil
	}
	total := 0.0
	for _, x := range a {
		total += x.weight
	}
	r := rng.Float64() * total
	for _, x := range a {
		if r < x.weight {
			return x.do()
		}
		r -= x.weight
	}
	return a[len(a)-1].do()
}

var (
	layouts      = []string{"allEqual", "speakerOnly", "telepresence", "stacked", "onePlusFive", "onePlusN", "automatic"}
	leaveReasons = []weighted{{"timeout", 45}, {"remoteTeardown", 15}, {"noAnswer", 8}, {"notFound", 5},
		{"callEnded", 5}, {"unknownDestination", 2}, {"", 20}}
	trafficCallTypes = []weighted{{"coSpace", 85}, {"adHoc", 10}, {"lyncConferencing", 3}, {"forwarding", 2}}
)

type weighted struct {
	v string
	w float64
}

func pickWeighted(r *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, w := range ws {
		total += w.w
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (t *Traffic) chance(p float64) bool { return t.rng.Float64() < p }

// planFor returns the plan of a meeting, making one up for meetings the
// generator did not start.
func (t *Traffic) planFor(m *meetingSnap) *plan {
	if pl := t.plans[m.corr]; pl != nil {
		return pl
	}
	pl := t.newPlan()
	if len(m.nodes) > 0 {
		pl.nodes = append([]string(nil), m.nodes...)
	}
	t.plans[m.corr] = pl
	return pl
}

func (t *Traffic) newPlan() *plan {
	lo, hi := t.o.MinParticipants, t.o.MaxParticipants
	// Small meetings are the most common: the smaller of two draws.
	size := lo + min(t.rng.IntN(hi-lo+1), t.rng.IntN(hi-lo+1))
	nodes := t.c.Nodes()
	t.rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	spread := 1
	switch x := t.rng.Float64(); {
	case x < 0.2:
		spread = 3
	case x < 0.5:
		spread = 2
	}
	return &plan{target: size, nodes: nodes[:min(spread, len(nodes))]}
}

func (t *Traffic) newPerson() (name, uri string) {
	t.persons++
	return fmt.Sprintf("Participant %03d", t.persons), fmt.Sprintf("user%03d@example.org", t.persons)
}

// startMeeting starts a meeting together with its first participant: a
// call exists because someone joined it.
func (t *Traffic) startMeeting() error {
	t.spaces++
	pl := t.newPlan()
	o := MeetingOptions{
		Name:           fmt.Sprintf("Space %03d", t.spaces),
		CallType:       pickWeighted(t.rng, trafficCallTypes),
		Recording:      t.chance(0.2),
		Streaming:      t.chance(0.05),
		EmptyNameFirst: t.chance(0.3),
	}
	corr, err := t.c.StartMeeting(pl.nodes[0], o)
	if err != nil {
		return err
	}
	t.plans[corr] = pl
	_, err = t.c.AddParticipant(corr, pl.nodes[0], t.newParticipant())
	return err
}

func (t *Traffic) newParticipant() ParticipantOptions {
	name, uri := t.newPerson()
	o := ParticipantOptions{URI: uri, Name: name, Layout: "allEqual", CanMove: t.chance(0.3)}
	if t.chance(0.6) {
		o.State = stateInitial
		if t.chance(0.5) {
			o.Name = "" // filled in when connecting, as in the captures
		}
	}
	if t.chance(0.4) {
		o.Direction = "outgoing"
	}
	o.AudioMuted = t.chance(0.1)
	return o
}

func (t *Traffic) join(m *meetingSnap, pl *plan) error {
	_, err := t.c.AddParticipant(m.corr, pick(t.rng, pl.nodes), t.newParticipant())
	return err
}

func (t *Traffic) pickPart(m *meetingSnap, ok func(p participantSnap) bool) (participantSnap, bool) {
	var cands []participantSnap
	for _, p := range m.participants {
		if ok(p) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return participantSnap{}, false
	}
	return pick(t.rng, cands), true
}

func connected(p participantSnap) bool { return p.state == "connected" }

// progress moves a waiting participant on: initial → ringing or
// connected, ringing → connected, sometimes ringing → gone (noAnswer).
func (t *Traffic) progress(m *meetingSnap) error {
	p, ok := t.pickPart(m, func(p participantSnap) bool { return p.state == "initial" || p.state == "ringing" })
	if !ok {
		return nil
	}
	if p.state == "ringing" && t.chance(0.15) {
		return t.c.RemoveParticipant(p.id, "noAnswer")
	}
	next := "connected"
	if p.state == "initial" && t.chance(0.35) {
		next = "ringing"
	}
	ch := ParticipantChange{State: &next}
	if next == "connected" {
		if p.name == "" {
			name := fmt.Sprintf("Participant %s", p.id[:4])
			ch.Name = &name
		}
		if t.chance(0.3) {
			uri := p.uri + ";x-cisco-number=55555"
			ch.URI = &uri
		}
	}
	return t.c.UpdateParticipant(p.id, ch)
}

func (t *Traffic) toggleSpeaker(m *meetingSnap) error {
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	v := !p.activeSpeaker
	return t.c.UpdateParticipant(p.id, ParticipantChange{ActiveSpeaker: &v})
}

func (t *Traffic) toggleMute(m *meetingSnap) error {
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	if t.chance(0.7) {
		v := !p.audioMuted
		return t.c.UpdateParticipant(p.id, ParticipantChange{AudioMuted: &v})
	}
	v := !p.videoMuted
	return t.c.UpdateParticipant(p.id, ParticipantChange{VideoMuted: &v})
}

func (t *Traffic) toggleTxMute(m *meetingSnap) error {
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	if t.chance(0.5) {
		v := !p.txAudioMuted
		return t.c.UpdateParticipant(p.id, ParticipantChange{TxAudioMuted: &v})
	}
	v := !p.txVideoMuted
	return t.c.UpdateParticipant(p.id, ParticipantChange{TxVideoMuted: &v})
}

// togglePresenter stops the current presentation or starts one; one
// presenter per meeting at a time.
func (t *Traffic) togglePresenter(m *meetingSnap) error {
	if cur, ok := t.pickPart(m, func(p participantSnap) bool { return p.presenter }); ok {
		f := false
		return t.c.UpdateParticipant(cur.id, ParticipantChange{Presenter: &f})
	}
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	v := true
	return t.c.UpdateParticipant(p.id, ParticipantChange{Presenter: &v})
}

func (t *Traffic) changeLayout(m *meetingSnap) error {
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	l := pick(t.rng, layouts)
	return t.c.UpdateParticipant(p.id, ParticipantChange{Layout: &l})
}

func (t *Traffic) toggleHold(m *meetingSnap) error {
	p, ok := t.pickPart(m, func(p participantSnap) bool { return p.state == "connected" || p.state == "onHold" })
	if !ok {
		return nil
	}
	s := "onHold"
	if p.state == "onHold" {
		s = "connected"
	}
	return t.c.UpdateParticipant(p.id, ParticipantChange{State: &s})
}

func (t *Traffic) leaveOne(m *meetingSnap) error {
	p := pick(t.rng, m.participants)
	return t.c.RemoveParticipant(p.id, pickWeighted(t.rng, leaveReasons))
}

// move moves a connected participant to another meeting, on one of the
// nodes that meeting is planned on.
func (t *Traffic) move(m *meetingSnap, view []meetingSnap) error {
	p, ok := t.pickPart(m, connected)
	if !ok {
		return nil
	}
	var others []*meetingSnap
	for i := range view {
		if view[i].corr != m.corr && len(view[i].participants) > 0 {
			others = append(others, &view[i])
		}
	}
	if len(others) == 0 {
		return nil
	}
	dst := pick(t.rng, others)
	pl := t.planFor(dst)
	_, err := t.c.MoveParticipant(p.id, dst.corr, pick(t.rng, pl.nodes))
	return err
}
