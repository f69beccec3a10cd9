package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cms-exporter/cms_exporter/internal/streambench"
)

// The parent and the server child talk in JSON lines: commands on the
// child's stdin, events on its stdout.

// command is a line from the parent.
type command struct {
	Cmd    string             `json:"cmd"` // "arm" or "start"
	Params streambench.Params `json:"params"`
	Mode   streambench.Mode   `json:"mode"`
	Quiet  time.Duration      `json:"quiet"`
}

// event is a line from the child.
type event struct {
	Event string `json:"event"` // listening, armed, ready, done, error
	URL   string `json:"url,omitempty"`
	CA    []byte `json:"ca,omitempty"`
	Err   string `json:"err,omitempty"`
	// done
	Start   time.Time `json:"start"`
	LastAck time.Time `json:"last_ack"`
	Sent    int       `json:"sent,omitempty"`
	Extra   int       `json:"extra,omitempty"`
	// Watched: the calls whose roster the client held at the end.
	Watched []string `json:"watched,omitempty"`
	// ServerCPU is the CPU time the server process used from the start
	// of the stream to its last ack: near the wall time, the server was
	// the limit, not the client.
	ServerCPU time.Duration `json:"server_cpu,omitempty"`
}

// serve is the child: the stream server, driven by the parent. It runs in
// its own process so that the parent's CPU time is the client's alone.
func serve(in io.Reader, out io.Writer, user, pass string) error {
	srv, err := streambench.NewServer(user, pass)
	if err != nil {
		return err
	}
	defer srv.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	emit := func(e event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
	emit(event{Event: "listening", URL: srv.URL(), CA: srv.CAPEM()})
	streams := newStreamCache()
	var run *streambench.Run
	var startCPU chan time.Duration
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("serve: command: %w", err)
		}
		switch c.Cmd {
		case "arm":
			s, err := streams.get(c.Params)
			if err == nil {
				run, err = srv.Arm(s, c.Mode, c.Quiet)
			}
			if err != nil {
				emit(event{Event: "error", Err: err.Error()})
				continue
			}
			emit(event{Event: "armed"})
			startCPU = make(chan time.Duration, 1)
			go report(run, startCPU, emit)
		case "start":
			if run == nil {
				return fmt.Errorf("serve: start without a run")
			}
			startCPU <- cpuTime()
			run.Start()
			run = nil
		default:
			return fmt.Errorf("serve: unknown command %q", c.Cmd)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("serve: read commands: %w", err)
	}
	return nil // the parent closed stdin: it is done
}

// report tells the parent when the run is ready and how it ended.
func report(run *streambench.Run, startCPU <-chan time.Duration, emit func(event)) {
	select {
	case <-run.Ready():
		emit(event{Event: "ready"})
	case res := <-run.Done():
		emit(event{Event: "error", Err: res.Err.Error()})
		return
	}
	res := <-run.Done()
	if res.Err != nil {
		emit(event{Event: "error", Err: res.Err.Error()})
		return
	}
	e := event{Event: "done", Start: res.Start, LastAck: res.LastAck, Sent: res.Sent, Extra: res.Extra,
		ServerCPU: cpuTime() - <-startCPU}
	for _, h := range res.Held {
		if h.Call != "" {
			e.Watched = append(e.Watched, h.Call)
		}
	}
	emit(e)
}

// streamCache generates each stream once per process.
type streamCache struct {
	mu sync.Mutex
	m  map[streambench.Params]*streambench.Stream
}

func newStreamCache() *streamCache {
	return &streamCache{m: map[streambench.Params]*streambench.Stream{}}
}

func (c *streamCache) get(p streambench.Params) (*streambench.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[p]; s != nil {
		return s, nil
	}
	s, err := streambench.Generate(p)
	if err != nil {
		return nil, err
	}
	c.m[p] = s
	return s, nil
}
