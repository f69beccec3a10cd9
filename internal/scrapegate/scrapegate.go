// Package scrapegate serves /metrics one render at a time and hands one
// render's response to every request that waited for it.
//
// Why: a scrape is CPU work proportional to the model (at 10,000 calls,
// milliseconds of rendering and text encoding), and Go's scheduler shares
// the CPU fairly between runnable goroutines. Twenty scrapes rendering at
// once on a two-core VM leave the goroutines that read and ack the CMS
// event streams a twentieth of the machine; CMS waits for each ack, so
// the streams slow down with them. Behind the gate at most one scrape
// renders, whatever the number of scrapers, and requests that arrive while
// it is waiting to start share its response (same bytes, one copy in
// memory). Between two renders the gate rests twice as long as the last
// render took (10 ms at least), so scrapes use at most a third of one CPU
// and the event path keeps the rest of the machine.
//
// A request never gets a response rendered before it arrived: a request
// arriving while a render is in progress joins the next group, which
// renders when the current one is done. So a scrape sees data at most one
// render older than it would alone, never older than its own arrival.
package scrapegate

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"
)

// minRest is the shortest pause between two renders: at most 100 renders
// a second, far above what any set of Prometheus servers asks for (20
// servers scraping every second is 20 a second), and a small model's
// quick renders cannot add up to a busy CPU.
const minRest = 10 * time.Millisecond

// Gate is an http.Handler wrapping the metrics handler. The zero value is
// not usable; use New.
type Gate struct {
	next http.Handler
	// turn is held by the group rendering: one render at a time.
	turn chan struct{}

	mu sync.Mutex
	// waiting are the groups that have not started rendering, by the
	// request's variant (see variant): requests of one group get the
	// same response.
	waiting map[string]*group
}

// group is the requests sharing one render.
type group struct {
	done chan struct{} // closed when resp is set
	resp *response
}

// New wraps next, the handler that renders the metrics.
func New(next http.Handler) *Gate {
	return &Gate{next: next, turn: make(chan struct{}, 1), waiting: make(map[string]*group)}
}

// variant is what makes two requests' responses differ: the method, the
// path and query (collect[] and similar filters), and the negotiated
// format and compression.
func variant(r *http.Request) string {
	return r.Method + " " + r.URL.RequestURI() + "\x00" + r.Header.Get("Accept") + "\x00" + r.Header.Get("Accept-Encoding")
}

// ServeHTTP joins the waiting group of r's variant, or starts one and
// renders for it when its turn comes.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := variant(r)
	g.mu.Lock()
	gr, joined := g.waiting[key]
	if !joined {
		gr = &group{done: make(chan struct{})}
		g.waiting[key] = gr
	}
	g.mu.Unlock()

	if !joined {
		// The leader renders even if its own client goes away: the
		// others in the group wait for it. A render is bounded by the
		// handler's own timeouts.
		go g.render(key, gr, r.Clone(context.WithoutCancel(r.Context())))
	}
	select {
	case <-gr.done:
		gr.resp.writeTo(w)
	case <-r.Context().Done():
		// The client left; the render goes on for the others.
	}
}

// render waits for the turn, closes the group to newcomers, renders once
// and releases the group.
func (g *Gate) render(key string, gr *group, r *http.Request) {
	g.turn <- struct{}{}
	g.mu.Lock()
	delete(g.waiting, key) // later arrivals form the next group
	g.mu.Unlock()
	rec := &response{header: make(http.Header)}
	start := time.Now()
	func() {
		defer func() {
			// A panicking handler must not leave the group waiting
			// forever, nor the gate closed.
			if p := recover(); p != nil {
				rec.reset(http.StatusInternalServerError, "metrics handler panicked")
			}
		}()
		g.next.ServeHTTP(rec, r)
	}()
	gr.resp = rec
	close(gr.done)
	// Rest twice as long as the render took, and at least minRest,
	// before the next one may start: scrapes then use at most a third of
	// one CPU, however many scrapers loop. The next group waits at most
	// that long more; its data is still rendered after it arrived.
	time.Sleep(max(2*time.Since(start), minRest))
	<-g.turn
}

// response is a recorded response, written to every request of a group.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *response) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

func (r *response) reset(status int, msg string) {
	r.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	r.status = status
	r.body.Reset()
	r.body.WriteString(msg + "\n")
}

// writeTo copies the recorded response to w. The body is shared, read
// only.
func (r *response) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(r.body.Bytes())
}
