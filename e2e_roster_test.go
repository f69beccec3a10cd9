package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// rosterStates are the participant states the exporter renders.
var rosterStates = []string{"initial", "ringing", "connected", "onHold"}

// rosterAgg is what the roster metrics of one meeting must show.
type rosterAgg struct {
	states                                                          map[string]float64
	audio, video, txAudio, txVideo, presenting, speakers, recording float64
}

func truthRoster(m cmswstest.MeetingTruth) rosterAgg {
	a := rosterAgg{states: map[string]float64{}}
	for _, p := range m.Participants {
		a.states[p.State]++
		a.audio += b2f(p.AudioMuted)
		a.video += b2f(p.VideoMuted)
		a.txAudio += b2f(p.TxAudioMuted)
		a.txVideo += b2f(p.TxVideoMuted)
		a.presenting += b2f(p.Presenter)
		a.speakers += b2f(p.ActiveSpeaker)
		a.recording += b2f(p.EndpointRecording)
	}
	return a
}

// rosterDiff compares the roster metrics of every meeting in covered with
// the truth. A meeting's series must sit on exactly one of its instances
// (node, call): the one its roster subscription is placed on.
func rosterDiff(got map[string]float64, tr cmswstest.Truth, covered []string) []string {
	var diffs []string
	var clusterAudio, clusterVideo, clusterTxA, clusterTxV, clusterPres float64
	for _, corr := range covered {
		mt, ok := tr.Meetings[corr]
		if !ok {
			diffs = append(diffs, "meeting "+corr+" not in truth")
			continue
		}
		var homes []string
		for node, call := range mt.Calls {
			if _, ok := got[key("cms_call_roster_participants", "node", node, "call", call, "state", "connected")]; ok {
				homes = append(homes, node+"/"+call)
			}
		}
		if len(homes) != 1 {
			diffs = append(diffs, fmt.Sprintf("meeting %q: roster series on %d instances %v, want exactly 1", mt.Name, len(homes), homes))
			continue
		}
		node, call, _ := strings.Cut(homes[0], "/")
		want := truthRoster(mt)
		check := func(name string, w float64, kv ...string) {
			k := key(name, append([]string{"node", node, "call", call}, kv...)...)
			if g := got[k]; g != w {
				diffs = append(diffs, fmt.Sprintf("meeting %q: %s = %v, truth %v", mt.Name, k, g, w))
			}
		}
		for _, st := range rosterStates {
			check("cms_call_roster_participants", want.states[st], "state", st)
		}
		check("cms_call_participants_audio_muted", want.audio)
		check("cms_call_participants_video_muted", want.video)
		check("cms_call_participants_tx_audio_muted", want.txAudio)
		check("cms_call_participants_tx_video_muted", want.txVideo)
		check("cms_call_participants_presenting", want.presenting)
		check("cms_call_participants_active_speakers", want.speakers)
		clusterAudio += want.audio
		clusterVideo += want.video
		clusterTxA += want.txAudio
		clusterTxV += want.txVideo
		clusterPres += want.presenting
	}
	for name, w := range map[string]float64{
		"cms_cluster_participants_audio_muted": clusterAudio, "cms_cluster_participants_video_muted": clusterVideo,
		"cms_cluster_participants_tx_audio_muted": clusterTxA, "cms_cluster_participants_tx_video_muted": clusterTxV,
		"cms_cluster_participants_presenting": clusterPres,
	} {
		if g := got[key(name)]; g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %v, truth %v", name, g, w))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// eventuallyRoster waits until call-level metrics and the rosters of all
// meetings equal the truth, with full coverage.
func (h *harness) eventuallyRoster(up ...string) map[string]float64 {
	h.t.Helper()
	return h.eventuallyRosterWithin(15*time.Second, up...)
}

// eventuallyRosterWithin is eventuallyRoster with its deadline.
func (h *harness) eventuallyRosterWithin(d time.Duration, up ...string) map[string]float64 {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		h.eventuallyTruthWithin(d, up...)
		got := h.scrape()
		tr := h.cluster.Truth()
		var all []string
		for corr := range tr.Meetings {
			all = append(all, corr)
		}
		diffs := rosterDiff(got, tr, all)
		if got[key("cms_roster_coverage_ratio")] != 1 {
			diffs = append(diffs, fmt.Sprintf("coverage %v, want 1", got[key("cms_roster_coverage_ratio")]))
		}
		if len(diffs) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("rosters never matched the truth; %d differences:\n  %s\nlogs:\n%s",
				len(diffs), strings.Join(first(diffs, 30), "\n  "), tail(h.logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// Participants join (initial → ringing → connected), mute in all four
// ways, present, speak and leave with and without reasons; a meeting over
// three nodes is counted once; every step equals the truth.
func TestE2ERosterFollowsParticipants(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 3, Seed: 21}, nil)
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	start := must[string](t)
	all := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "All hands"}))
	ok(t, h.cluster.DistributeMeeting(all, nodes[1]))
	ok(t, h.cluster.DistributeMeeting(all, nodes[2]))
	solo := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "Solo"}))

	var ps []string
	for i, n := range nodes {
		for j := 0; j < 2; j++ {
			ps = append(ps, start(h.cluster.AddParticipant(all, n, cmswstest.ParticipantOptions{Name: fmt.Sprintf("p%d%d", i, j), State: "initial"})))
		}
	}
	s1 := start(h.cluster.AddParticipant(solo, nodes[1], cmswstest.ParticipantOptions{Name: "s1"}))
	m := h.eventuallyRoster(nodes...)
	joined := m[key("cms_participants_joined_total")]

	ok(t, h.cluster.UpdateParticipant(ps[0], cmswstest.ParticipantChange{State: ptr("ringing")}))
	for _, p := range ps[1:] {
		ok(t, h.cluster.UpdateParticipant(p, cmswstest.ParticipantChange{State: ptr("connected")}))
	}
	ok(t, h.cluster.UpdateParticipant(ps[1], cmswstest.ParticipantChange{AudioMuted: ptr(true)}))
	ok(t, h.cluster.UpdateParticipant(ps[2], cmswstest.ParticipantChange{VideoMuted: ptr(true)}))
	ok(t, h.cluster.UpdateParticipant(ps[3], cmswstest.ParticipantChange{TxAudioMuted: ptr(true), TxVideoMuted: ptr(true)}))
	ok(t, h.cluster.UpdateParticipant(ps[4], cmswstest.ParticipantChange{Presenter: ptr(true), ActiveSpeaker: ptr(true)}))
	ok(t, h.cluster.UpdateParticipant(s1, cmswstest.ParticipantChange{AudioMuted: ptr(true)}))
	h.eventuallyRoster(nodes...)

	ok(t, h.cluster.UpdateParticipant(ps[1], cmswstest.ParticipantChange{AudioMuted: ptr(false)}))
	ok(t, h.cluster.UpdateParticipant(ps[3], cmswstest.ParticipantChange{State: ptr("onHold")}))
	ok(t, h.cluster.RemoveParticipant(ps[5], "timeout"))
	ok(t, h.cluster.RemoveParticipant(ps[0], "noAnswer"))
	ok(t, h.cluster.RemoveParticipant(s1, ""))
	m = h.eventuallyRoster(nodes...)
	if got := m[key("cms_participants_joined_total")]; got != joined {
		t.Fatalf("joined_total moved from %v to %v without joins", joined, got)
	}
	// Reasons: only the hosting node reports one, so a leave counts as the
	// reason its roster subscription saw; one count per leave either way.
	left := sumFamily(m, "cms_participants_left_total")
	if left != 3 {
		t.Fatalf("left_total = %v over reasons, want 3 (one per leave)", left)
	}
}

