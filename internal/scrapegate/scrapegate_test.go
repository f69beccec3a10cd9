package scrapegate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// renderer is a metrics handler that numbers its renders, tracks how many
// run at once, and can be held inside a render.
type renderer struct {
	renders, running, maxRunning atomic.Int64
	hold                         chan struct{} // nil: do not hold
	entered                      chan struct{}
}

func (h *renderer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.renders.Add(1)
	run := h.running.Add(1)
	for {
		m := h.maxRunning.Load()
		if run <= m || h.maxRunning.CompareAndSwap(m, run) {
			break
		}
	}
	defer h.running.Add(-1)
	if h.entered != nil {
		h.entered <- struct{}{}
	}
	if h.hold != nil {
		<-h.hold
	}
	if r.URL.Query().Get("panic") != "" {
		panic("boom")
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "render %d for %s", n, r.Header.Get("Accept-Encoding"))
}

func get(t *testing.T, url, enc string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Requests arriving while a render runs wait for the next one and share
// it: one render for the whole group, never a response rendered before the
// request arrived.
func TestWaitingRequestsShareTheNextRender(t *testing.T) {
	h := &renderer{hold: make(chan struct{}), entered: make(chan struct{}, 10)}
	srv := httptest.NewServer(New(h))
	defer srv.Close()

	first := make(chan string, 1)
	go func() { _, b := get(t, srv.URL, "x"); first <- b }()
	<-h.entered // render 1 is running

	const group = 10
	bodies := make(chan string, group)
	for range group {
		go func() { _, b := get(t, srv.URL, "x"); bodies <- b }()
	}
	// Let the group gather behind render 1. (If some arrive late they
	// form a third group: the assertions below would say so.)
	time.Sleep(200 * time.Millisecond)
	close(h.hold)
	if b := <-first; b != "render 1 for x" {
		t.Fatalf("first request got %q", b)
	}
	for range group {
		if b := <-bodies; b != "render 2 for x" {
			t.Fatalf("a request that arrived during render 1 got %q, want render 2", b)
		}
	}
	if n := h.renders.Load(); n != 2 {
		t.Fatalf("%d renders for 11 requests in two groups, want 2", n)
	}
}

// Requests that differ in what the response depends on (compression,
// format, query) never share one.
func TestVariantsDoNotShare(t *testing.T) {
	h := &renderer{hold: make(chan struct{}), entered: make(chan struct{}, 10)}
	srv := httptest.NewServer(New(h))
	defer srv.Close()
	go get(t, srv.URL, "blocker")
	<-h.entered
	var wg sync.WaitGroup
	got := map[string]string{}
	var mu sync.Mutex
	for _, enc := range []string{"gzip", "identity"} {
		wg.Go(func() {
			_, b := get(t, srv.URL, enc)
			mu.Lock()
			got[enc] = b
			mu.Unlock()
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(h.hold)
	wg.Wait()
	for _, enc := range []string{"gzip", "identity"} {
		if want := "for " + enc; len(got[enc]) < len(want) || got[enc][len(got[enc])-len(want):] != want {
			t.Errorf("Accept-Encoding %s got %q", enc, got[enc])
		}
	}
}

// However many scrapers loop, one render runs at a time.
func TestOneRenderAtATime(t *testing.T) {
	h := &renderer{}
	srv := httptest.NewServer(New(h))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			for range 20 {
				if code, _ := get(t, srv.URL, fmt.Sprint(i%3)); code != http.StatusOK {
					t.Errorf("status %d", code)
				}
			}
		})
	}
	wg.Wait()
	if m := h.maxRunning.Load(); m != 1 {
		t.Fatalf("%d renders ran at once, want 1", m)
	}
}

// A client that leaves does not spoil the render for the others, and a
// panicking handler answers 500 and leaves the gate open.
func TestLeaversAndPanics(t *testing.T) {
	h := &renderer{hold: make(chan struct{}), entered: make(chan struct{}, 10)}
	gate := New(h)
	srv := httptest.NewServer(gate)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	left := make(chan struct{})
	go func() { gate.ServeHTTP(httptest.NewRecorder(), req); close(left) }()
	<-h.entered
	cancel()
	<-left // the leaver returns at once, the render goes on
	stayed := make(chan string, 1)
	go func() { _, b := get(t, srv.URL, ""); stayed <- b }()
	close(h.hold)
	<-h.entered
	if b := <-stayed; b != "render 2 for gzip" { // the transport asks for gzip
		t.Fatalf("got %q", b)
	}

	h.hold = nil
	if code, _ := get(t, srv.URL+"/?panic=1", ""); code != http.StatusInternalServerError {
		t.Fatalf("panicking handler: status %d, want 500", code)
	}
	if code, _ := get(t, srv.URL, ""); code != http.StatusOK {
		t.Fatalf("after a panic: status %d", code)
	}
}
