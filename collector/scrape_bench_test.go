package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/internal/scrapegate"
	"github.com/cms-exporter/cms_exporter/planner"
)

// Shape of the model of BenchmarkEventsUnderScrapes: rosteredMeetings of
// its meetings have a live roster of rosterSize participants (300
// participants overall, at both sizes).
const (
	rosteredMeetings = 60
	rosterSize       = 5
)

// contentionModel builds calls calls on 3 nodes in meetings of 3 instances
// (as benchCollector does), rosters on the first rosteredMeetings meetings
// (placed on node a, connection 0), and returns the realistic event mix the
// event goroutine replays: live callListUpdates changing a call's
// participants, alternating with live rosterUpdates toggling a
// participant's activeSpeaker (the commonest roster update of the capture).
func contentionModel(b *testing.B, calls int) (*harness, []cmsws.Event) {
	b.Helper()
	h := benchCollector(b, calls)
	h.plan = map[string]planner.Connection{}
	for m := range rosteredMeetings {
		h.plan[fmt.Sprintf("meeting-%d", m)] = planner.Connection{Node: "a"}
	}
	h.setPlan(nil, nil)
	subs := make([]cmsws.Subscription, rosteredMeetings)
	for m := range subs {
		subs[m] = rosterSub(100+m, fmt.Sprintf("call-%d", 3*m))
		h.activate("a", 0, subs[m])
		ups := make([]cmsws.RosterUpdate, rosterSize)
		for j := range ups {
			ups[j] = padd(fmt.Sprintf("%s-%d", guid(m), j), audioMuted(j%3 == 0))
		}
		h.roster("a", 0, subs[m], ups...)
	}
	h.sync("a", 0)
	meetings := (calls + 2) / 3
	if got := h.value("cms_roster_coverage_ratio"); got != float64(rosteredMeetings)/float64(meetings) {
		b.Fatalf("coverage %v, want %d of %d meetings", got, rosteredMeetings, meetings)
	}

	nodes := []string{"a", "b", "c"}
	callsSub := subCalls
	evs := make([]cmsws.Event, 4096)
	for i := range evs {
		if i%2 == 0 {
			call := (i * 7) % calls
			idx := callsSub.Index
			evs[i] = cmsws.Event{Kind: cmsws.EventMessage, Node: nodes[call%3], Session: 1, Subscription: &callsSub,
				Message: &cmsws.Message{Type: cmsws.TypeCallListUpdate, SubscriptionIndex: &idx,
					CallUpdates: []cmsws.CallUpdate{upd(fmt.Sprintf("call-%d", call), participants(i%40))}}}
			continue
		}
		m := (i * 7) % rosteredMeetings
		sub := subs[m]
		idx := sub.Index
		u := pupd(fmt.Sprintf("%s-%d", guid(m), i%rosterSize), activeSpeaker(i%4 == 1))
		evs[i] = cmsws.Event{Kind: cmsws.EventMessage, Node: "a", Session: 1, Subscription: &sub,
			Message: &cmsws.Message{Type: cmsws.TypeRosterUpdate, SubscriptionIndex: &idx, RosterUpdates: []cmsws.RosterUpdate{u}}}
	}
	return h, evs
}