// The node carrying a distributed meeting's roster stops hosting it: the
// roster subscription is deactivated, re-homed to another hosting node, and
// the data continues after one resync, without counting anyone as leaving.
func TestE2ERosterRehomed(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 3, Seed: 22}, nil)
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	start := must[string](t)
	mt := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Roaming"}))
	ok(t, h.cluster.DistributeMeeting(mt, nodes[1]))
	ok(t, h.cluster.DistributeMeeting(mt, nodes[2]))
	for _, n := range nodes {
		start(h.cluster.AddParticipant(mt, n, cmswstest.ParticipantOptions{Name: "on " + n, AudioMuted: n == nodes[2]}))
	}
	m := h.eventuallyRoster(nodes...)
	home := rosterHome(m, h.cluster.Truth().Meetings[mt])
	if home == "" {
		t.Fatal("no roster home")
	}
	leftBefore := sumFamily(m, "cms_participants_left_total")

	ok(t, h.cluster.EndInstance(mt, home)) // its participants leave with callEnded
	m = h.eventuallyRoster(nodes...)
	if now := rosterHome(m, h.cluster.Truth().Meetings[mt]); now == "" || now == home {
		t.Fatalf("roster home %q after %q stopped hosting", now, home)
	}
	// One participant (the one hosted on the ended instance) really left.
	if got := sumFamily(m, "cms_participants_left_total") - leftBefore; got != 1 {
		t.Fatalf("left_total grew by %v across the re-home, want 1 (the one real leave)", got)
	}
}

