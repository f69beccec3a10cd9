package collector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// rosterSub is a callRoster subscription as the planner builds it.
func rosterSub(index int, call string) cmsws.Subscription {
	return cmsws.Subscription{Index: index, Type: cmsws.ResourceCallRoster, Call: call, Elements: cmsws.CallRosterElements}
}

// activate reports a subscription pending, then active, as CMS does after
// a subscribeRequest.
func (h *harness) activate(node string, conn int, sub cmsws.Subscription) {
	h.subStateOn(node, conn, sub, cmsws.StatePending)
	h.subStateOn(node, conn, sub, cmsws.StateActive)
}

// roster delivers one rosterUpdate message on sub.
func (h *harness) roster(node string, conn int, sub cmsws.Subscription, updates ...cmsws.RosterUpdate) {
	s := sub
	h.msgOn(node, conn, &cmsws.Message{Type: cmsws.TypeRosterUpdate, RosterUpdates: updates}, &s)
}

// place records a placement and tells the collector the whole plan, with
// the budget the planner would report (calls counts on connection 0).
func (h *harness) place(key, node string, conn int) {
	if h.plan == nil {
		h.plan = map[string]planner.Connection{}
	}
	h.plan[key] = planner.Connection{Node: node, Number: conn}
	h.setPlan(nil, nil)
}

func (h *harness) setPlan(skipped, excluded []string) {
	used := map[planner.Connection]int{}
	for _, s := range h.plan {
		used[s]++
	}
	for n := range h.sessions {
		if !strings.Contains(n, "#") {
			used[planner.Connection{Node: n}]++
		}
	}
	setTestPlan(h.c, h.plan, skipped, excluded, used, nil)
}

// Roster update builders. padd is a complete add as CMS sends one: every
// subscribed element, a connected dial-in with nothing muted.

type popt func(*cmsws.RosterUpdate)

func padd(id string, opts ...popt) cmsws.RosterUpdate {
	u := cmsws.RosterUpdate{
		Participant: id, UpdateType: cmsws.UpdateAdd,
		Name: cmsws.Set("Participant " + id), URI: cmsws.Set(id + "@example.org"),
		State: cmsws.Set("connected"), Direction: cmsws.Set("incoming"),
		AudioMuted: cmsws.Set(false), VideoMuted: cmsws.Set(false),
		TxAudioMuted: cmsws.Set(false), TxVideoMuted: cmsws.Set(false),
		Importance: cmsws.NullField[float64](), Layout: cmsws.Set("allEqual"),
		ActiveSpeaker: cmsws.Set(false), Presenter: cmsws.Set(false),
		EndpointRecording: cmsws.Set("inactive"), CanMove: cmsws.Set(true),
	}
	for _, o := range opts {
		o(&u)
	}
	return u
}

func pupd(id string, opts ...popt) cmsws.RosterUpdate {
	u := cmsws.RosterUpdate{Participant: id, UpdateType: cmsws.UpdateUpdate}
	for _, o := range opts {
		o(&u)
	}
	return u
}

// prm is a remove; without a reason option it carries none, as CMS sends
// for participants hosted on another node.
func prm(id string, opts ...popt) cmsws.RosterUpdate {
	u := cmsws.RosterUpdate{Participant: id, UpdateType: cmsws.UpdateRemove}
	for _, o := range opts {
		o(&u)
	}
	return u
}

func reason(v string) popt     { return func(u *cmsws.RosterUpdate) { u.Reason = cmsws.Set(v) } }
func pstate(v string) popt     { return func(u *cmsws.RosterUpdate) { u.State = cmsws.Set(v) } }
func audioMuted(v bool) popt   { return func(u *cmsws.RosterUpdate) { u.AudioMuted = cmsws.Set(v) } }
func videoMuted(v bool) popt   { return func(u *cmsws.RosterUpdate) { u.VideoMuted = cmsws.Set(v) } }
func txAudioMuted(v bool) popt { return func(u *cmsws.RosterUpdate) { u.TxAudioMuted = cmsws.Set(v) } }
func txVideoMuted(v bool) popt { return func(u *cmsws.RosterUpdate) { u.TxVideoMuted = cmsws.Set(v) } }
func presenter(v bool) popt    { return func(u *cmsws.RosterUpdate) { u.Presenter = cmsws.Set(v) } }
func activeSpeaker(v bool) popt {
	return func(u *cmsws.RosterUpdate) { u.ActiveSpeaker = cmsws.Set(v) }
}
func epRecording(v string) popt {
	return func(u *cmsws.RosterUpdate) { u.EndpointRecording = cmsws.Set(v) }
}
func movedFrom(v string) popt {
	return func(u *cmsws.RosterUpdate) { u.MovedParticipant = cmsws.Set(v) }
}
func pfield(f func(*cmsws.RosterUpdate)) popt { return f }