// heapPeak samples the bytes of heap objects (live and not yet collected,
// runtime/metrics, no stop-the-world) until stop is closed, and returns the
// highest value seen.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkEventsUnderScrapes measures what concurrent scrapes cost the
// event path: the goroutine feeding Handle (as a cmsws client does) replays
// the realistic event mix of contentionModel while 0 or 20 scrapers loop a
// real prometheus.Registry Gather of the Collector, at 500 and 10,000
// calls.
//
// The machine running it may have few cores (GOMAXPROCS 2 on the
// reference machine), and then 20 busy scrapers take CPU from the event
// goroutine whatever the locking does: its wall time per event (ns/op, and
// ratio, the ns/op over that of the same size without scrapers, measured
// in the same run) mixes CPU starvation with lock contention. What the
// design controls is the lock: before every event the event goroutine
// takes and releases the model's lock and times the wait (blocked-ns/op,
// blocked-max-us): that is the time a Handle would have waited behind a
// scrape holding the model. The probe costs two clock reads per event at
// every size, scrapers or not.
//
// The scrapers gather in two ways. "ungated": each loops its own registry
// Gather, all at once (every scrape converts every metric to protobuf: 20
// copies of the exposition, and 20 goroutines taking turns on the CPU with
// the event goroutine): the Collector alone, what a careless embedding
// would do. "http": as http.go serves /metrics, the promhttp handler
// behind internal/scrapegate, which lets one render run at a time and
// hands it to every request that waited for it; this is the deployed path
// and the one the target (event throughput within 10 % of no scrapes)
// is about.
//
// peak-heap-MB is the highest heap (objects, garbage included) sampled
// every 2ms during the run: with 20 scrapers it shows whether each holds a
// copy of the render. scrapes/s is the scrapers' combined rate.
func BenchmarkEventsUnderScrapes(b *testing.B) {
	baseline := map[int]float64{}
	for _, calls := range []int{500, 10000} {
		for _, mode := range []struct {
			name     string
			scrapers int
			http     bool
		}{{"scrapers=0", 0, false}, {"scrapers=20_ungated", 20, false}, {"scrapers=20_http", 20, true}} {
			b.Run(fmt.Sprintf("calls=%d/%s", calls, mode.name), func(b *testing.B) {
				h, evs := contentionModel(b, calls)
				reg := prometheus.NewRegistry()
				reg.MustRegister(h.c)
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
				scrape := func() {
					if _, err := reg.Gather(); err != nil {
						b.Error(err)
					}
				}
				if mode.http {
					// As http.go serves /metrics: the text exposition,
					// behind the gate (one render at a time, shared by
					// the requests that waited for it).
					handler := scrapegate.New(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
					scrape = func() {
						w := discardResponse{header: http.Header{}}
						handler.ServeHTTP(&w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
						if w.status != 0 && w.status != http.StatusOK {
							b.Errorf("status %d", w.status)
						}
					}
				}

				stop := make(chan struct{})
				peak := heapPeak(stop)
				var (
					wg      sync.WaitGroup
					scrapes atomic.Int64
					started sync.WaitGroup
				)
				started.Add(mode.scrapers)
				for range mode.scrapers {
					wg.Go(func() {
						first := true
						for {
							scrape()
							scrapes.Add(1)
							if first {
								started.Done()
								first = false
							}
							select {
							case <-stop:
								return
							default:
							}
						}
					})
				}
				started.Wait()

				var blocked, worst time.Duration
				i := 0
				start := time.Now()
				for b.Loop() {
					t0 := time.Now()
					h.c.mu.Lock()
					w := time.Since(t0)
					h.c.mu.Unlock()
					blocked += w
					worst = max(worst, w)
					h.c.Handle(evs[i%len(evs)])
					i++
				}
				elapsed := time.Since(start)
				close(stop)
				wg.Wait()
				peakBytes := <-peak

				nsop := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if mode.scrapers == 0 {
					baseline[calls] = nsop
				} else if base := baseline[calls]; base > 0 {
					b.ReportMetric(nsop/base, "ratio")
				}
				b.ReportMetric(float64(blocked.Nanoseconds())/float64(b.N), "blocked-ns/op")
				b.ReportMetric(float64(worst.Microseconds()), "blocked-max-us")
				b.ReportMetric(float64(peakBytes)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(scrapes.Load())/elapsed.Seconds(), "scrapes/s")
				if got := h.errors("a", "unknown_participant") + h.errors("a", "unknown_call"); got != 0 {
					b.Fatalf("%v unknown calls or participants: the benchmark missed its targets", got)
				}
			})
		}
	}
}

// discardResponse is an http.ResponseWriter that keeps the status and
// throws the body away.
type discardResponse struct {
	header http.Header
	status int
}

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardResponse) WriteHeader(status int)      { w.status = status }

// BenchmarkScrapeLockHold measures how long a scrape holds the model lock
// (time, and what it allocates meanwhile), in a model of 10,000 calls in
// meetings of 3 with 60 rosters, when 256 events of contentionModel's mix
// (about 128 calls and 128 roster changes) came since the last scrape.
// Only the lock holds are timed: the copy (snapshot) and the storing of
// the series built without the lock (keep); the events and the build are
// not. Run with a fixed count (-benchtime=200x): most of each iteration is
// untimed.
func BenchmarkScrapeLockHold(b *testing.B) {
	h, evs := contentionModel(b, 10000)
	buf := make([][]prometheus.Metric, 0, 20000)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 256 {
			h.c.Handle(evs[i%len(evs)])
			i++
		}
		b.StartTimer()
		h.c.mu.lockUnchanged()
		s := h.c.snapshot(buf)
		h.c.mu.Unlock()
		b.StopTimer()
		h.c.build(s)
		b.StartTimer()
		h.c.keep(s)
	}
}
