package main

import (
	"regexp"
	"slices"
	"testing"
)

// Connections are numbered from 0 everywhere: the connection label, the
// exporter's log lines and, under --demo, the simulated cluster's lines
// about the same connections. The simulated cluster used to number them
// from 1 across the cluster, so cms-a's connection 0 was "events
// connection 2" two lines away from connection=0.
func TestDemoLogsNumberConnectionsFromZero(t *testing.T) {
	r := startRun(t, "--demo", "--demo.seed=6", "--log.level=debug")
	r.waitFor("three nodes up", func() bool {
		m := r.metrics()
		return m[key("cms_up", "node", "cms-a")] == 1 && m[key("cms_up", "node", "cms-b")] == 1 && m[key("cms_up", "node", "cms-c")] == 1
	})
	logs := r.stderr.String()
	fake := map[string][]string{}
	for _, m := range regexp.MustCompile(`cmswstest: (cms-[abc]): events connection (\d+) open`).FindAllStringSubmatch(logs, -1) {
		fake[m[1]] = append(fake[m[1]], m[2])
	}
	exporter := map[string][]string{}
	for _, m := range regexp.MustCompile(`node=(cms-[abc]) connection=(\d+) msg="events connection established"`).FindAllStringSubmatch(logs, -1) {
		exporter[m[1]] = append(exporter[m[1]], m[2])
	}
	for _, n := range []string{"cms-a", "cms-b", "cms-c"} {
		if !slices.Equal(exporter[n], []string{"0"}) {
			t.Errorf("%s: the exporter logged connections %v, want [0]", n, exporter[n])
		}
		if !slices.Equal(fake[n], exporter[n]) {
			t.Errorf("%s: the simulated cluster logged connections %v, the exporter %v", n, fake[n], exporter[n])
		}
	}
}
