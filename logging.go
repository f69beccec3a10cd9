package main

import (
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// loggers are the program's go-kit logger and the two bridges into it for
// code that cannot take one: exporter-toolkit (a *slog.Logger) and
// net/http's server (a *log.Logger). All three write the same lines: one
// ts, one caller, one level.
type loggers struct {
	kit  log.Logger
	slog *slog.Logger
	http *stdlog.Logger
}

// newLoggers builds the loggers. Format and level follow the Prometheus
// convention (--log.format logfmt|json, --log.level debug|info|warn|error).
func newLoggers(w io.Writer, format, lvl string) (loggers, error) {
	var base log.Logger
	switch format {
	case "logfmt":
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return loggers{}, fmt.Errorf("unknown log format %q", format)
	}
	var (
		opt level.Option
		sl  slog.Level
	)
	switch lvl {
	case "debug":
		opt, sl = level.AllowDebug(), slog.LevelDebug
	case "info":
		opt, sl = level.AllowInfo(), slog.LevelInfo
	case "warn":
		opt, sl = level.AllowWarn(), slog.LevelWarn
	case "error":
		opt, sl = level.AllowError(), slog.LevelError
	default:
		return loggers{}, fmt.Errorf("unknown log level %q", lvl)
	}
	base = level.NewFilter(base, opt)
	stamped := log.With(base, "ts", log.DefaultTimestampUTC)
	return loggers{
		kit: log.With(stamped, "caller", log.DefaultCaller),
		// slog records carry their own time and call site: the bridge
		// adds them, renamed to our keys, and nothing more.
		slog: slog.New(sloggokit.NewGoKitHandler(slogTimeAsTS(base), sl)),
		// The HTTP server's own errors (TLS handshakes, bad requests): a
		// caller would only name the adapter.
		http: stdlog.New(lineWriter{level.Error(log.With(stamped, "component", "http"))}, "", 0),
	}, nil
}

// slogTimeAsTS renames the bridge's "time" key to "ts", formatted as
// log.DefaultTimestampUTC does, so every line has the same time key.
func slogTimeAsTS(next log.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if t, ok := kv[i+1].(time.Time); ok && kv[i] == "time" {
				kv[i], kv[i+1] = "ts", t.UTC().Format(time.RFC3339Nano)
			}
		}
		return next.Log(kv...)
	})
}

// lineWriter logs each write (one line of a *log.Logger with no prefix or
// flags) as the msg of one line. go-kit's StdlibAdapter would take the
// "http: … from 127.0.0.1:5:" of net/http's messages for a file:line.
type lineWriter struct{ l log.Logger }

func (w lineWriter) Write(p []byte) (int, error) {
	return len(p), w.l.Log("msg", strings.TrimSpace(string(p)))
}
