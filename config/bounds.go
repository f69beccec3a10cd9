package config

import (
	"fmt"
	"strings"
	"time"
)

// Bound is the accepted range of one duration setting. Floors exist
// because a tiny value is not "fast", it is an attack on the node: 1ns of
// backoff made 66,037 connection attempts in 5 s, 1ms of
// auth_failure_backoff 1,727 wrong-password token requests in 6 s.
// Ceilings catch a unit typo ("30h" for "30s") that would otherwise look
// like a hung exporter.
type Bound struct {
	// Key is the setting as written in the file: "probe_interval",
	// "rest.timeout" (in defaults or a node), "roster.batch_interval".
	Key      string
	Min, Max time.Duration
	// Why the floor is where it is, shown in the error.
	Why string
}

// Bounds returns the one table of duration bounds; README and
// config.example.yml document it (TestBoundsDocumented compares them).
// A function, not a variable: the table is not package state anyone can
// change.
func Bounds() []Bound {
	return []Bound{
		{"connect_timeout", time.Second, 5 * time.Minute, "a token request and TLS handshake over a WAN take more than a second"},
		{"probe_interval", time.Second, time.Hour, "each probe is a request the node must answer"},
		{"probe_timeout", time.Second, 5 * time.Minute, "a busy node may take a moment to acknowledge"},
		{"backoff_min", 100 * time.Millisecond, time.Hour, "each retry is a token request to the node"},
		{"backoff_max", 100 * time.Millisecond, time.Hour, "each retry is a token request to the node"},
		{"auth_failure_backoff", 10 * time.Second, 24 * time.Hour, "retrying refused credentials quickly can lock the account"},
		{"keep_calls_when_down", time.Second, 24 * time.Hour, "shorter than a reconnect makes every blip a gap"},
		{"rest.interval", MinRESTInterval, time.Hour, "the poller is meant to be low-rate: six requests per node per interval"},
		{"rest.timeout", time.Second, 5 * time.Minute, "a REST answer over a WAN takes more than a second"},
		{"roster.batch_interval", 10 * time.Millisecond, time.Minute, "subscription changes are meant to be batched"},
	}
}

// bound returns the Bound of key; every duration key has one
// (TestBoundsCoverEveryDuration).
func bound(key string) Bound {
	for _, b := range Bounds() {
		if b.Key == key {
			return b
		}
	}
	panic("config: no bound for " + key)
}

// outOfBounds says why d is not an acceptable value of key, or "".
func outOfBounds(key string, d time.Duration) string {
	b := bound(key)
	switch {
	case d < b.Min:
		return fmt.Sprintf("must be at least %s, got %s (%s)", formatDuration(b.Min), d, b.Why)
	case d > b.Max:
		return fmt.Sprintf("must be at most %s, got %s (a larger value is surely a typo)", formatDuration(b.Max), d)
	}
	return ""
}

// nodeDurations returns the duration settings of a node by file key, so
// that checks and Validate walk the same list.
func nodeDurations(n *Node) []struct {
	key string
	d   time.Duration
} {
	return []struct {
		key string
		d   time.Duration
	}{
		{"connect_timeout", n.ConnectTimeout}, {"probe_interval", n.ProbeInterval}, {"probe_timeout", n.ProbeTimeout},
		{"backoff_min", n.BackoffMin}, {"backoff_max", n.BackoffMax}, {"auth_failure_backoff", n.AuthFailureBackoff},
		{"keep_calls_when_down", n.KeepCallsWhenDown}, {"rest.interval", n.REST.Interval}, {"rest.timeout", n.REST.Timeout},
	}
}

// formatDuration writes a bound as an operator would ("5m", "24h", not
// "5m0s", "24h0m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
