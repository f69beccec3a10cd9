package cmsrest_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// benchNodes is the size of the cluster the benchmark polls: a large CMS
// deployment.
const benchNodes = 24

// The benchmark runs the fake cluster in a child process (this test
// binary, in TestHelperFakeCluster), so that the allocations it reports
// are the poller's alone, not the fake server's.
const (
	helperEnv    = "CMSREST_BENCH_FAKE_CLUSTER" // the CA file's path
	helperMarker = "FAKE-CLUSTER "
)

type helperInfo struct {
	URLs map[string]string
}

// TestHelperFakeCluster is not a test: with helperEnv set, it runs a
// 24-node fake cluster with traffic for BenchmarkPollerRound24Nodes,
// prints its URLs and serves until its stdin closes.
func TestHelperFakeCluster(t *testing.T) {
	caFile := os.Getenv(helperEnv)
	if caFile == "" {
		t.Skip("the fake cluster of BenchmarkPollerRound24Nodes, run in a child process")
	}
	c, err := cmswstest.NewCluster(cmswstest.Options{Nodes: benchNodes, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A realistic state: meetings over 1-3 nodes, an alarm, a licence
	// with an expiry and a limit, limits configured.
	tg := cmswstest.NewTraffic(c, cmswstest.TrafficOptions{Seed: 1, Meetings: 4 * benchNodes})
	for range 5000 {
		if err := tg.Step(); err != nil {
			t.Fatal(err)
		}
	}
	limit := int64(400)
	for _, n := range c.Nodes() {
		for _, err := range []error{
			c.RaiseAlarm(n, "callDetailRecordConnectionFailure"),
			c.SetLimits(n, &limit, &limit),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.WriteCAFile(caFile); err != nil {
		t.Fatal(err)
	}
	info := helperInfo{URLs: map[string]string{}}
	for _, n := range c.Nodes() {
		info.URLs[n] = c.URL(n)
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(helperMarker + string(b))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startHelper starts the child process and returns the cluster's URLs and
// CA; the child ends when the benchmark does.
func startHelper(b *testing.B) (map[string]string, *x509.CertPool) {
	b.Helper()
	caFile := filepath.Join(b.TempDir(), "ca.pem")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFakeCluster$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+caFile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var info helperInfo
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), helperMarker); ok {
			if err := json.Unmarshal([]byte(line), &info); err != nil {
				b.Fatal(err)
			}
			break
		}
	}
	if len(info.URLs) != benchNodes {
		b.Fatalf("fake cluster process: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }() // the child's PASS line
	pem, err := os.ReadFile(caFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return info.URLs, pool
}

// BenchmarkPollerRound24Nodes measures what polling costs the exporter per
// node and interval: one round of the six resources, on a kept-alive
// connection, of each of 24 nodes of a fake cluster with traffic. The
// fake runs in another process, so allocs/node-round and B/node-round are
// the poller's own (HTTP client, TLS, decoding, result); bytes-read/
// node-round is what the node sends (TLS records, headers and bodies).
func BenchmarkPollerRound24Nodes(b *testing.B) {
	urls, pool := startHelper(b)
	var failures []cmsrest.Result
	sink := func(r cmsrest.Result) {
		if r.Err != nil {
			failures = append(failures, r)
		}
	}
	var pollers []*cmsrest.Poller
	for name, u := range urls {
		p, err := cmsrest.New(cmsrest.Config{
			Name: name, URL: u, Username: "admin", Password: "secret",
			TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Sink: sink,
		})
		if err != nil {
			b.Fatal(err)
		}
		pollers = append(pollers, p)
		b.Cleanup(p.CloseIdle)
	}
	ctx := context.Background()
	round := func() {
		for _, p := range pollers {
			p.Round(ctx)
		}
	}
	round() // connect: the handshake is once per connection, not per round
	if len(failures) > 0 {
		b.Fatalf("%s %s: %v", failures[0].Node, failures[0].Resource, failures[0].Err)
	}

	readBefore := bytesRead(pollers)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rounds := 0
	for b.Loop() {
		round()
		rounds++
	}
	runtime.ReadMemStats(&after)
	if len(failures) > 0 {
		b.Fatalf("%s %s: %v", failures[0].Node, failures[0].Resource, failures[0].Err)
	}
	nodeRounds := float64(rounds * len(pollers))
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/nodeRounds, "allocs/node-round")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/nodeRounds, "B/node-round")
	b.ReportMetric(float64(bytesRead(pollers)-readBefore)/nodeRounds, "bytes-read/node-round")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/nodeRounds, "ns/node-round")
}

func bytesRead(ps []*cmsrest.Poller) int64 {
	var n int64
	for _, p := range ps {
		n += p.BytesRead()
	}
	return n
}
