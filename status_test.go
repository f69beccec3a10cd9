package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/planner"
)

// The status page shows the nodes and the meetings as /metrics does: a
// meeting name is escaped, and under meeting_names: hash the page shows
// the digest /metrics shows, never the name.
func TestStatusPageHonoursMeetingNames(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 2, Seed: 8})
	ok(t, err)
	defer cluster.Close()
	const raw = `<script>alert("Board & Co")</script>`
	_, err = cluster.StartMeeting("cms2", cmswstest.MeetingOptions{Name: raw})
	ok(t, err)
	dir := clusterFiles(t, cluster)
	cfg := writeConfig(t, dir, cluster, "cms1", "cms2")
	b, err := os.ReadFile(cfg)
	ok(t, err)
	ok(t, os.WriteFile(cfg, append([]byte("meeting_names: hash\n"), b...), 0o600))

	r := startRun(t, "--config.file="+cfg, "--web.enable-lifecycle")
	var digest string
	r.waitFor("the meeting on /metrics", func() bool {
		for k := range r.metrics() {
			if strings.HasPrefix(k, "cms_call_info{") {
				i := strings.Index(k, `name="`) + len(`name="`)
				digest = k[i : i+strings.IndexByte(k[i:], '"')]
				return true
			}
		}
		return false
	})
	var page string
	r.waitFor("the meeting on the page", func() bool {
		_, page = r.get("/")
		return strings.Contains(page, digest)
	})
	for _, want := range []string{`data-node="cms1"`, `data-node="cms2"`, `<dd id="meetings">1</dd>`, `<meta http-equiv="refresh"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "Board") || strings.Contains(page, "<script>") {
		t.Errorf("the page shows the name that meeting_names: hash hides:\n%s", page)
	}

	// Names shown: escaped, never markup.
	ok(t, os.WriteFile(cfg, b, 0o600))
	if code, body := r.reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	r.waitFor("the name on the page, escaped", func() bool {
		_, page = r.get("/")
		return strings.Contains(page, "&lt;script&gt;alert(&#34;Board &amp; Co&#34;)&lt;/script&gt;")
	})
	if strings.Contains(page, raw) {
		t.Errorf("the page carries the meeting name unescaped")
	}
}

// With --web.telemetry-path=/ the metrics keep "/" (a scraper configured
// for it must not get HTML) and the status page moves to /status.
func TestStatusPageWhenMetricsTakeRoot(t *testing.T) {
	r := startRun(t, "--demo", "--demo.seed=4", "--web.telemetry-path=/")
	var body string
	r.waitFor("metrics at /", func() bool {
		var code int
		code, body = r.get("/")
		return code == http.StatusOK
	})
	if !strings.Contains(body, "cms_exporter_build_info") {
		t.Errorf("/ is not the metrics:\n%.300s", body)
	}
	code, page := r.get("/status")
	if code != http.StatusOK || !strings.Contains(page, `data-node="cms-a"`) {
		t.Errorf("/status = %d:\n%.300s", code, page)
	}
}

// The template shows a node that is down with its last error (escaped),
// a meeting whose name is omitted as such, and a failed reload.
func TestStatusTemplateDownNodeAndFailedReload(t *testing.T) {
	now := time.Now()
	st := collector.Status{Meetings: 2, Participants: 7, Names: collector.NamesOmit, Pending: 1, Skipped: 1,
		Largest: []collector.MeetingStatus{{Name: "", Participants: 5, Nodes: []string{"b"}, Coverage: "skipped"},
			{Name: "", Participants: 2, Nodes: []string{"b"}, Coverage: "pending", Placed: true, WatchedOn: planner.Connection{Node: "b", Number: 1}}}}
	p := statusPage{Name: programName, Refresh: statusRefresh, Cluster: st, NameHidden: "name hidden (meeting_names: omit)",
		Nodes: []collector.NodeStatus{{Name: "b", LastError: `connection 1: dial tcp: <refused>`, LastErrorReason: "network",
			LastErrorAt: now.Add(-90 * time.Second), Connections: []collector.ConnectionStatus{{Number: 0}, {Number: 1, Planned: true, Used: 3, Limit: 100}}}},
		Reload:  reloadView{Loaded: true, LastOK: false, LastAttempt: now, LastError: "cms.yml:3: nodes[0].pasword: unknown field", Nodes: 1},
		Started: now, Now: now}
	var b strings.Builder
	ok(t, statusTemplate.Execute(&b, p))
	page := b.String()
	for _, want := range []string{
		`<span class="bad">down</span>`, `<span class="bad">not connected</span>`, "connection 1: dial tcp: &lt;refused&gt;", "90s ago",
		"#0 <span class=\"bad\">down</span> <span class=\"muted\">(not planned)</span>", "#1 <span class=\"bad\">down</span>: 3 used / 97 free",
		"name hidden (meeting_names: omit)", "no subscription left", `<span class="warn">pending</span> on b #1`,
		`<span class="bad">failed</span>`, "nodes[0].pasword: unknown field",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<refused>") {
		t.Error("an error text is not escaped")
	}
}
