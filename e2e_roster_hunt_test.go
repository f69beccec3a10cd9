package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// TestRosterUnderDropsHunt hunts a roster divergence the scale benchmark
// met once in about seven runs: after nodes' connections dropped under
// traffic (meetings over 1–3 nodes, 4 connections per node, one entry per
// snapshot message), a meeting's roster series stayed off by a participant
// or two (one more, or fewer, than the truth), with the calls right. Here
// it hit once in 36 subtests (12 seeds, three runs), never again with the
// same seed: it depends on timing. Opt-in, as it is a hunt and not yet a
// regression test:
//
//	CMS_ROSTER_HUNT=1 go test -run TestRosterUnderDropsHunt -count 1 -v .
func TestRosterUnderDropsHunt(t *testing.T) {
	if os.Getenv("CMS_ROSTER_HUNT") == "" {
		t.Skip("a hunt: set CMS_ROSTER_HUNT=1")
	}
	for seed := range 12 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHarnessConnections(t, 4, cmswstest.Options{Nodes: 6, SnapshotChunk: 1, Seed: int64(seed)}, nil, func(c *cmswstest.Cluster) {
				rng := rand.New(rand.NewPCG(uint64(seed), 1))
				nodes := c.Nodes()
				for i := range 120 {
					spread := 1 + rng.IntN(3)
					perm := rng.Perm(len(nodes))[:spread]
					corr, _ := c.StartMeeting(nodes[perm[0]], cmswstest.MeetingOptions{Name: fmt.Sprintf("M%d", i)})
					for j := range max(spread, 2+rng.IntN(20)) {
						_, _ = c.AddParticipant(corr, nodes[perm[j%spread]], cmswstest.ParticipantOptions{Name: "p", AudioMuted: rng.IntN(3) == 0})
					}
				}
			})
			nodes := h.cluster.Nodes()
			h.eventuallyRoster(nodes...)
			tr := newScaleTraffic(h.cluster, uint64(seed))
			rng := rand.New(rand.NewPCG(uint64(seed), 2))
			end := time.Now().Add(6 * time.Second)
			next := time.Now()
			for time.Now().Before(end) {
				if err := tr.Step(); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(next) {
					for _, k := range rng.Perm(len(nodes))[:2] {
						h.cluster.DropConnections(nodes[k])
					}
					next = time.Now().Add(time.Duration(200+rng.IntN(600)) * time.Millisecond)
				}
				time.Sleep(time.Millisecond)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				got := h.scrape()
				trh := h.cluster.Truth()
				var all []string
				for c := range trh.Meetings {
					all = append(all, c)
				}
				d := rosterDiff(got, trh, all)
				if got[key("cms_roster_coverage_ratio")] != 1 {
					d = append(d, "coverage")
				}
				if len(d) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("seed %d: rosters differ: %s\nlogs on these calls:\n%s", seed, strings.Join(first(d, 20), "\n"), linesAbout(h.logs.String(), d))
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// linesAbout returns the log lines that name a call of diffs, at most 300.
func linesAbout(logs string, diffs []string) string {
	calls := map[string]bool{}
	for _, d := range diffs {
		if _, rest, ok := strings.Cut(d, `call="`); ok {
			id, _, _ := strings.Cut(rest, `"`)
			calls[id] = true
		}
	}
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		for id := range calls {
			if strings.Contains(line, id) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(first(out, 300), "\n")
}