func rosterHome(m map[string]float64, mt cmswstest.MeetingTruth) string {
	for node, call := range mt.Calls {
		if _, ok := m[key("cms_call_roster_participants", "node", node, "call", call, "state", "connected")]; ok {
			return node
		}
	}
	return ""
}

// A participant moved by CMM from one meeting to another ends in the right
// meeting with the right counts.
func TestE2ERosterMovedParticipant(t *testing.T) {
	h := newHarness(t, cmswstest.Options{Nodes: 2, Seed: 23}, nil)
	nodes := h.cluster.Nodes()
	h.eventuallyTruth(nodes...)
	start := must[string](t)
	a := start(h.cluster.StartMeeting(nodes[0], cmswstest.MeetingOptions{Name: "Space 1"}))
	b := start(h.cluster.StartMeeting(nodes[1], cmswstest.MeetingOptions{Name: "Space 2"}))
	mover := start(h.cluster.AddParticipant(a, nodes[0], cmswstest.ParticipantOptions{Name: "User X", AudioMuted: true}))
	start(h.cluster.AddParticipant(a, nodes[0], cmswstest.ParticipantOptions{Name: "stays"}))
	start(h.cluster.AddParticipant(b, nodes[1], cmswstest.ParticipantOptions{Name: "host"}))
	m := h.eventuallyRoster(nodes...)
	moved := m[key("cms_participants_moved_total")]

	start(h.cluster.MoveParticipant(mover, b, nodes[1]))
	m = h.eventuallyRoster(nodes...)
	if got := m[key("cms_participants_moved_total")]; got != moved+1 {
		t.Fatalf("moved_total = %v, want %v", got, moved+1)
	}
}

// 300 concurrent meetings on 3 nodes with one connection each: no
// connection ever carries more than 100 subscriptions (the fake refuses
// the 101st), coverage is exactly as planned and reported, the largest
// meetings are the covered ones. With 2 connections per node, full coverage.
func TestE2ERosterBudget300Meetings(t *testing.T) {
	for _, connections := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d_connection(s)", connections), func(t *testing.T) {
			h := newHarnessConnections(t, connections, cmswstest.Options{Nodes: 3, Seed: 24}, nil)
			nodes := h.cluster.Nodes()
			h.eventuallyTruth(nodes...)
			start := must[string](t)
			// Size classes far enough apart that a larger meeting always beats
			// a smaller incumbent despite the planner's hysteresis (an
			// incumbent ranks as size*1.25+1): 3 > 2.25, 6 > 4.75, 10 > 8.5.
			classes := []int{1, 3, 6, 10}
			size := map[string]int{}
			for i := 0; i < 300; i++ {
				n := nodes[i%3]
				corr := start(h.cluster.StartMeeting(n, cmswstest.MeetingOptions{Name: fmt.Sprintf("M%03d", i)}))
				for j := 0; j < classes[i%4]; j++ {
					start(h.cluster.AddParticipant(corr, n, cmswstest.ParticipantOptions{Name: "p"}))
				}
				size[corr] = classes[i%4]
			}
			capacity := connections*100 - 1 // per node: calls takes one on connection 0
			wantCovered := min(300, 3*capacity)
			// Meetings grow one participant at a time, so placements settle
			// only once the sizes do: wait for the steady state in which the
			// covered meetings are the largest (every skipped one is no larger
			// than every covered one).
			ranked := func(m map[string]float64) bool {
				minCovered, maxSkipped := 99, 0
				for corr, mt := range h.cluster.Truth().Meetings {
					if rosterHome(m, mt) != "" {
						minCovered = min(minCovered, size[corr])
					} else {
						maxSkipped = max(maxSkipped, size[corr])
					}
				}
				return maxSkipped <= minCovered
			}
			m := h.eventually(fmt.Sprintf("%d meetings covered, the largest ones", wantCovered), func(m map[string]float64) bool {
				return m[key("cms_roster_meetings", "state", "covered")] == float64(wantCovered) && ranked(m)
			})
			if got := m[key("cms_roster_coverage_ratio")]; got != float64(wantCovered)/300 {
				t.Fatalf("coverage ratio %v, want %v", got, float64(wantCovered)/300)
			}
			if got := m[key("cms_roster_meetings", "state", "skipped")]; got != float64(300-wantCovered) {
				t.Fatalf("skipped = %v, want %d", got, 300-wantCovered)
			}
			for _, n := range nodes {
				st := h.cluster.Stats().Nodes[n]
				if st.RefusedSubscribes != 0 {
					t.Fatalf("%s refused %d subscribe requests: a connection went over 100", n, st.RefusedSubscribes)
				}
				for _, c := range st.Connections {
					if c.Subscriptions > 100 {
						t.Fatalf("%s connection %d holds %d subscriptions", n, c.ID, c.Subscriptions)
					}
				}
				if used := m[key("cms_subscription_budget_used", "node", n, "connection", "0")]; connections == 1 && used != 100 {
					t.Fatalf("%s budget used on connection 0 = %v, want 100 (full)", n, used)
				}
				for l := range connections {
					conn := fmt.Sprint(l)
					used, left := m[key("cms_subscription_budget_used", "node", n, "connection", conn)], m[key("cms_subscription_budget_left", "node", n, "connection", conn)]
					if used+left != 100 || (wantCovered < 300 && left != 0) {
						t.Fatalf("%s connection %s: used %v + left %v, want 100 with nothing left while meetings are skipped", n, conn, used, left)
					}
				}
			}
		})
	}
}

