package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/internal/streambench"
)

// Clients.
const (
	clientBare     = "bare"
	clientExporter = "exporter"
)

// Bounds of the waits of one run: they only catch a run that is stuck.
const (
	readyTimeout  = time.Minute
	streamTimeout = 30 * time.Minute
	catchUpLimit  = time.Minute
)

type bench struct {
	o       *options
	child   *child
	logger  log.Logger
	streams *streamCache
	out     io.Writer
}

// sample is one run's figures.
type sample struct {
	rate    float64 // stream messages per second
	cpuPerM float64 // CPU seconds of this process per million messages
	extra   int     // messages the server sent during the stream besides it
	// serverBusy is the server's CPU time over the stream's wall time:
	// near 1, the server was the limit.
	serverBusy float64
	tail       time.Duration
}

// row is one (stream, mode) pair's result.
type row struct {
	stream         string
	mode           streambench.Mode
	messages       int
	bare, exporter []sample
	ratios         []float64
	ratio          float64
	truthOK        bool
}

// measure alternates the clients rounds times on one stream and mode,
// swapping their order every round, and prints each round as it ends.
func (b *bench) measure(stream string, mode streambench.Mode) (row, error) {
	p := b.o.params(stream, mode)
	r := row{stream: stream, mode: mode, messages: p.Messages, truthOK: true}
	fmt.Fprintf(b.out, "\n%s stream, %s, %d messages per run (%d calls", stream, mode, p.Messages, p.Calls)
	if stream == streambench.StreamRoster {
		fmt.Fprintf(b.out, " × %d participants, every roster watched", p.Participants)
	} else {
		fmt.Fprint(b.out, ", calls subscription only")
	}
	fmt.Fprintln(b.out, ")")
	for round := range b.o.rounds {
		order := []string{clientBare, clientExporter}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		got := map[string]sample{}
		for _, client := range order {
			s, diff, err := b.runOnce(p, mode, client)
			if err != nil {
				return r, fmt.Errorf("round %d, %s: %w", round+1, client, err)
			}
			if len(diff) > 0 {
				r.truthOK = false
				fmt.Fprintf(b.out, "  round %d: TRUTH CHECK FAILED: %d differences, the first ones:\n", round+1, len(diff))
				fmt.Fprint(b.out, indent(joinFirst(diff, 20), "    "))
			}
			got[client] = s
		}
		r.bare = append(r.bare, got[clientBare])
		r.exporter = append(r.exporter, got[clientExporter])
		ratio := got[clientExporter].rate / got[clientBare].rate
		r.ratios = append(r.ratios, ratio)
		bs, xs := got[clientBare], got[clientExporter]
		fmt.Fprintf(b.out, "  round %d (%s first): bare %7.0f msg/s %6.2f CPU s/1M (server busy %3.0f %%)   exporter %7.0f msg/s %6.2f CPU s/1M (server busy %3.0f %%, tail %s, %d extra)   ratio %5.1f %%\n",
			round+1, order[0], bs.rate, bs.cpuPerM, 100*bs.serverBusy,
			xs.rate, xs.cpuPerM, 100*xs.serverBusy, xs.tail.Round(time.Microsecond), xs.extra, 100*ratio)
	}
	r.ratio = median(r.ratios)
	return r, nil
}

