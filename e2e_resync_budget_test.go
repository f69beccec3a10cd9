package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/planner"
)

// The shape of a node whose connection's budget is full: 500 calls, of
// which the rosters of the budget's 99 (one connection: 100 subscriptions,
// the calls list takes one) are watched. The watched meetings are the
// largest, far enough apart from the others that the planner's hysteresis
// never swaps them (an incumbent ranks as size*1.25+1: 20 ≫ 3.5).
const (
	resyncCalls    = 500
	resyncWatched  = planner.SubscriptionsPerConnection - 1
	resyncBigSize  = 20
	resyncTinySize = 2
)

// resyncNode is a one-node harness holding the 500x99 population, the
// correlators of its watched meetings, and the times the fake opened an
// events connection (the end of the client's backoff and token request).
type resyncNode struct {
	h       *harness
	watched []string

	mu    sync.Mutex
	opens []time.Time
}

// newResyncNode builds the population in the fake before the exporter
// starts, so the exporter's first sync is the whole node at once, and
// waits until the exporter shows it all.
func newResyncNode(b *testing.B) *resyncNode {
	b.Helper()
	r := &resyncNode{}
	opts := cmswstest.Options{NodeNames: []string{"cms1"}, Seed: 1100, Logf: func(format string, args ...any) {
		if strings.Contains(format, "events connection %d open") {
			r.mu.Lock()
			r.opens = append(r.opens, time.Now())
			r.mu.Unlock()
		}
	}}
	// The production batch interval: the roster re-subscription after a
	// reconnect waits for the planner's next batch.
	r.h = newHarnessBatch(b, 1, planner.DefaultInterval, opts, nil, func(c *cmswstest.Cluster) {
		for i := range resyncCalls {
			size := resyncTinySize
			if i < resyncWatched {
				size = resyncBigSize
			}
			corr, err := c.StartMeeting("cms1", cmswstest.MeetingOptions{Name: fmt.Sprintf("M%03d", i), Recording: i%7 == 0})
			if err != nil {
				b.Fatal(err)
			}
			if i < resyncWatched {
				r.watched = append(r.watched, corr)
			}
			for j := range size {
				if _, err := c.AddParticipant(corr, "cms1", cmswstest.ParticipantOptions{
					Name: fmt.Sprintf("p%d-%d", i, j), AudioMuted: j%3 == 0, VideoMuted: j%5 == 0, Presenter: j == 0,
				}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		callsDiff, rosterDiffs := r.diff()
		if len(callsDiff)+len(rosterDiffs) == 0 {
			return r
		}
		if time.Now().After(deadline) {
			b.Fatalf("the exporter never showed the node in full: %v %v", first(callsDiff, 10), first(rosterDiffs, 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// diff scrapes once and compares the call-level families (diffTruth) and
// the rosters of the watched meetings (rosterDiff, plus the coverage
// count) with the fake's truth.
func (r *resyncNode) diff() (calls, rosters []string) {
	got := r.h.scrape()
	tr := r.h.cluster.Truth()
	calls = diffTruth(got, truthMetrics(tr, r.h.cluster.Transitions(), []string{"cms1"}))
	rosters = rosterDiff(got, tr, r.watched)
	if c := got[key("cms_roster_meetings", "state", "covered")]; c != resyncWatched {
		rosters = append(rosters, fmt.Sprintf("covered %v, want %d", c, resyncWatched))
	}
	return calls, rosters
}

// openAfter is the first connection the fake opened after t.
func (r *resyncNode) openAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.opens {
		if o.After(t) {
			return o, true
		}
	}
	return time.Time{}, false
}

// changeWhileAway changes the node while the exporter cannot see it, so
// the resync has something to bring: mutes and a join and a leave in
// watched meetings (sizes kept), a small meeting ended and another started
// (a call id goes, another comes), a recording toggled.
func (r *resyncNode) changeWhileAway(b *testing.B, round int) {
	b.Helper()
	c := r.h.cluster
	tr := c.Truth()
	for k := range 10 {
		corr := r.watched[(round*10+k)%len(r.watched)]
		ids := participantIDs(tr.Meetings[corr])
		p := tr.Meetings[corr].Participants[ids[round%len(ids)]]
		mute := !p.AudioMuted
		if err := c.UpdateParticipant(p.ID, cmswstest.ParticipantChange{AudioMuted: &mute}); err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			if err := c.RemoveParticipant(ids[(round+1)%len(ids)], "remoteTeardown"); err != nil {
				b.Fatal(err)
			}
			if _, err := c.AddParticipant(corr, "cms1", cmswstest.ParticipantOptions{Name: fmt.Sprintf("back %d", round)}); err != nil {
				b.Fatal(err)
			}
			if err := c.SetRecording(corr, !tr.Meetings[corr].Recording); err != nil {
				b.Fatal(err)
			}
		}
	}
	for corr, mt := range tr.Meetings {
		if len(mt.Participants) == resyncTinySize {
			if err := c.EndMeeting(corr); err != nil {
				b.Fatal(err)
			}
			break
		}
	}
	corr, err := c.StartMeeting("cms1", cmswstest.MeetingOptions{Name: fmt.Sprintf("started away %d", round)})
	if err != nil {
		b.Fatal(err)
	}
	for j := range resyncTinySize {
		if _, err := c.AddParticipant(corr, "cms1", cmswstest.ParticipantOptions{Name: fmt.Sprintf("q%d", j)}); err != nil {
			b.Fatal(err)
		}
	}
}

func participantIDs(mt cmswstest.MeetingTruth) []string {
	ids := make([]string, 0, len(mt.Participants))
	for id := range mt.Participants {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// BenchmarkResync500x99 measures the resync target: a node with
// 500 calls and 99 watched rosters (20 participants each; 401 meetings of
// 2) is cut off (SetUnreachable: the exporter's connection drops and the
// node refuses it while it changes), then reachable again; the figure is
// the time until the exporter's /metrics equal the fake's truth in full,
// calls and rosters of the 99 meetings alike, polled scrape after scrape
// (the time is taken when the matching scrape's body has arrived, so it
// includes up to one scrape of delay).
//
// The client's backoff (fastClient's 100–500 ms here, 1 s–1 min by
// default) decides when it tries again, not the node, so two clocks are
// reported: ms-from-reachable (SetUnreachable(false) to full equality,
// backoff included) and ms-from-connect (the fake's accepting the events
// connection to full equality: what the exporter itself costs). Three
// stages, as the fake sees them, show where the time goes:
// ms-calls-acked-from-connect (the calls snapshot sent and acked),
// ms-rosters-active-from-connect (the 99 roster subscriptions active again:
// the planner places them at its next batch, planner.DefaultInterval, after
// the connection is usable) and ms-all-acked-from-connect (their snapshots
// acked). The fake is polled cheaply meanwhile, /metrics only after: a
// scrape and its comparison every few ms would take the CPU the exporter
// needs, and doubled the figure on a loaded machine.
func BenchmarkResync500x99(b *testing.B) {
	r := newResyncNode(b)
	var fromReachable, fromConnect, callsFromConnect, subscribedFromConnect, deliveredFromConnect []time.Duration
	round := 0
	for b.Loop() {
		round++
		if err := r.h.cluster.SetUnreachable("cms1", true); err != nil {
			b.Fatal(err)
		}
		r.h.eventually("cms1 down", func(m map[string]float64) bool { return m[key("cms_up", "node", "cms1")] == 0 })
		r.changeWhileAway(b, round)
		back := time.Now()
		if err := r.h.cluster.SetUnreachable("cms1", false); err != nil {
			b.Fatal(err)
		}
		// The fake's side, polled cheaply (a scrape and its comparison
		// would take the CPU the exporter needs): the calls snapshot
		// acked, the roster subscriptions placed again, everything acked.
		var callsAt, subscribedAt, deliveredAt time.Time
		deadline := back.Add(time.Minute)
		for deliveredAt.IsZero() {
			calls, subscribed, delivered := resyncProgress(r.h.cluster)
			at := time.Now()
			if calls && callsAt.IsZero() {
				callsAt = at
			}
			if subscribed && subscribedAt.IsZero() {
				subscribedAt = at
			}
			if delivered {
				deliveredAt = at
			}
			if at.After(deadline) {
				b.Fatalf("round %d: the fake never delivered the resync: %+v", round, r.h.cluster.Stats().Nodes["cms1"])
			}
			time.Sleep(time.Millisecond)
		}
		// The exporter's side: /metrics equal to the truth.
		for {
			callsDiff, rosters := r.diff()
			at := time.Now()
			if len(callsDiff)+len(rosters) == 0 {
				opened, ok := r.openAfter(back)
				if !ok {
					b.Fatal("equal to the truth without a new connection")
				}
				fromReachable = append(fromReachable, at.Sub(back))
				fromConnect = append(fromConnect, at.Sub(opened))
				callsFromConnect = append(callsFromConnect, callsAt.Sub(opened))
				subscribedFromConnect = append(subscribedFromConnect, subscribedAt.Sub(opened))
				deliveredFromConnect = append(deliveredFromConnect, deliveredAt.Sub(opened))
				break
			}
			if at.After(deadline) {
				b.Fatalf("round %d: no full resync within a minute: %v %v", round, first(callsDiff, 10), first(rosters, 10))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	b.ReportMetric(medianMs(fromReachable), "ms-from-reachable")
	b.ReportMetric(medianMs(fromConnect), "ms-from-connect")
	b.ReportMetric(maxMs(fromConnect), "ms-from-connect-max")
	b.ReportMetric(medianMs(callsFromConnect), "ms-calls-acked-from-connect")
	b.ReportMetric(medianMs(subscribedFromConnect), "ms-rosters-active-from-connect")
	b.ReportMetric(medianMs(deliveredFromConnect), "ms-all-acked-from-connect")
}

// resyncProgress is how far cms1's resync has come, as the fake sees its
// one connection: calls, its calls snapshot sent and acked (one active
// subscription, nothing queued); subscribed, the roster subscriptions
// placed again (the full budget active); delivered, that and everything
// sent acked.
func resyncProgress(c *cmswstest.Cluster) (calls, subscribed, delivered bool) {
	for _, cs := range c.Stats().Nodes["cms1"].Connections {
		drained := cs.Queued == 0 && cs.Sent == cs.Acked && cs.Sent > 0
		calls = cs.Active >= 1 && drained
		subscribed = cs.Subscriptions == planner.SubscriptionsPerConnection && cs.Active == cs.Subscriptions
		delivered = subscribed && drained
	}
	return calls, subscribed, delivered
}

// medianMs is the median of ds in milliseconds (0 for none).
func medianMs(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// maxMs is the largest of ds in milliseconds (0 for none).
func maxMs(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	return float64(slices.Max(ds)) / float64(time.Millisecond)
}
