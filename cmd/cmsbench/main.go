// Command cmsbench measures, in one run and side by side, how many events
// messages per second the exporter's own path (cmsws client, collector
// model, planner, as main wires them) takes from a strict stream server,
// next to a bare baseline client (read, encoding/json into typed structs,
// ack) in the same program. It alternates the two, prints msg/s, the
// ratio and the CPU seconds per million messages, and checks that the
// exporter's final metrics equal the stream's truth: a difference, or any
// protocol fault the server sees, makes it exit non-zero.
//
//	go run ./cmd/cmsbench                      # both streams, both modes, 3 rounds
//	go run ./cmd/cmsbench -stream roster -mode pipelined -rounds 5
//
// The server runs in a child process (this binary, re-executed with the
// hidden "serve" argument), so that this process's CPU time is the
// client's alone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cms-exporter/cms_exporter/internal/streambench"
)

// The credentials the child server accepts; both sides are this program.
const (
	benchUser = "admin"
	benchPass = "cmsbench"
)

// options are the command line.
type options struct {
	seed         uint64
	messages     int
	rounds       int
	modes        []streambench.Mode
	streams      []string
	calls        int
	participants int
	minRatio     float64
	cpuProfile   string
	verbose      bool
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "serve" {
		if err := serve(os.Stdin, os.Stdout, benchUser, benchPass); err != nil {
			fmt.Fprintln(os.Stderr, "cmsbench serve:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("cmsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated streams")
	fs.IntVar(&o.messages, "messages", 0, "messages per run (0: 40000 stop-and-wait, 200000 pipelined: 2 s or more each for the bare client on a quiet machine)")
	fs.IntVar(&o.rounds, "rounds", 3, "alternations of bare and exporter per stream and mode; the figures are their medians")
	mode := fs.String("mode", "both", "stop-and-wait, pipelined or both")
	stream := fs.String("stream", "both", "calls, roster or both")
	fs.IntVar(&o.calls, "calls", 0, "calls in the snapshot (0: 200 for the calls stream, 50 for the roster stream)")
	fs.IntVar(&o.participants, "participants", 20, "participants per call at the start of the roster stream")
	fs.Float64Var(&o.minRatio, "min-ratio", 0, "fail when a median ratio exporter/bare is below this (0.8 = 80 %); 0 never fails on speed")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the clients; the server is another process) to this file")
	fs.BoolVar(&o.verbose, "v", false, "log the exporter's info lines too (default: warnings and errors)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *mode {
	case "both":
		o.modes = []streambench.Mode{streambench.StopAndWait, streambench.Pipelined}
	default:
		m, err := streambench.ParseMode(*mode)
		if err != nil {
			return nil, err
		}
		o.modes = []streambench.Mode{m}
	}
	switch *stream {
	case "both":
		o.streams = []string{streambench.StreamCalls, streambench.StreamRoster}
	case streambench.StreamCalls, streambench.StreamRoster:
		o.streams = []string{*stream}
	default:
		return nil, fmt.Errorf("stream %q: want calls, roster or both", *stream)
	}
	if o.rounds < 1 || o.messages < 0 || o.calls < 0 || o.participants < 2 {
		return nil, errors.New("-rounds must be at least 1, -participants at least 2, -messages and -calls not negative")
	}
	if o.calls > 99 && slices.Contains(o.streams, streambench.StreamRoster) {
		return nil, errors.New("-calls above 99 does not fit the roster stream: one connection watches at most 99 rosters")
	}
	return o, nil
}

// params are the stream one (stream, mode) pair runs.
func (o *options) params(stream string, mode streambench.Mode) streambench.Params {
	p := streambench.Params{Kind: stream, Seed: o.seed, Calls: o.calls, Participants: o.participants, Messages: o.messages}
	if p.Calls == 0 {
		p.Calls = 200
		if stream == streambench.StreamRoster {
			p.Calls = 50
		}
	}
	if p.Messages == 0 {
		p.Messages = 40000
		if mode == streambench.Pipelined {
			p.Messages = 200000
		}
	}
	return p
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "cmsbench:", err)
		return 2
	}
	logger := log.NewLogfmtLogger(log.NewSyncWriter(stderr))
	if o.verbose {
		logger = level.NewFilter(logger, level.AllowInfo())
	} else {
		logger = level.NewFilter(logger, level.AllowWarn())
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "cmsbench:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "cmsbench:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	child, err := startChild(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "cmsbench:", err)
		return 1
	}
	defer child.close()
	// An interrupt must not leave the server child behind.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	defer func() {
		signal.Stop(sig)
		close(finished)
	}()
	go func() {
		select {
		case <-sig:
			child.close()
			os.Exit(130)
		case <-finished:
		}
	}()

	b := &bench{o: o, child: child, logger: logger, streams: newStreamCache(), out: stdout}
	fmt.Fprint(stdout, header)
	var rows []row
	failed := false
	for _, stream := range o.streams {
		for _, mode := range o.modes {
			r, err := b.measure(stream, mode)
			if err != nil {
				fmt.Fprintf(stderr, "cmsbench: %s %s: FAILED: %v\n", stream, mode, err)
				return 1
			}
			failed = failed || !r.truthOK
			rows = append(rows, r)
		}
	}
	printTable(stdout, rows)
	for _, r := range rows {
		if !r.truthOK {
			fmt.Fprintf(stderr, "cmsbench: %s %s: the exporter's metrics differ from the stream's truth (see above)\n", r.stream, r.mode)
		}
		if o.minRatio > 0 && r.ratio < o.minRatio {
			fmt.Fprintf(stderr, "cmsbench: %s %s: ratio %.1f %% below -min-ratio %.1f %%\n", r.stream, r.mode, 100*r.ratio, 100*o.minRatio)
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

const header = `cmsbench: messages per second through a strict events server (separate process,
TLS, acks checked in order) for two clients in this process, alternated:
  bare      read, encoding/json into typed structs (the fastest honest encoding/json
            client), ack; nothing more
  exporter  cmsws + collector + planner as main wires them (one node, one connection)
Both hold the same subscriptions: calls only for the calls stream (the exporter's
planner excludes every meeting, as roster.exclude would), calls and every call's
roster for the roster stream.
msg/s counts the stream's messages from the first sent to the last acked (exporter:
and applied by its model); CPU is this process's user+system seconds per million
messages. Ratio = exporter / bare msg/s and CPU × = exporter / bare CPU per message,
each the median of the per-round ratios. On a busy machine msg/s is noisy; CPU per
message much less so. "server busy" is the server process's CPU over the stream's
time: near 100 % the server, not the client, set the pace.
`

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix) + "\n"
}
