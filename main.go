// Command cms_exporter keeps an events WebSocket open to every node of a
// Cisco Meeting Server cluster, models the active calls from the pushed
// updates and serves the model as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/cms-exporter/cms_exporter/config"
)

// defaultListenAddress: the Prometheus port list's 9100–9999 range is
// fully allocated, so we sit outside it, on a port no common exporter uses.
const defaultListenAddress = ":10041"

const programName = "cms_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own context,
// arguments and writers.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// SIGHUP is caught from the very start: before, its default action
	// would kill a process still loading its configuration. One that
	// arrives before the first load is done is acted on after it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	f, err := parseFlags(args, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}
	if f.configCheck {
		return checkConfig(ctx, f.configFile, stdout, stderr)
	}
	logs, err := newLoggers(stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}
	logger := logs.kit
	level.Info(logger).Log("msg", "starting "+programName, "version", version.Info(), "build_context", version.BuildContext())

	// The listen addresses and the web config are checked before any node
	// is contacted: a typo in a flag must not cost every node a token
	// request (and a restart loop, one per start).
	listeners, err := listen(f.web)
	if err != nil {
		level.Error(logger).Log("msg", "cannot serve HTTP", "err", err)
		return 1
	}
	defer func() {
		for _, l := range listeners {
			l.Close() // already closed once served; closing again is harmless
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x := newExporter(ctx, logger)
	defer x.close()
	x.lifecycle = f.enableLifecycle
	x.fullFrames = f.logLevel == "debug"

	if f.demo {
		d, err := startDemo(ctx, logger, f.demoSeed)
		if err != nil {
			level.Error(logger).Log("msg", "cannot start the demo cluster", "err", err)
			return 1
		}
		defer d.close()
		x.source = d.settings
		level.Info(logger).Log("msg", "demo mode: monitoring a simulated 3-node cluster over loopback WebSockets", "nodes", fmt.Sprint(d.nodes))
	} else {
		x.source = fileSource(ctx, f.configFile, logger)
	}
	// HTTP is served while the first configuration loads: /-/healthy says
	// the process lives, /-/ready says 503 until the load succeeded.
	srv := startServing(x, f, logs, listeners)
	if err := x.reload(); err != nil {
		level.Error(logger).Log("msg", "cannot load configuration", "err", err)
		srv.shutdown()
		return 1
	}
	go x.reloadOnSIGHUP(ctx, hup)
	return srv.wait(ctx)
}

// flags are the command line, parsed.
type flags struct {
	configFile, metricsPath string
	configCheck             bool
	logLevel, logFormat     string
	demo                    bool
	enableLifecycle         bool
	demoSeed                int64
	web                     *web.FlagConfig
}

func parseFlags(args []string, stdout, stderr io.Writer) (flags, error) {
	var f flags
	app := newApp(&f)
	app.Writer(stdout)
	app.ErrorWriter(stderr)
	app.UsageWriter(stdout)
	_, err := app.Parse(args)
	return f, err
}

// newApp declares the command line, parsed into f. It is apart from
// parseFlags so a test can compare its flags with the README's table.
func newApp(f *flags) *kingpin.Application {
	app := kingpin.New(programName, "Prometheus exporter for Cisco Meeting Server clusters, fed by the CMS events WebSocket.")
	app.Flag("config.file", "Configuration file (YAML).").Default("cms_exporter.yml").StringVar(&f.configFile)
	app.Flag("config.check", "Check the configuration file and exit (0 = valid).").BoolVar(&f.configCheck)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.metricsPath)
	app.Flag("log.level", "Only log messages with the given severity or above.").Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages.").Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	app.Flag("web.enable-lifecycle", "Enable reloading the configuration with POST or PUT /-/reload (SIGHUP always works).").BoolVar(&f.enableLifecycle)
	app.Flag("demo", "Run against a built-in simulated 3-node cluster with random traffic (no CMS, no config file needed).").BoolVar(&f.demo)
	app.Flag("demo.seed", "Random seed of the demo traffic (0 = time-based).").Default("0").Int64Var(&f.demoSeed)
	f.web = kingpinflag.AddFlags(app, defaultListenAddress)
	if version.Version == "" {
		// Release builds set it with -ldflags (.goreleaser.yaml,
		// Dockerfile); otherwise the module version Go records.
		version.Version = moduleVersion()
	}
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')
	return app
}

