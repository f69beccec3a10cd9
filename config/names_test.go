package config

import (
	"strings"
	"testing"
)

// meeting_names says how meeting names appear on /metrics: show (the
// default), hash or omit; anything else is a located error.
func TestMeetingNames(t *testing.T) {
	base := []string{"nodes:", "  - name: a", "    url: https://a", "    username: u", "    password: p"}
	for _, tc := range []struct{ line, want string }{
		{"", "show"}, {"meeting_names: show", "show"}, {"meeting_names: hash", "hash"}, {"meeting_names: omit", "omit"},
		{"meeting_names: ~", "show"},
	} {
		cfg, err := Parse([]byte(y(append(base, tc.line)...)), "cms.yml", t.TempDir())
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if cfg.MeetingNames != tc.want {
			t.Errorf("%q: MeetingNames %q, want %q", tc.line, cfg.MeetingNames, tc.want)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"meeting_names: mask", `cms.yml:6: meeting_names: "mask" is not one of show, hash, omit`},
		{"meeting_names: Hash", `cms.yml:6: meeting_names: "Hash" is not one of show, hash, omit`},
		{"meeting_names: ''", `cms.yml:6: meeting_names: "" is not one of show, hash, omit`},
		{"meeting_names: [show]", `cms.yml:6: meeting_names: expected a string, got a list`},
		{"meeting_name: hash", `cms.yml:6: unknown field "meeting_name" (did you mean "meeting_names"?)`},
	} {
		_, err := Parse([]byte(y(append(base, tc.line)...)), "cms.yml", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.line, err, tc.want)
		}
	}
}
