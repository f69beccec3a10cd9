package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/internal/streambench"
)

// TestMain is also the server child when the test binary re-executes
// itself (os.Executable is the test binary under go test).
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "serve" {
		if err := serve(os.Stdin, os.Stdout, benchUser, benchPass); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestSmoke runs the whole command on tiny streams: both clients, both
// streams and modes, the server in its child process, and the truth check.
func TestSmoke(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-messages", "400", "-rounds", "1", "-calls", "20", "-participants", "4"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	table := out.String()[strings.Index(out.String(), "medians"):]
	for _, want := range []string{"calls  stop-and-wait", "calls      pipelined", "roster  stop-and-wait", "roster      pipelined"} {
		if !strings.Contains(table, want) {
			t.Errorf("no row %q in\n%s", want, table)
		}
	}
	if strings.Count(table, " ok") != 4 {
		t.Errorf("want 4 truth checks ok:\n%s", table)
	}
}

func TestOptions(t *testing.T) {
	for _, args := range [][]string{{"-mode", "fast"}, {"-stream", "x"}, {"-rounds", "0"}, {"-calls", "150", "-stream", "roster"}, {"extra"}} {
		if _, err := parseOptions(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	o, err := parseOptions([]string{"-calls", "150", "-stream", "calls", "-mode", "pipelined"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if p := o.params("calls", "pipelined"); p.Calls != 150 || p.Messages != 200000 {
		t.Errorf("params %+v", p)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {nil, 0}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestTruthMismatchFails: when the exporter's metrics differ from the
// truth the run is marked failed and the differences are printed. The
// parent's copy of the stream is given a final state one participant off;
// the server child generates the real one.
func TestTruthMismatchFails(t *testing.T) {
	var out, errOut bytes.Buffer
	o, err := parseOptions([]string{"-messages", "300", "-rounds", "1", "-calls", "10", "-stream", "calls", "-mode", "pipelined"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	c, err := startChild(&errOut)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	b := &bench{o: o, child: c, logger: log.NewNopLogger(), streams: newStreamCache(), out: &out}
	p := o.params(streambench.StreamCalls, streambench.Pipelined)
	s, err := streambench.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	s.Final = s.Final.Clone()
	id := s.Final.CallIDs()[0]
	s.Final.Calls[id].Participants++
	b.streams.m[p] = s
	r, err := b.measure(streambench.StreamCalls, streambench.Pipelined)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if r.truthOK {
		t.Fatalf("a wrong truth passed:\n%s", out.String())
	}
	for _, want := range []string{"TRUTH CHECK FAILED", `cms_call_participants{call="` + id, "cms_cluster_participants{}"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
