package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
	"github.com/cms-exporter/cms_exporter/supervisor"
)

// getWithin is a GET that gives up after d: a server that accepted the
// connection but serves nothing yet must not hang the test.
func getWithin(addr, path string, d time.Duration) (int, error) {
	c := &http.Client{Timeout: d}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// /-/ready says the exporter is ready to be scraped: configuration loaded,
// model serving. The CMS nodes' own health is cms_up's business: with every
// node unreachable, the exporter is still ready (its /metrics tell the truth:
// cms_up 0), so an orchestrator does not restart it for the cluster's fault.
func TestReadyWithEveryNodeUnreachable(t *testing.T) {
	dir := t.TempDir()
	// Bound, then closed: nothing listens there.
	dead1, dead2 := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "cms_exporter.yml")
	ok(t, os.WriteFile(cfg, fmt.Appendf(nil, "defaults:\n  username: admin\n  password: secret\n"+
		"  probe_interval: 2s\n  probe_timeout: 1s\n  backoff_min: 100ms\n  backoff_max: 500ms\n"+
		"nodes:\n  - name: gone1\n    url: https://%s\n  - name: gone2\n    url: https://%s\n", dead1, dead2), 0o600))
	r := startRun(t, "--config.file="+cfg)
	r.waitFor("a connect failure of both nodes", func() bool {
		m := r.metrics()
		return m[key("cms_events_connect_failures_total", "node", "gone1", "reason", "network")] > 0 &&
			m[key("cms_events_connect_failures_total", "node", "gone2", "reason", "network")] > 0
	})
	if m := r.metrics(); m[key("cms_up", "node", "gone1")] != 0 || m[key("cms_up", "node", "gone2")] != 0 {
		t.Fatalf("cms_up of unreachable nodes: %v %v", m[key("cms_up", "node", "gone1")], m[key("cms_up", "node", "gone2")])
	}
	if code, body := r.get("/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready = %d %q with every node unreachable, want 200", code, body)
	}
	if code, _ := r.get("/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy = %d, want 200", code)
	}
}

// Before the first configuration load succeeded, the exporter serves
// liveness but is not ready: here the load waits on the source (as one
// reading a file on a stuck mount would). Once it succeeds, it is ready
// before any node has answered.
func TestNotReadyBeforeFirstLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newExporter(ctx, log.NewNopLogger())
	defer x.close()
	release := make(chan struct{})
	dead := freeAddr(t)
	x.source = func() (settings, error) {
		<-release
		return settings{specs: []supervisor.Spec{{Settings: "gone", Client: cmsws.Config{Name: "gone", URL: "https://" + dead,
			Username: "u", Password: "p", Subscriptions: planner.BaseSet(0)}}}}, nil
	}
	srv := httptest.NewServer(x.handler("/metrics"))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	loaded := make(chan error, 1)
	go func() { loaded <- x.reload() }()
	if code, err := getWithin(addr, "/-/healthy", 5*time.Second); err != nil || code != http.StatusOK {
		t.Errorf("/-/healthy during the first load = %d, %v; want 200", code, err)
	}
	if code, err := getWithin(addr, "/-/ready", 5*time.Second); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready during the first load = %d, %v; want 503", code, err)
	}
	close(release)
	ok(t, <-loaded)
	if code, err := getWithin(addr, "/-/ready", 5*time.Second); err != nil || code != http.StatusOK {
		t.Errorf("/-/ready after the first load, its node unreachable = %d, %v; want 200", code, err)
	}
}
