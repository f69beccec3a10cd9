package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// wantErr describes one expected *Error.
type wantErr struct {
	line     int
	path     string
	node     string
	contains []string // substrings of the rendered message
}

func TestParseErrors(t *testing.T) {
	// Shared head: defaults with a working password file, then nodes.
	head := []string{
		"defaults:",             // 1
		"  username: metrics",   // 2
		"  password_file: pw",   // 3
		"nodes:",                // 4
		"  - name: cms1",        // 5
		"    url: https://cms1", // 6
	}
	with := func(lines ...string) string { return y(append(append([]string{}, head...), lines...)...) }

	tests := []struct {
		name   string
		yaml   string
		files  map[string]string // written into the config dir ("" content allowed)
		remove []string          // base files to delete
		mkdir  []string
		want   []wantErr
		is     error // errors.Is target, if any
	}{
		{
			name: "unknown key in a node, with suggestion",
			yaml: with(
				"  - name: cms2",                  // 7
				"    url: https://cms2:8443",      // 8
				"    pasword: "+inlinePassword+"", // 9
			),
			want: []wantErr{{9, "nodes[1]", "cms2", []string{`unknown field "pasword"`, `did you mean "password"?`}}},
		},
		{
			name: "unknown top-level key",
			yaml: with("node: x"), // 7
			want: []wantErr{{7, "", "", []string{`unknown field "node"`, `"nodes"`}}},
		},
		{
			name: "unknown keys in defaults and tls, all reported",
			yaml: y(
				"defaults:",           // 1
				"  user: metrics",     // 2
				"  password_file: pw", // 3
				"  tls:",              // 4
				"    ca_fil: ca.pem",  // 5
				"nodes:",              // 6
				"  - name: cms1",      // 7
				"    url: https://a",  // 8
				"    colour: blue",    // 9
			),
			want: []wantErr{
				{2, "defaults", "", []string{`unknown field "user"`}},
				{5, "defaults.tls", "", []string{`unknown field "ca_fil"`, `did you mean "ca_file"`}},
				{9, "nodes[0]", "cms1", []string{`unknown field "colour"`}},
			},
		},
		{
			name: "name and url belong to nodes, not defaults",
			yaml: y("defaults:", "  username: u", "  password_file: pw", "  url: https://cms1", // 4
				"nodes:", "  - name: cms1", "    url: https://cms1"),
			want: []wantErr{{4, "defaults", "", []string{`defaults: unknown field "url"`}}},
		},
		{
			name: "roster is not a mapping",
			yaml: with("roster: all"), // 7
			want: []wantErr{{7, "roster", "", []string{`roster: expected a mapping, got string "all"`}}},
		},
		{
			name: "field set twice",
			yaml: with("    url: https://again"), // 7
			want: []wantErr{{7, "nodes[0]", "cms1", []string{`nodes[0] (cms1): field "url" is set twice (first on line 6)`}}},
		},
		{
			name: "http scheme",
			yaml: with("  - name: cms2", "    url: http://cms2.example.org"), // 7, 8
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{`nodes[1] (cms2): url: scheme must be https, got "http"`}}},
		},
		{
			name: "wss scheme",
			yaml: with("  - name: cms2", "    url: wss://cms2/events/v1"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{`scheme must be https, got "wss"`}}},
		},
		{
			name: "userinfo in URL is refused and not echoed",
			yaml: with("  - name: cms2", "    url: https://admin:"+inlinePassword+"@cms2"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{"must not contain user information"}}},
		},
		{
			name: "unparsable URL with credentials is not echoed",
			yaml: with("  - name: cms2", "    url: https://admin:"+inlinePassword+"@cms2:x:y"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{"not a valid URL"}}},
		},
		{
			name: "URL with path",
			yaml: with("  - name: cms2", "    url: https://cms2/api/v1"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{`must not have a path, got "/api/v1"`}}},
		},
		{
			name: "URL with query",
			yaml: with("  - name: cms2", "    url: https://cms2?x=1"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{"must not have a query"}}},
		},
		{
			name: "URL port out of range",
			yaml: with("  - name: cms2", "    url: https://cms2:70000"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{`port must be 1-65535, got "70000"`}}},
		},
		{
			name: "URL without host",
			yaml: with("  - name: cms2", "    url: https://:443"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{"missing host"}}},
		},
		{
			name: "URL without scheme",
			yaml: with("  - name: cms2", "    url: cms2.example.org:443"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{`want https://host[:port], got "cms2.example.org:443"`}}},
		},
		{
			name: "missing URL is reported at the node",
			yaml: with("  - name: cms2"), // 7
			want: []wantErr{{7, "nodes[1].url", "cms2", []string{"url: missing"}}},
		},
		{
			name: "same URL twice",
			yaml: with("  - name: cms2", "    url: https://cms1"),
			want: []wantErr{{8, "nodes[1].url", "cms2", []string{"same node as nodes[0] (line 6)"}}},
		},
		{
			name: "duplicate names",
			yaml: with("  - name: cms1", "    url: https://cms2"),
			want: []wantErr{{7, "nodes[1].name", "cms1", []string{"duplicate node name", "nodes[0] (line 5)"}}},
		},
		{
			name: "invalid name",
			yaml: with("  - name: cms 2", "    url: https://cms2"),
			want: []wantErr{{7, "nodes[1].name", "", []string{`nodes[1]: name: "cms 2" is not a valid node name`}}},
		},
		{
			name: "missing name",
			yaml: with("  - url: https://cms2"),
			want: []wantErr{{7, "nodes[1].name", "", []string{"nodes[1]: name: missing"}}},
		},
		{
			name: "zero nodes",
			yaml: y("defaults:", "  username: metrics", "nodes: []"),
			want: []wantErr{{3, "nodes", "", []string{"at least one node is required"}}},
		},
		{
			name: "no nodes key",
			yaml: y("defaults:", "  username: metrics"),
			want: []wantErr{{0, "nodes", "", []string{"cms.yml: nodes: at least one node is required"}}},
		},
		{
			name: "nodes is not a list",
			yaml: y("nodes:", "  cms1: https://cms1"),
			want: []wantErr{{2, "nodes", "", []string{"expected a list of nodes, got a mapping"}}},
		},
		{
			name: "missing password",
			yaml: y("nodes:", "  - name: cms1", "    url: https://cms1", "    username: u"),
			want: []wantErr{{2, "nodes[0]", "cms1", []string{"no password"}}},
		},
		{
			name: "missing username",
			yaml: y("nodes:", "  - name: cms1", "    url: https://cms1", "    password: "+inlinePassword),
			want: []wantErr{{2, "nodes[0]", "cms1", []string{"no username"}}},
		},
		{
			name: "username with colon",
			yaml: with("  - name: cms2", "    url: https://cms2", "    username: a:b"),
			want: []wantErr{{9, "nodes[1].username", "cms2", []string{"must not contain ':'"}}},
		},
		{
			name: "password and password_file on one node",
			yaml: with("  - name: cms2", "    url: https://cms2", "    password: "+inlinePassword, "    password_file: pw"),
			want: []wantErr{{10, "nodes[1].password_file", "cms2", []string{"either password or password_file, not both"}}},
		},
		{
			name: "password and password_file in defaults",
			yaml: y("defaults:", "  username: u", "  password: "+inlinePassword, "  password_file: pw",
				"nodes:", "  - name: cms1", "    url: https://cms1"),
			want: []wantErr{{4, "defaults.password_file", "", []string{"not both"}}},
		},
		{
			name: "empty inline password",
			yaml: with("  - name: cms2", "    url: https://cms2", `    password: ""`),
			want: []wantErr{{9, "nodes[1].password", "cms2", []string{"must not be empty"}}},
		},
		{
			name:   "missing defaults password file names the nodes, not the file",
			yaml:   with("  - name: cms2", "    url: https://cms2"),
			remove: []string{"pw"},
			want:   []wantErr{{3, "defaults.password_file", "", []string{"for nodes cms1, cms2", "file does not exist", "its name is not shown"}}},
			is:     fs.ErrNotExist,
		},
		{
			name: "missing node password file",
			yaml: with("  - name: cms2", "    url: https://cms2", "    password_file: secrets/cms2"),
			want: []wantErr{{9, "nodes[1].password_file", "cms2", []string{"file does not exist"}}},
			is:   fs.ErrNotExist,
		},
		{
			name:  "password file is a directory",
			yaml:  with("  - name: cms2", "    url: https://cms2", "    password_file: secrets"),
			mkdir: []string{"secrets"},
			want:  []wantErr{{9, "nodes[1].password_file", "cms2", []string{"is a directory"}}},
		},
		{
			name:  "empty password file",
			yaml:  with("  - name: cms2", "    url: https://cms2", "    password_file: empty"),
			files: map[string]string{"empty": "\n"},
			want:  []wantErr{{9, "nodes[1].password_file", "cms2", []string{filepath.Join("DIR", "empty") + " is empty"}}},
		},
		{
			name:  "password file with two lines",
			yaml:  with("  - name: cms2", "    url: https://cms2", "    password_file: two"),
			files: map[string]string{"two": filePassword + "\n\n"},
			want:  []wantErr{{9, "nodes[1].password_file", "cms2", []string{"more than one line"}}},
		},
		{
			name: "duration without unit",
			yaml: with("    connect_timeout: 10"), // 7
			want: []wantErr{{7, "nodes[0].connect_timeout", "cms1", []string{`invalid duration "10"`, `"30s"`}}},
		},
		{
			name: "garbage durations, all reported",
			yaml: y("defaults:", "  username: u", "  password_file: pw", "  backoff_max: soon", // 4
				"nodes:", "  - name: cms1", "    url: https://cms1", "    probe_interval: 3 seconds"), // 8
			want: []wantErr{
				{4, "defaults.backoff_max", "", []string{`invalid duration "soon"`}},
				{8, "nodes[0].probe_interval", "cms1", []string{`invalid duration "3 seconds"`}},
			},
		},
		{
			name: "bare 0 is a duration, and too short",
			yaml: with("    probe_timeout: 0"), // 7
			want: []wantErr{{7, "nodes[0].probe_timeout", "cms1", []string{"must be at least 1s, got 0s"}}},
		},
		{
			name: "not a whole number",
			yaml: with("    connections: five"), // 7
			want: []wantErr{{7, "nodes[0].connections", "cms1", []string{`connections: expected a whole number, got string "five"`}}},
		},
		{
			name: "duration given as a list",
			yaml: with("    probe_timeout:", "      - 1s"), // 7, 8
			want: []wantErr{{8, "nodes[0].probe_timeout", "cms1", []string{"expected a duration", "got a list"}}},
		},
		{
			name: "zero and negative durations",
			yaml: with("    connect_timeout: 0s", "    auth_failure_backoff: -1m", "    keep_calls_when_down: 0s"),
			want: []wantErr{
				{7, "nodes[0].connect_timeout", "cms1", []string{"must be at least 1s, got 0s"}},
				{8, "nodes[0].auth_failure_backoff", "cms1", []string{"must be at least 10s, got -1m0s"}},
				{9, "nodes[0].keep_calls_when_down", "cms1", []string{"must be at least 1s, got 0s"}},
			},
		},
		{
			name: "probe_timeout equal to probe_interval in defaults is reported once",
			yaml: y("defaults:", "  username: u", "  password_file: pw", "  probe_interval: 10s", // 4
				"nodes:", "  - name: cms1", "    url: https://cms1", "  - name: cms2", "    url: https://cms2"),
			want: []wantErr{{4, "defaults.probe_interval", "", []string{"probe_interval: must be greater than probe_timeout (10s), got 10s"}}},
		},
		{
			name: "probe_timeout above the inherited probe_interval",
			yaml: y("defaults:", "  username: u", "  password_file: pw", "  probe_interval: 20s",
				"nodes:", "  - name: cms1", "    url: https://cms1", "    probe_timeout: 25s"), // 8
			want: []wantErr{{8, "nodes[0].probe_timeout", "cms1", []string{"probe_timeout: must be less than probe_interval (20s), got 25s"}}},
		},
		{
			name: "backoff_min above backoff_max",
			yaml: with("    backoff_min: 2m"),
			want: []wantErr{{7, "nodes[0].backoff_min", "cms1", []string{"backoff_min: must be at most backoff_max (1m0s), got 2m0s"}}},
		},
		{
			name:  "empty CA file",
			yaml:  with("    tls:", "      ca_file: empty.pem"), // 7, 8
			files: map[string]string{"empty.pem": ""},
			want:  []wantErr{{8, "nodes[0].tls.ca_file", "cms1", []string{filepath.Join("DIR", "empty.pem") + " is empty"}}},
		},
		{
			name:  "CA file without certificates",
			yaml:  y("defaults:", "  username: u", "  password_file: pw", "  tls:", "    ca_file: junk.pem", "nodes:", "  - name: cms1", "    url: https://cms1"),
			files: map[string]string{"junk.pem": "not a certificate\n"},
			want:  []wantErr{{5, "defaults.tls.ca_file", "", []string{"for node cms1", "junk.pem contains no PEM certificates"}}},
		},
		{
			name: "missing CA file",
			yaml: with("    tls: {ca_file: /nonexistent/ca.pem}"),
			want: []wantErr{{7, "nodes[0].tls.ca_file", "cms1", []string{"/nonexistent/ca.pem", "no such file"}}},
			is:   fs.ErrNotExist,
		},
		{
			name: "bad boolean",
			yaml: with("    tls:", "      insecure_skip_verify: yes please"),
			want: []wantErr{{8, "nodes[0].tls.insecure_skip_verify", "cms1", []string{`expected true or false, got string "yes please"`}}},
		},
		{
			name: "password of the wrong type is not echoed",
			yaml: with("  - name: cms2", "    url: https://cms2", "    password: {"+inlinePassword+": 1}"),
			want: []wantErr{{9, "nodes[1].password", "cms2", []string{"expected a string, got a mapping"}}},
		},
		{
			name: "not a mapping",
			yaml: y("just text"),
			want: []wantErr{{1, "", "", []string{`expected a mapping, got string "just text"`}}},
		},
		{
			name: "syntax error",
			yaml: y("nodes:", "  - name: cms1", "    url: https://cms1", "    x: y: z"),
			want: []wantErr{{4, "", "", []string{"invalid YAML: mapping values are not allowed"}}},
		},
		{
			name: "anchor containing itself",
			yaml: with("  - &a {name: cms2, url: 'https://cms2', tls: *a}"),
			want: []wantErr{{0, "", "", []string{"invalid YAML: anchor 'a' value contains itself"}}},
		},
		{
			name: "two documents",
			yaml: with("---", "nodes: []"),
			want: []wantErr{{7, "", "", []string{"more than one YAML document"}}},
		},
		{
			name: "empty file",
			yaml: "# nothing here\n",
			want: []wantErr{{0, "", "", []string{"file is empty"}}},
		},
		{
			name: "several validation errors at once, in file order",
			yaml: with(
				"  - name: cms2",          // 7
				"    url: http://cms2",    // 8
				"  - name: cms1",          // 9
				"    url: https://cms3",   // 10
				"    backoff_max: -1s",    // 11
				"    password_file: none", // 12
			),
			want: []wantErr{
				{8, "nodes[1].url", "cms2", []string{`scheme must be https`}},
				{9, "nodes[2].name", "cms1", []string{"duplicate node name"}},
				{11, "nodes[2].backoff_max", "cms1", []string{"must be at least 100ms, got -1s"}},
				{12, "nodes[2].password_file", "cms1", []string{"file does not exist"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "pw", filePassword+"\n")
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			for _, name := range tc.remove {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tc.mkdir {
				if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Parse([]byte(tc.yaml), "cms.yml", dir)
			if err == nil {
				t.Fatalf("Parse succeeded (%d nodes), want %d errors", len(cfg.Nodes), len(tc.want))
			}
			if cfg != nil {
				t.Errorf("Parse returned a config together with an error")
			}
			text := err.Error()
			for _, secret := range []string{inlinePassword, filePassword} {
				if strings.Contains(text, secret) {
					t.Errorf("error leaks a password:\n%s", text)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) = false; err:\n%s", tc.is, text)
			}
			got := allErrors(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), text)
			}
			for i, w := range tc.want {
				g := got[i]
				msg := g.Error()
				if g.File != "cms.yml" || g.Line != w.line || g.Path != w.path || g.Node != w.node {
					t.Errorf("error %d: file/line/path/node = %q/%d/%q/%q, want cms.yml/%d/%q/%q\n%s",
						i, g.File, g.Line, g.Path, g.Node, w.line, w.path, w.node, msg)
				}
				prefix := "cms.yml: "
				if w.line > 0 {
					prefix = fmt.Sprintf("cms.yml:%d: ", w.line)
				}
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("error %d does not start with %q: %s", i, prefix, msg)
				}
				for _, c := range w.contains {
					c = strings.ReplaceAll(c, "DIR", dir)
					if !strings.Contains(msg, c) {
						t.Errorf("error %d lacks %q: %s", i, c, msg)
					}
				}
			}
		})
	}
}

