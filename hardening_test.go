package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
)

// A password_file that is a named pipe with no writer used to hang
// --config.check and the start until SIGKILL (SIGTERM cancelled a context
// nobody looked at). Now it is a located error, and a cancelled run ends.
func TestFIFOPasswordFileDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	testutil.Mkfifo(t, filepath.Join(dir, "pw"))
	cfg := filepath.Join(dir, "cms.yml")
	ok(t, os.WriteFile(cfg, []byte("defaults:\n  username: u\n  password_file: pw\nnodes:\n  - name: a\n    url: https://127.0.0.1:1\n"), 0o600))

	var stderr testutil.SyncBuffer
	code := testutil.ReturnsWithin(t, "--config.check", func() int {
		return run(context.Background(), []string{"--config.check", "--config.file=" + cfg}, io.Discard, &stderr)
	})
	if want := cfg + ":3: defaults.password_file: for node a: "; code != 1 || !strings.Contains(stderr.String(), want) ||
		!strings.Contains(stderr.String(), "not a regular file") {
		t.Errorf("--config.check exited %d:\n%s\nwant 1 and %q, not a regular file", code, stderr.String(), want)
	}

	// The exporter itself, as SIGTERM would stop it: the context is
	// cancelled while it starts.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr = testutil.SyncBuffer{}
	code = testutil.ReturnsWithin(t, "the start", func() int {
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		return run(ctx, []string{"--config.file=" + cfg, "--web.listen-address=" + freeAddr(t)}, io.Discard, &stderr)
	})
	if code != 1 || !strings.Contains(stderr.String(), "not a regular file") {
		t.Errorf("start exited %d:\n%s", code, stderr.String())
	}
}

// A reload still in progress (here: a source that does not answer) does
// not make the next one wait behind it, and the exporter's context ends it.
func TestReloadsDoNotQueueBehindAHungOne(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newExporter(ctx, log.NewNopLogger())
	defer x.close()
	x.lifecycle = true
	entered := make(chan struct{})
	var once sync.Once
	x.source = func() (settings, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done() // as fileSource does when its read hangs
		return settings{}, ctx.Err()
	}
	first := make(chan error, 1)
	go func() { first <- x.reload() }()
	<-entered

	srv := httptest.NewServer(x.handler("/metrics"))
	defer srv.Close()
	resp := testutil.ReturnsWithin(t, "a second reload", func() *http.Response {
		resp, err := http.Post(srv.URL+"/-/reload", "", nil)
		ok(t, err)
		return resp
	})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "already in progress") {
		t.Errorf("second reload: %d %q, want 503 saying one is in progress", resp.StatusCode, body)
	}

	cancel()
	if err := testutil.ReturnsWithin(t, "the hung reload after cancel", func() error { return <-first }); !errors.Is(err, context.Canceled) {
		t.Errorf("hung reload returned %v", err)
	}
}

// POST /-/reload reloads only with --web.enable-lifecycle, as in
// Prometheus: without it 403 and how to enable it. SIGHUP always works.
func TestReloadEndpointNeedsLifecycleFlag(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 1, Seed: 3})
	ok(t, err)
	defer cluster.Close()
	dir := clusterFiles(t, cluster)
	cfg := writeConfig(t, dir, cluster, "cms1")

	r := startRun(t, "--config.file="+cfg)
	r.waitFor("serving", func() bool { code, _ := r.get("/-/healthy"); return code == 200 })
	code, body := r.reload()
	if code != http.StatusForbidden || !strings.Contains(body, "--web.enable-lifecycle") {
		t.Errorf("POST /-/reload without the flag: %d %q, want 403 naming --web.enable-lifecycle", code, body)
	}
	ok(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	r.waitFor("SIGHUP reload logged", func() bool {
		return strings.Contains(r.stderr.String(), "configuration applied") &&
			strings.Count(r.stderr.String(), "configuration applied") >= 2
	})
	r.stop()

	r = startRun(t, "--config.file="+cfg, "--web.enable-lifecycle")
	// Ready, not only healthy: HTTP answers during the first load, and a
	// reload asked for meanwhile is refused as in progress (503).
	r.waitFor("configuration loaded", func() bool { code, _ := r.get("/-/ready"); return code == 200 })
	if code, body := r.reload(); code != http.StatusOK {
		t.Errorf("POST /-/reload with the flag: %d %q", code, body)
	}
	if code, _ := r.get("/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}
}

// An idle keep-alive connection is closed by the server after the idle
// timeout, instead of being kept for ever.
func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ok(t, err)
	logs, err := newLoggers(io.Discard, "logfmt", "info")
	ok(t, err)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hi") }), logs,
		httpTimeouts{idle: 200 * time.Millisecond, readHeader: 10 * time.Second})
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	c, err := net.Dial("tcp", l.Addr().String())
	ok(t, err)
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	ok(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server did not keep the connection alive; nothing to test")
	}
	// Wait for the server to close the idle connection; the deadline only
	// stops a hang (no idle timeout) from blocking the test for ever.
	ok(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read returned %v, want EOF (closed by the server)", err)
	}
}

// A listen address that cannot be bound, or a web config that cannot be
// used, is reported before any token request goes to a node.
func TestBadListenAddressFailsBeforeAnyTokenRequest(t *testing.T) {
	cluster, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 2, Seed: 5})
	ok(t, err)
	defer cluster.Close()
	dir := clusterFiles(t, cluster)
	cfg := writeConfig(t, dir, cluster, "cms1", "cms2")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	ok(t, err)
	defer busy.Close()

	webCfg := filepath.Join(dir, "web.yml")
	ok(t, os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"), 0o600))
	for _, tc := range []struct{ flag, want string }{
		{"--web.listen-address=" + busy.Addr().String(), busy.Addr().String()},
		{"--web.listen-address=127.0.0.1:notaport", "127.0.0.1:notaport"},
		{"--web.config.file=" + webCfg, webCfg},
	} {
		var stderr testutil.SyncBuffer
		args := []string{"--config.file=" + cfg, tc.flag}
		if !strings.HasPrefix(tc.flag, "--web.listen-address") {
			args = append(args, "--web.listen-address="+freeAddr(t))
		}
		code := testutil.ReturnsWithin(t, "run with "+tc.flag, func() int { return run(context.Background(), args, io.Discard, &stderr) })
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, want 1 naming %s:\n%s", tc.flag, code, tc.want, stderr.String())
		}
	}
	for name, st := range cluster.Stats().Nodes {
		rest := 0
		for _, n := range st.RESTRequests {
			rest += n
		}
		if st.TokensIssued+st.AuthFailures+st.Accepted+rest != 0 {
			t.Errorf("%s saw %d token requests, %d auth failures, %d connections, %d REST requests before the listen error",
				name, st.TokensIssued, st.AuthFailures, st.Accepted, rest)
		}
	}
}
