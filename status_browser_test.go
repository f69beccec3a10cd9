package main

import (
	"bytes"
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumEnv names the variable that makes a missing chromium fail the
// browser test instead of skipping it: ./test.sh sets it after installing
// chromium, so CI cannot pass without the test having run.
const chromiumEnv = "CMS_EXPORTER_REQUIRE_CHROMIUM"

// screenshotEnv, when set, is where the browser test writes its
// screenshot (docs/status-page.png is made this way); otherwise it goes
// to a temporary directory.
const screenshotEnv = "CMS_EXPORTER_SCREENSHOT"

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(chromiumEnv) != "" {
		t.Fatalf("no chromium on PATH, and %s is set (./test.sh installs it: apt-get install -y chromium)", chromiumEnv)
	}
	t.Skipf("no chromium on PATH: apt-get install -y chromium (./test.sh does), or set %s=1 to fail instead", chromiumEnv)
	return ""
}

// headless runs chromium headless on url with the extra arguments and
// returns its standard output.
func headless(t *testing.T, chromium, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Its own profile directory: several runs (and engineers) share the
	// machine. No sandbox: CI runs as root, where chromium refuses it.
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,1100", "--hide-scrollbars"}
	cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

var (
	pageNodeRe    = regexp.MustCompile(`<tr class="node" data-node="([^"]*)">`)
	pageMeetingRe = regexp.MustCompile(`(?s)<tr class="meeting">\s*<td>(.*?)</td>`)
	pageCountRe   = regexp.MustCompile(`<dd id="meetings">(\d+)</dd>`)
)

// metricsMeetings returns the names of the meetings a scrape shows
// (cms_call_info's name label, one per meeting however many nodes host it).
func metricsMeetings(m map[string]float64) map[string]bool {
	names := map[string]bool{}
	for k := range m {
		if strings.HasPrefix(k, "cms_call_info{") {
			i := strings.Index(k, `name="`) + len(`name="`)
			names[k[i:i+strings.IndexByte(k[i:], '"')]] = true
		}
	}
	return names
}

// The status page in a real browser: the exporter runs --demo, headless
// chromium loads / and dumps the DOM it built; the three demo nodes and
// every meeting /metrics shows (before and after the page load: the demo's
// traffic moves on meanwhile) are on it. Then a screenshot, a PNG.
func TestStatusPageInChromium(t *testing.T) {
	chromium := findChromium(t)
	r := startRun(t, "--demo", "--demo.seed=42", "--log.level=info")
	// The docs' screenshot waits for a fuller demo; the test needs a few.
	meetings := 3
	if os.Getenv(screenshotEnv) != "" {
		meetings = 6
	}
	r.waitFor("three nodes up with meetings, their rosters planned", func() bool {
		m := r.metrics()
		return m[key("cms_up", "node", "cms-a")] == 1 && m[key("cms_up", "node", "cms-b")] == 1 &&
			m[key("cms_up", "node", "cms-c")] == 1 && len(metricsMeetings(m)) >= meetings && m[key("cms_roster_coverage_ratio")] > 0
	})
	url := "http://" + r.addr + "/"
	var missing []string
	for attempt := 0; attempt < 5; attempt++ {
		before := metricsMeetings(r.metrics())
		dom := string(headless(t, chromium, url, "--dump-dom"))
		after := metricsMeetings(r.metrics())

		nodes := map[string]bool{}
		for _, m := range pageNodeRe.FindAllStringSubmatch(dom, -1) {
			nodes[html.UnescapeString(m[1])] = true
		}
		for _, n := range []string{"cms-a", "cms-b", "cms-c"} {
			if !nodes[n] {
				t.Fatalf("node %s is not on the page; nodes %v\n%s", n, nodes, tail(dom, 3000))
			}
		}
		onPage := map[string]bool{}
		for _, m := range pageMeetingRe.FindAllStringSubmatch(dom, -1) {
			onPage[html.UnescapeString(strings.TrimSpace(m[1]))] = true
		}
		count := pageCountRe.FindStringSubmatch(dom)
		if count == nil {
			t.Fatalf("no meeting count on the page:\n%s", tail(dom, 3000))
		}
		if len(before) > statusLargest || len(after) > statusLargest {
			t.Fatalf("the demo shows %d then %d meetings, more than the page lists (%d): the test cannot compare", len(before), len(after), statusLargest)
		}
		missing = missing[:0]
		for name := range before {
			if after[name] && !onPage[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 && len(onPage) > 0 {
			t.Logf("attempt %d: page lists %d meetings (count %s), /metrics %d then %d", attempt, len(onPage), count[1], len(before), len(after))
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("meetings on /metrics before and after the page load but not on it: %v", missing)
	}

	shot := os.Getenv(screenshotEnv)
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status-page.png")
	} else if abs, err := filepath.Abs(shot); err == nil {
		shot = abs
	}
	ok(t, os.MkdirAll(filepath.Dir(shot), 0o755))
	headless(t, chromium, url, "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	ok(t, err)
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("%s is not a PNG of a page (%d bytes)", shot, len(png))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
