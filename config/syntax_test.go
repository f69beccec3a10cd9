package config

import (
	"strings"
	"testing"
)

// A YAML syntax error is reported at the line where the problem is, not
// where the YAML library's context began (which it also numbers from 0).
func TestYAMLSyntaxErrorLines(t *testing.T) {
	head := []string{
		"defaults:",           // 1
		"  username: metrics", // 2
		"  password: p",       // 3
		"roster:",             // 4
		"  exclude: ['x']",    // 5
	}
	with := func(lines ...string) string { return y(append(append([]string{}, head...), lines...)...) }
	for _, tc := range []struct {
		name     string
		yaml     string
		line     int
		contains []string
	}{
		{"unclosed [ on line 6", with("  include: ['a', 'b'", "  batch_interval: 1s", "nodes: []"), 6,
			[]string{"did not find expected ',' or ']'", "opened on this line"}},
		{"unclosed [ noticed later", with("  include: ['a',", "    'b'", "  batch_interval: 1s", "nodes: []"), 6,
			[]string{"did not find expected ',' or ']'", "opened on this line"}},
		{"unclosed { on line 1", y("nodes: {a: 1", "b: 2"), 1, []string{"'}'"}},
		{"tab indenting a key on line 6", with("\tinclude: ['a']", "nodes: []"), 6, []string{"cannot start any token", "tab"}},
		{"tab inside a nested block on line 6", y("defaults:", "  username: u", "  tls:", "    ca_file: a", "    server_name: b",
			"\t  insecure_skip_verify: true", "nodes: []"), 6, []string{"tab"}},
		{"tab on line 1", y("\tnodes: []"), 1, []string{"cannot start any token"}},
		{"misindented key on line 7", with("  include: ['a']", "    batch_interval: 1s", "nodes: []"), 7,
			[]string{"did not find expected key"}},
		{"key less indented on line 7", with("  include: ['a']", " batch_interval: 1s", "nodes: []"), 7,
			[]string{"did not find expected key"}},
		{"unclosed quote on line 6", with("  include: ['a]", "nodes: []", "per_call_metrics: true"), 6, nil},
		{"mapping value on a scalar line", y("nodes: []", "per_call_metrics: true: false"), 2,
			[]string{"mapping values are not allowed"}},
		{"list item in a mapping", y("nodes: []", "- a"), 2, []string{"did not find expected key"}},
		{"undefined alias", y("nodes: []", "roster: *nothing"), 2, []string{"unknown anchor"}},
		{"bad character", y("nodes: []", "per_call_metrics: @x"), 2, []string{"cannot start any token"}},
		{"sequence item under a mapping key", y("nodes:", "  - name: a", "    url: https://a", "   - name: b"), 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "cms.yml", t.TempDir())
			got := allErrors(t, err)
			if len(got) != 1 {
				t.Fatalf("%d errors, want 1:\n%v", len(got), err)
			}
			if got[0].Line != tc.line || got[0].File != "cms.yml" {
				t.Errorf("reported at %s:%d, want cms.yml:%d: %v\n%s", got[0].File, got[0].Line, tc.line, got[0], tc.yaml)
			}
			for _, c := range append(tc.contains, "invalid YAML") {
				if !strings.Contains(got[0].Error(), c) {
					t.Errorf("error lacks %q: %v", c, got[0])
				}
			}
		})
	}
}
