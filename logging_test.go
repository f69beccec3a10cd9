package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
	"github.com/go-logfmt/logfmt"
)

// logKeys decodes one logfmt line into its keys, in order, and values.
func logKeys(t *testing.T, line string) ([]string, map[string]string) {
	t.Helper()
	d := logfmt.NewDecoder(strings.NewReader(line))
	var keys []string
	vals := map[string]string{}
	for d.ScanRecord() {
		for d.ScanKeyval() {
			keys = append(keys, string(d.Key()))
			vals[string(d.Key())] = string(d.Value())
		}
	}
	if err := d.Err(); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return keys, vals
}

// The exporter-toolkit's lines (through the slog bridge) and the HTTP
// server's own errors look like the program's own lines: one ts, one
// caller at most, one level, the message under msg.
func TestLoggersWriteOneShape(t *testing.T) {
	var buf bytes.Buffer
	logs, err := newLoggers(&buf, "logfmt", "info")
	if err != nil {
		t.Fatal(err)
	}
	level.Info(logs.kit).Log("msg", "own line")
	logs.slog.Info("Listening on", "address", "127.0.0.1:1")
	logs.slog.Debug("filtered out")
	logs.http.Printf("http: TLS handshake error from 127.0.0.1:5: EOF")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", len(lines), buf.String())
	}
	for i, want := range []struct{ msg, level string }{
		{"own line", "info"}, {"Listening on", "info"}, {"http: TLS handshake error from 127.0.0.1:5: EOF", "error"},
	} {
		keys, vals := logKeys(t, lines[i])
		count := map[string]int{}
		for _, k := range keys {
			count[k]++
		}
		if count["ts"] != 1 || count["caller"] > 1 || count["level"] != 1 || count["time"] != 0 {
			t.Errorf("line %d has keys %v: want one ts, at most one caller, one level, no time", i+1, keys)
		}
		if vals["msg"] != want.msg || vals["level"] != want.level {
			t.Errorf("line %d: msg %q level %q, want %q %q", i+1, vals["msg"], vals["level"], want.msg, want.level)
		}
	}
	if _, vals := logKeys(t, lines[1]); !strings.HasPrefix(vals["caller"], "logging_test.go:") {
		t.Errorf("bridged line's caller is %q, want the slog call site", vals["caller"])
	}
}
