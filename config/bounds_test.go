package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// The settings that, at run time, made 66,037 connection attempts in ~5 s
// and 1,727 wrong-password token requests in ~6 s are refused, each where
// it is written, with the floor and why.
func TestDurationBounds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string // after "  - name: a" / "    url: https://a" (lines 5, 6)
		want  []string
	}{
		{"reconnect storm", []string{"    backoff_min: 1ns", "    backoff_max: 1ns"}, []string{
			"cms.yml:7: nodes[0] (a): backoff_min: must be at least 100ms",
			"cms.yml:8: nodes[0] (a): backoff_max: must be at least 100ms",
		}},
		{"wrong-password hammering", []string{"    auth_failure_backoff: 1ms"}, []string{
			"cms.yml:7: nodes[0] (a): auth_failure_backoff: must be at least 10s",
		}},
		{"probe storm", []string{"    probe_interval: 2ms", "    probe_timeout: 1ms"}, []string{
			"cms.yml:7: nodes[0] (a): probe_interval: must be at least 1s",
			"cms.yml:8: nodes[0] (a): probe_timeout: must be at least 1s",
		}},
		{"connect_timeout floor", []string{"    connect_timeout: 10ms"}, []string{
			"cms.yml:7: nodes[0] (a): connect_timeout: must be at least 1s, got 10ms",
		}},
		{"keep_calls_when_down floor", []string{"    keep_calls_when_down: 1ms"}, []string{
			"keep_calls_when_down: must be at least 1s",
		}},
		{"rest.timeout floor", []string{"    rest:", "      timeout: 1ms"}, []string{
			"cms.yml:8: nodes[0] (a): rest.timeout: must be at least 1s",
		}},
		{"ceilings: a typo of a unit", []string{
			"    connect_timeout: 10h", "    probe_interval: 30h", "    probe_timeout: 10h",
			"    backoff_max: 100h", "    auth_failure_backoff: 500h", "    keep_calls_when_down: 90h",
			"    rest:", "      interval: 30h", "      timeout: 10h",
		}, []string{
			"cms.yml:7: nodes[0] (a): connect_timeout: must be at most 5m, got 10h0m0s",
			"cms.yml:8: nodes[0] (a): probe_interval: must be at most 1h",
			"cms.yml:9: nodes[0] (a): probe_timeout: must be at most 5m",
			"cms.yml:10: nodes[0] (a): backoff_max: must be at most 1h",
			"cms.yml:11: nodes[0] (a): auth_failure_backoff: must be at most 24h",
			"cms.yml:12: nodes[0] (a): keep_calls_when_down: must be at most 24h",
			"cms.yml:14: nodes[0] (a): rest.interval: must be at most 1h",
			"cms.yml:15: nodes[0] (a): rest.timeout: must be at most 5m",
		}},
		{"backoff_min above backoff_max", []string{"    backoff_min: 2s", "    backoff_max: 1s"}, []string{
			"cms.yml:7: nodes[0] (a): backoff_min: must be at most backoff_max (1s), got 2s",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := y(append([]string{"defaults:", "  username: u", "  password: p", "nodes:", "  - name: a", "    url: https://a"}, tc.lines...)...)
			_, err := Parse([]byte(data), "cms.yml", t.TempDir())
			if err == nil {
				t.Fatalf("accepted:\n%s", data)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(allErrors(t, err)); n != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%v", n, len(tc.want), err)
			}
		})
	}

	// A bad value in defaults is reported once, at defaults, not per node.
	_, err := Parse([]byte(y("defaults:", "  username: u", "  password: p", "  backoff_min: 1ns",
		"nodes:", "  - name: a", "    url: https://a", "  - name: b", "    url: https://b")), "cms.yml", t.TempDir())
	if got := allErrors(t, err); len(got) != 1 || got[0].Line != 4 || got[0].Path != "defaults.backoff_min" {
		t.Errorf("defaults.backoff_min 1ns: %v", err)
	}

	// The batch interval, a top-level setting, is bounded too.
	_, err = Parse([]byte(y("roster:", "  batch_interval: 1ns", "nodes:", "  - name: a", "    url: https://a",
		"    username: u", "    password: p")), "cms.yml", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "cms.yml:2: roster.batch_interval: must be at least 10ms") {
		t.Errorf("roster.batch_interval 1ns: %v", err)
	}
}

// Every duration the file can set has exactly one bound, and every built-in
// default lies within its bound: the table is the one place they live.
func TestBoundsCoverEveryDuration(t *testing.T) {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for _, f := range fields(typ) {
			ft := typ.FieldByIndex(f.index).Type
			switch {
			case ft == reflect.TypeFor[time.Duration]():
				keys = append(keys, prefix+f.key)
			case ft.Kind() == reflect.Struct:
				walk(ft, prefix+f.key+".")
			}
		}
	}
	walk(reflect.TypeFor[Node](), "")
	walk(reflect.TypeFor[file](), "")
	keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, "defaults.") })
	var bounded []string
	for _, b := range Bounds() {
		bounded = append(bounded, b.Key)
		if b.Min <= 0 || b.Max < b.Min || b.Why == "" {
			t.Errorf("%s: bound %v..%v (%q) is not a range with a reason", b.Key, b.Min, b.Max, b.Why)
		}
	}
	slices.Sort(keys)
	slices.Sort(bounded)
	if !slices.Equal(keys, bounded) {
		t.Fatalf("duration keys %q, bounded keys %q", keys, bounded)
	}

	d := cmsws.DefaultTiming()
	defaults := map[string]time.Duration{
		"connect_timeout": d.ConnectTimeout, "probe_interval": d.ProbeInterval, "probe_timeout": d.ProbeTimeout,
		"backoff_min": d.BackoffMin, "backoff_max": d.BackoffMax, "auth_failure_backoff": d.AuthFailureBackoff,
		"keep_calls_when_down": DefaultKeepCallsWhenDownProbes * d.ProbeInterval,
		"rest.interval":        cmsrest.DefaultInterval, "rest.timeout": cmsrest.DefaultTimeout,
		"roster.batch_interval": planner.DefaultInterval,
	}
	for _, b := range Bounds() {
		if v, ok := defaults[b.Key]; !ok || v < b.Min || v > b.Max {
			t.Errorf("%s: default %v outside %v..%v", b.Key, v, b.Min, b.Max)
		}
	}
}

// The README and the example document every bound as the code has it.
func TestBoundsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range Bounds() {
		row := "| `" + b.Key + "` | " + formatDuration(b.Min) + " | " + formatDuration(b.Max) + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row %q", row)
		}
		key := b.Key[strings.LastIndexByte(b.Key, '.')+1:]
		doc := formatDuration(b.Min) + ".." + formatDuration(b.Max)
		if !strings.Contains(string(example), doc) || !strings.Contains(string(example), key+":") {
			t.Errorf("config.example.yml does not document %s as %s", b.Key, doc)
		}
	}
}