// runOnce is one run of one client: arm the server, connect the client,
// wait for its setup, then time the stream. For the exporter, the end is
// when its model has applied the last message, if that is after the last
// ack; then its metrics are compared with the truth (diff).
func (b *bench) runOnce(p streambench.Params, mode streambench.Mode, client string) (s sample, diff []string, err error) {
	stream, err := b.streams.get(p)
	if err != nil {
		return s, nil, err
	}
	runtime.GC()
	if err := b.child.send(command{Cmd: "arm", Params: p, Mode: mode}); err != nil {
		return s, nil, err
	}
	if _, err := b.child.expect("armed", readyTimeout); err != nil {
		return s, nil, err
	}
	tlsConf, err := streambench.ClientTLS(b.child.ca)
	if err != nil {
		return s, nil, err
	}
	var x *exporterPath
	var bare *streambench.BareClient
	switch client {
	case clientExporter:
		x, err = startExporter(b.logger, b.child.url, benchUser, benchPass, tlsConf, p.Kind == streambench.StreamRoster)
		if err != nil {
			return s, nil, err
		}
		defer x.stop()
	default:
		bare = &streambench.BareClient{URL: b.child.url, User: benchUser, Pass: benchPass, TLS: tlsConf, Watched: stream.Watched()}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- bare.Run(ctx) }()
		defer func() {
			cancel()
			if berr := <-errc; berr != nil && err == nil {
				err = fmt.Errorf("bare client: %w", berr)
			}
		}()
	}
	if _, err := b.child.expect("ready", readyTimeout); err != nil {
		return s, nil, err
	}
	cpu0 := cpuTime()
	if err := b.child.send(command{Cmd: "start"}); err != nil {
		return s, nil, err
	}
	done, err := b.child.expect("done", streamTimeout)
	if err != nil {
		return s, nil, err
	}
	end := done.LastAck
	if x != nil {
		applied, err := x.caughtUp(done.Sent, catchUpLimit)
		if err != nil {
			return s, nil, err
		}
		if applied.After(end) {
			s.tail = applied.Sub(end)
			end = applied
		}
	}
	cpu := cpuTime() - cpu0
	secs := end.Sub(done.Start).Seconds()
	s.rate = float64(p.Messages) / secs
	s.cpuPerM = cpu.Seconds() / float64(p.Messages) * 1e6
	s.extra = done.Extra
	s.serverBusy = done.ServerCPU.Seconds() / done.LastAck.Sub(done.Start).Seconds()
	if bare != nil {
		if n := bare.Messages.Load(); n != int64(done.Sent) {
			return s, nil, fmt.Errorf("bare client decoded %d messages, the server sent %d", n, done.Sent)
		}
		return s, nil, nil
	}
	mfs, err := x.reg.Gather()
	if err != nil {
		return s, nil, fmt.Errorf("gather: %w", err)
	}
	diff = streambench.Diff(streambench.Samples(mfs), streambench.Truth(stream.Final, nodeName, done.Watched))
	// The registry's own count must agree with what the model applied.
	if n, err := x.handled(); err != nil || n < done.Sent {
		diff = append(diff, fmt.Sprintf("cms_events_messages_total sums to %d (%v), the server sent %d", n, err, done.Sent))
	}
	return s, diff, nil
}

func joinFirst(lines []string, n int) string {
	out := ""
	for i, l := range lines {
		if i == n {
			out += fmt.Sprintf("… and %d more\n", len(lines)-n)
			break
		}
		out += l + "\n"
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return median(v)
}

// printTable prints the medians of every (stream, mode).
func printTable(out io.Writer, rows []row) {
	fmt.Fprintf(out, "\nmedians (per-round figures above):\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stream\tmode\tmessages\tbare msg/s\texporter msg/s\tratio\tbare CPU s/1M\texporter CPU s/1M\tCPU ×\ttruth\t")
	for _, r := range rows {
		truth := "ok"
		if !r.truthOK {
			truth = "FAILED"
		}
		cpuRatios := make([]float64, len(r.bare))
		for i := range r.bare {
			cpuRatios[i] = r.exporter[i].cpuPerM / r.bare[i].cpuPerM
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.1f %%\t%.2f\t%.2f\t%.2f\t%s\t\n", r.stream, r.mode, r.messages,
			medianOf(r.bare, func(s sample) float64 { return s.rate }),
			medianOf(r.exporter, func(s sample) float64 { return s.rate }),
			100*r.ratio,
			medianOf(r.bare, func(s sample) float64 { return s.cpuPerM }),
			medianOf(r.exporter, func(s sample) float64 { return s.cpuPerM }),
			median(cpuRatios), truth)
	}
	tw.Flush()
}