// The headline renderings, verbatim: file, line, path with node name, reason.
func TestErrorRendering(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", filePassword)
	_, err := Parse([]byte(y(
		"defaults:",
		"  username: metrics",
		"  password_file: pw",
		"nodes:",
		"  - name: cms1",
		"    url: https://cms1.example.org",
		"  - name: cms2",
		"    url: http://cms2.example.org",
		"    pasword: x",
	)), "cms.yml", dir)
	want := `cms.yml:9: nodes[1] (cms2): unknown field "pasword" (did you mean "password"?)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	_, err = Parse([]byte(y(
		"defaults:",
		"  username: metrics",
		"  password_file: pw",
		"nodes:",
		"  - name: cms1",
		"    url: https://cms1.example.org",
		"  - name: cms2",
		"    url: http://cms2.example.org",
	)), "cms.yml", dir)
	want = `cms.yml:8: nodes[1] (cms2): url: scheme must be https, got "http"`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// problems.invalid reads one thing from the YAML library's error text: the
// line of a syntax error, "yaml: line N: problem". Pinned here, so that a
// library upgrade changing it fails this test rather than silently losing
// the line numbers.
func TestYAMLErrorWording(t *testing.T) {
	var n yaml.Node
	err := yaml.Unmarshal([]byte("a: 1\nb: c: d\n"), &n)
	if want := "yaml: line 2: mapping values are not allowed in this context"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"pasword", "password", 1}, {"kitten", "sitting", 3}, {"ca_fil", "ca_file", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
