package collector

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// sameRender reports whether two scrapes returned the very same render
// (not merely equal series).
func sameRender(a, b []prometheus.Metric) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// TestScrapeReusesRenderWhileUnchanged: a scrape reuses the last render
// while the model has not changed (readers such as PlanInput and a Tick
// whose rules do not fire change nothing), and renders afresh after any
// change, a Tick that settles a lock included.
func TestScrapeReusesRenderWhileUnchanged(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"))
	h.calls("a", add("c2", "m2", lock("locked")))

	first := h.c.scrape()
	if again := h.c.scrape(); !sameRender(first, again) {
		t.Fatal("an unchanged model was rendered again")
	}
	h.c.PlanInput()
	h.advance(DefaultLockSettle / 2)
	if again := h.c.scrape(); !sameRender(first, again) {
		t.Fatal("PlanInput or a Tick that changed nothing made the render stale")
	}
	h.expect("# TYPE cms_cluster_meetings_locked gauge\ncms_cluster_meetings_locked 0\n", "cms_cluster_meetings_locked")

	h.advance(DefaultLockSettle)
	if again := h.c.scrape(); sameRender(first, again) {
		t.Fatal("a Tick that settled a lock reused the render from before")
	}
	h.expect("# TYPE cms_cluster_meetings_locked gauge\ncms_cluster_meetings_locked 1\n", "cms_cluster_meetings_locked")

	before := h.c.scrape()
	h.calls("a", upd("c1", participants(7)))
	if again := h.c.scrape(); sameRender(before, again) {
		t.Fatal("an event reused the render from before")
	}
	if got := h.value("cms_call_participants", "call", "c1"); got != 7 {
		t.Fatalf("cms_call_participants = %v, want 7", got)
	}
}

// TestConcurrentScrapesShareOneRender: scrapes that arrive while a render
// waits to copy the model wait for it and all get its result.
func TestConcurrentScrapesShareOneRender(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "m1"), add("c2", "m2"))

	const scrapers = 8
	results := make([][]prometheus.Metric, scrapers)
	var wg sync.WaitGroup
	// Hold the model so that the first scrape cannot copy it.
	h.c.mu.Lock()
	wg.Go(func() { results[0] = h.c.scrape() })
	var f *flight
	for f == nil {
		runtime.Gosched()
		h.c.scrapes.mu.Lock()
		f = h.c.scrapes.next
		h.c.scrapes.mu.Unlock()
	}
	for i := 1; i < scrapers; i++ {
		wg.Go(func() { results[i] = h.c.scrape() })
	}
	for joined := 0; joined < scrapers-1; {
		runtime.Gosched()
		h.c.scrapes.mu.Lock()
		joined = f.joined
		h.c.scrapes.mu.Unlock()
	}
	h.c.mu.Unlock()
	wg.Wait()
	for i, ms := range results {
		if !sameRender(results[0], ms) {
			t.Fatalf("scrape %d got a render of its own", i)
		}
	}
	h.expect("# TYPE cms_call_participants gauge\ncms_call_participants{node=\"a\",call=\"c1\"} 1\ncms_call_participants{node=\"a\",call=\"c2\"} 1\n",
		"cms_call_participants")
}

// TestKeepIgnoresSeriesOfWhatChangedDuringTheBuild: a call or a roster that
// changed after the snapshot was copied must not get the series built from
// the copy as its cache: the next scrape would show the old values until
// the next change.
func TestKeepIgnoresSeriesOfWhatChangedDuringTheBuild(t *testing.T) {
	h, sub := rosterHarness(t, perCall)
	h.calls("a", upd("c1", participants(4))) // the call's cache is cold

	h.c.mu.lockUnchanged()
	snap := h.c.snapshot(nil)
	h.c.mu.Unlock()
	if len(snap.calls) != 1 || len(snap.rosters) != 1 {
		t.Fatalf("the snapshot builds %d calls and %d rosters, want 1 and 1 (cold caches)", len(snap.calls), len(snap.rosters))
	}
	h.calls("a", upd("c1", participants(3)))
	h.roster("a", 0, sub, padd("p3"))
	h.c.build(snap)
	h.c.keep(snap)

	if got := h.value("cms_call_participants", "call", "c1"); got != 3 {
		t.Errorf("cms_call_participants = %v, want 3", got)
	}
	if got := h.value("cms_call_roster_participants", "call", "c1", "state", "connected"); got != 3 {
		t.Errorf("cms_call_roster_participants{state=connected} = %v, want 3", got)
	}
}

// exposition is the text exposition of c.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	mfs, err := gatherAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestScrapesDuringEventsRenderWhatAColdModelDoes drives two models with
// the same events, one of them scraped by 4 goroutines all along (caches
// filled and kept concurrently with the changes), and compares their final
// expositions: whatever the interleaving, the caches must not leave a
// stale series behind. Run with -race, it also checks that nothing the
// render reads outside the lock is written by Handle.
func TestScrapesDuringEventsRenderWhatAColdModelDoes(t *testing.T) {
	feed := func(h *harness) {
		h.c.AddNode("a")
		h.c.AddNode("b")
		var calls []cmsws.CallUpdate
		for i := range 30 {
			calls = append(calls, add(fmt.Sprintf("c%d", i), fmt.Sprintf("m%d", i%10)))
		}
		h.synced("a", calls[:15]...)
		h.synced("b", calls[15:]...)
		h.place("m0", "a", 0)
		sub := rosterSub(5, "c0")
		h.activate("a", 0, sub)
		h.roster("a", 0, sub, padd("p1"), padd("p2"))
		h.sync("a", 0)
		for i := range 400 {
			switch i % 4 {
			case 0, 1:
				h.calls("a", upd(fmt.Sprintf("c%d", i%15), participants(i%9), recording([]string{"active", "inactive"}[i%2])))
			case 2:
				h.calls("b", upd(fmt.Sprintf("c%d", 15+i%15), participants(i%7)))
			case 3:
				h.roster("a", 0, sub, pupd([]string{"p1", "p2"}[i%2], audioMuted(i%3 == 0), activeSpeaker(i%5 == 0)))
			}
		}
	}

	cold := newHarness(t, perCall)
	feed(cold)

	hot := newHarness(t, perCall)
	reg := prometheus.NewRegistry()
	reg.MustRegister(hot.c)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	feed(hot)
	close(stop)
	wg.Wait()

	if got, want := exposition(t, hot.c), exposition(t, cold.c); got != want {
		t.Errorf("scraped all along, the model renders\n%s\nwant (never scraped before)\n%s", got, want)
	}
}