// 50 meetings starting at once cost a handful of subscribeRequests (the
// planner batches), not 50: at most one request per node per batch
// interval spanned by the time the meetings take to reach the exporter,
// plus one for the batch that closes it.
func TestE2ERosterBatching(t *testing.T) {
	const batch = time.Second
	h := newHarnessBatch(t, 1, batch, cmswstest.Options{Nodes: 3, Seed: 25}, func(c *cmsws.Config) {
		c.ProbeInterval, c.ProbeTimeout = time.Minute, 10*time.Second // no probe requests in the count
	})
	nodes := h.cluster.Nodes()
	h.eventuallyRoster(nodes...)
	// Requests that change a set; the unchanged repeats (one sync request
	// after each activation, which marks the end of its snapshots) are
	// bounded by them.
	requests := func() (changing, unchanged int) {
		for _, st := range h.cluster.Stats().Nodes {
			changing += st.SubscribeRequests - st.UnchangedRequests
			unchanged += st.UnchangedRequests
		}
		return changing, unchanged
	}
	before, syncsBefore := requests()
	began := time.Now()
	start := must[string](t)
	for i := 0; i < 50; i++ {
		corr := start(h.cluster.StartMeeting(nodes[i%3], cmswstest.MeetingOptions{Name: fmt.Sprintf("burst %d", i)}))
		start(h.cluster.AddParticipant(corr, nodes[i%3], cmswstest.ParticipantOptions{Name: "p"}))
	}
	// The window in which the planner sees meetings appear: until the
	// exporter holds all 50 calls (they arrive over the acked streams).
	h.eventually("all 50 calls in the model", func(m map[string]float64) bool { return sumFamily(m, "cms_node_calls") == 50 })
	burst := time.Since(began)
	h.eventuallyRoster(nodes...)
	after, syncsAfter := requests()
	spent, syncs := after-before, syncsAfter-syncsBefore
	limit := len(nodes) * (int(burst/batch) + 2)
	t.Logf("50 meetings (burst of %v) cost %d subscribeRequests and %d sync requests over %d nodes; limit %d", burst.Round(time.Millisecond), spent, syncs, len(nodes), limit)
	if spent > limit {
		t.Fatalf("50 meetings cost %d subscribeRequests, more than one per node per batch (%d)", spent, limit)
	}
	if syncs > spent {
		t.Fatalf("%d sync requests for %d requests: more than one per activating request", syncs, spent)
	}
}