// rosterRow is the expected roster of one meeting on its placed instance.
type rosterRow struct {
	node, call string
	// initial, ringing, connected, onHold, other
	states                                         [numStates]int
	audio, video, txAudio, txVideo, pres, spk, rec int
}

var rosterFamilies = []string{"cms_call_roster_participants", "cms_call_participants_audio_muted",
	"cms_call_participants_video_muted", "cms_call_participants_tx_audio_muted",
	"cms_call_participants_tx_video_muted", "cms_call_participants_presenting",
	"cms_call_participants_active_speakers", "cms_call_participants_endpoint_recording"}

func rosterText(rows ...rosterRow) string {
	var b strings.Builder
	for i, f := range rosterFamilies {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", f)
		for _, r := range rows {
			l := fmt.Sprintf(`node=%q,call=%q`, r.node, r.call)
			if i == 0 {
				for j, st := range []string{"initial", "ringing", "connected", "onHold", "other"} {
					fmt.Fprintf(&b, "%s{%s,state=%q} %d\n", f, l, st, r.states[j])
				}
				continue
			}
			v := []int{r.audio, r.video, r.txAudio, r.txVideo, r.pres, r.spk, r.rec}[i-1]
			fmt.Fprintf(&b, "%s{%s} %d\n", f, l, v)
		}
	}
	return b.String()
}

var participantTotalNames = []string{"cms_participants_joined_total", "cms_participants_left_total", "cms_participants_moved_total"}

// participantTotalsText renders the participant counters; left maps reason to
// count, every other reason is 0.
func participantTotalsText(joined, moved int, left map[string]int) string {
	s := fmt.Sprintf("# TYPE cms_participants_joined_total counter\ncms_participants_joined_total %d\n"+
		"# TYPE cms_participants_moved_total counter\ncms_participants_moved_total %d\n"+
		"# TYPE cms_participants_left_total counter\n", joined, moved)
	for _, r := range []string{"timeout", "noAnswer", "notFound", "remoteTeardown", "callEnded", "unknownDestination", "other", "none"} {
		s += fmt.Sprintf("cms_participants_left_total{reason=%q} %d\n", r, left[r])
	}
	return s
}

var clusterRosterNames = []string{"cms_cluster_participants_audio_muted", "cms_cluster_participants_video_muted",
	"cms_cluster_participants_tx_audio_muted", "cms_cluster_participants_tx_video_muted",
	"cms_cluster_participants_presenting"}

func clusterRosterText(audio, video, txAudio, txVideo, pres int) string {
	var s string
	for i, v := range []int{audio, video, txAudio, txVideo, pres} {
		s += fmt.Sprintf("# TYPE %[1]s gauge\n%[1]s %[2]d\n", clusterRosterNames[i], v)
	}
	return s
}

var coverageNames = []string{"cms_roster_coverage_ratio", "cms_roster_meetings"}

func coverageText(ratio float64, covered, pending, skipped, excluded int) string {
	return fmt.Sprintf(`# TYPE cms_roster_coverage_ratio gauge
cms_roster_coverage_ratio %v
# TYPE cms_roster_meetings gauge
cms_roster_meetings{state="covered"} %d
cms_roster_meetings{state="pending"} %d
cms_roster_meetings{state="skipped"} %d
cms_roster_meetings{state="excluded"} %d
`, ratio, covered, pending, skipped, excluded)
}

// rosterHarness is node a synced with call c1 of meeting M, placed on a's
// connection 0, whose roster subscription (index 5) delivered a snapshot of p1
// and p2 (connected, nothing muted) and is live.
func rosterHarness(t testing.TB, o Options) (*harness, cmsws.Subscription) {
	h := newHarness(t, o)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M", participants(2)))
	h.place("M", "a", 0)
	sub := rosterSub(5, "c1")
	h.activate("a", 0, sub)
	h.roster("a", 0, sub, padd("p1"), padd("p2"))
	h.sync("a", 0)
	return h, sub
}

// baseRow is rosterHarness's roster.
var baseRow = rosterRow{node: "a", call: "c1", states: [numStates]int{0, 0, 2, 0, 0}}

// guid returns a well-formed participant GUID for test participant n.
func guid(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }
