package config

import (
	"fmt"
	"io"
)

// redacted is what every rendering of a non-empty Secret produces.
const redacted = "<secret>"

// Secret is a credential read from the configuration. Every way of turning it
// into text (fmt verbs including %#v, String, GoString, and YAML, JSON and
// text marshalling, which is what slog and logfmt use) yields "<secret>", so
// printing or logging a whole Config can never leak a password. Reveal is the
// one deliberate way to get the value, which makes uses easy to audit.
//
// An empty Secret renders as "" (as Prometheus' config.Secret does): there is
// nothing to hide, and seeing that a password is missing helps debugging.
type Secret string

// Reveal returns the secret value. Call it only where the value is sent to
// the server (HTTP Basic auth), never to build a log line or an error.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) render() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.render() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return s.render() }

// Format implements fmt.Formatter so that every verb (%s, %v, %x, %q, %d …)
// renders the placeholder; without it %x would print the value in hex.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.render()
	if verb == 'q' {
		out = fmt.Sprintf("%q", out)
	}
	_, _ = io.WriteString(f, out)
}

// MarshalText implements encoding.TextMarshaler; slog and go-kit's logfmt
// prefer it over fmt, so it must redact too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.render()), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.render()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.render(), nil }