// checkConfig is --config.check: load, print the warnings, say how many
// nodes, exit 0 when valid. SIGTERM (ctx) abandons a file still being read.
func checkConfig(ctx context.Context, path string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadContext(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
	fmt.Fprintf(stdout, "%s: valid, %d node(s)\n", path, len(cfg.Nodes))
	return 0
}

// listen binds every --web.listen-address and checks --web.config.file.
// It returns no listeners when systemd provides them (--web.systemd-socket:
// bound already) or for vsock addresses; serve then leaves the binding to
// exporter-toolkit as before.
func listen(fc *web.FlagConfig) ([]net.Listener, error) {
	if fc.WebConfigFile != nil && *fc.WebConfigFile != "" {
		if err := web.Validate(*fc.WebConfigFile); err != nil {
			return nil, fmt.Errorf("--web.config.file %s: %w", *fc.WebConfigFile, err)
		}
	}
	if fc.WebSystemdSocket != nil && *fc.WebSystemdSocket {
		return nil, nil
	}
	if fc.WebListenAddresses == nil || len(*fc.WebListenAddresses) == 0 {
		return nil, errors.New("no --web.listen-address given")
	}
	for _, a := range *fc.WebListenAddresses {
		if strings.HasPrefix(a, "vsock://") {
			return nil, nil
		}
	}
	var ls []net.Listener
	for _, a := range *fc.WebListenAddresses {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("cannot listen on --web.listen-address=%s: %w", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// HTTP server bounds. The idle timeout closes keep-alive connections a
// client left open (every scraper and browser tab holds one), so they
// cannot pile up: 20 s is longer than the common 15 s scrape interval, so
// such a scraper keeps its connection (no TLS handshake per scrape), and a
// slower one reconnects, which costs one handshake a scrape. The header
// timeout stops a client that connects and sends nothing (Slowloris).
const (
	httpIdleTimeout       = 20 * time.Second
	httpReadHeaderTimeout = 10 * time.Second
)

// server is the HTTP server, started by startServing.
type server struct {
	srv      *http.Server
	serveErr chan error
	logs     loggers
}

// startServing starts the HTTP server on listeners (bound by listen; none:
// let exporter-toolkit bind them) and returns at once.
func startServing(x *exporter, f flags, logs loggers, listeners []net.Listener) *server {
	s := &server{
		srv:      newHTTPServer(x.handler(f.metricsPath), logs, httpTimeouts{idle: httpIdleTimeout, readHeader: httpReadHeaderTimeout}),
		serveErr: make(chan error, 1),
		logs:     logs,
	}
	go func() {
		if len(listeners) == 0 {
			s.serveErr <- web.ListenAndServe(s.srv, f.web, logs.slog)
			return
		}
		s.serveErr <- web.ServeMultiple(listeners, s.srv, f.web, logs.slog)
	}()
	return s
}

// shutdown stops the server gracefully and waits for it.
func (s *server) shutdown() {
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		level.Warn(s.logs.kit).Log("msg", "HTTP shutdown", "err", err)
	}
	if err := <-s.serveErr; !errors.Is(err, http.ErrServerClosed) {
		level.Warn(s.logs.kit).Log("msg", "HTTP server", "err", err)
	}
}

// wait serves until ctx ends (exit 0 after a graceful shutdown) or the
// server fails (exit 1).
func (s *server) wait(ctx context.Context) int {
	select {
	case <-ctx.Done():
		level.Info(s.logs.kit).Log("msg", "shutting down")
		s.shutdown()
		return 0
	case err := <-s.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		level.Error(s.logs.kit).Log("msg", "HTTP server failed", "err", err)
		return 1
	}
}

// httpTimeouts bound the HTTP server's connections.
type httpTimeouts struct{ idle, readHeader time.Duration }

// newHTTPServer is the exporter's HTTP server; ErrorLog sends net/http's
// own errors (TLS handshakes, bad requests) to our log.
func newHTTPServer(h http.Handler, logs loggers, to httpTimeouts) *http.Server {
	return &http.Server{Handler: h, IdleTimeout: to.idle, ReadHeaderTimeout: to.readHeader, ErrorLog: logs.http}
}

// moduleVersion is the version the Go toolchain recorded for the main
// module, without its "v": the tag for `go install …@v0.1.0`, a
// pseudo-version for a build in a git checkout. "dev" when there is none
// (`go run`, a build outside version control), rather than an empty label.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}
