package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
)

func TestInheritance(t *testing.T) {
	dir := t.TempDir()
	caPEM := selfSignedCA(t, "test-ca")
	otherPEM := selfSignedCA(t, "other-ca")
	writeFile(t, dir, "pw", filePassword+"\n")
	writeFile(t, dir, "ca.pem", caPEM)
	writeFile(t, dir, "sub/cms2_pw", "cms2-pw\r\n")
	writeFile(t, dir, "other.pem", otherPEM)

	cfg, err := Parse([]byte(y(
		"defaults:",
		"  username: metrics",
		"  password_file: pw",
		"  tls:",
		"    ca_file: ca.pem",
		"    server_name: cms.example.org",
		"  connect_timeout: 5s",
		"  probe_interval: 20s",
		"  backoff_max: 2m",
		"nodes:",
		"  - name: cms1", // everything inherited
		"    url: https://cms1.example.org:443/",
		"  - name: cms2", // own credentials, partial TLS override, own timing
		"    url: https://CMS2.example.org:8443",
		"    username: other",
		"    password_file: sub/cms2_pw",
		"    tls:",
		"      insecure_skip_verify: true",
		"    probe_timeout: 15s",
		"    auth_failure_backoff: 10m",
		"    keep_calls_when_down: 5m",
		"  - name: cms3", // inline password replaces the default file; system roots
		"    url: https://[2001:db8::3]:445",
		"    password: "+inlinePassword,
		"    tls:",
		`      ca_file: ""`,
		"      server_name: cms3.example.org",
		"  - name: cms4", // own CA file, absolute path
		"    url: https://cms4",
		"    tls:",
		"      ca_file: "+filepath.Join(dir, "other.pem"),
		"per_call_metrics: false",
	)), "cms.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PerCallMetrics {
		t.Error("PerCallMetrics = true, want false")
	}
	timing := func(n Node, connect, interval, timeout, bmin, bmax, auth time.Duration) Node {
		n.ConnectTimeout, n.ProbeInterval, n.ProbeTimeout = connect, interval, timeout
		n.BackoffMin, n.BackoffMax, n.AuthFailureBackoff = bmin, bmax, auth
		n.Connections = 1
		n.REST = builtinREST
		return n
	}
	s := time.Second
	want := []Node{
		timing(Node{
			Name: "cms1", URL: "https://cms1.example.org:443", Username: "metrics",
			Password: filePassword, PasswordFile: filepath.Join(dir, "pw"),
			TLS: TLS{CAFile: filepath.Join(dir, "ca.pem"), ServerName: "cms.example.org", ca: &caBundle{[]byte(caPEM)}},
		}, 5*s, 20*s, 10*s, 1*s, 2*time.Minute, 5*time.Minute),
		timing(Node{
			Name: "cms2", URL: "https://CMS2.example.org:8443", Username: "other",
			Password: "cms2-pw", PasswordFile: filepath.Join(dir, "sub", "cms2_pw"),
			TLS: TLS{CAFile: filepath.Join(dir, "ca.pem"), ServerName: "cms.example.org", InsecureSkipVerify: true, ca: &caBundle{[]byte(caPEM)}},
		}, 5*s, 20*s, 15*s, 1*s, 2*time.Minute, 10*time.Minute),
		timing(Node{
			Name: "cms3", URL: "https://[2001:db8::3]:445", Username: "metrics",
			Password: inlinePassword,
			TLS:      TLS{ServerName: "cms3.example.org"},
		}, 5*s, 20*s, 10*s, 1*s, 2*time.Minute, 5*time.Minute),
		timing(Node{
			Name: "cms4", URL: "https://cms4", Username: "metrics",
			Password: filePassword, PasswordFile: filepath.Join(dir, "pw"),
			TLS: TLS{CAFile: filepath.Join(dir, "other.pem"), ServerName: "cms.example.org", ca: &caBundle{[]byte(otherPEM)}},
		}, 5*s, 20*s, 10*s, 1*s, 2*time.Minute, 5*time.Minute),
	}
	// keep_calls_when_down: cms2's own; the others 3 probe intervals.
	for i := range want {
		want[i].KeepCallsWhenDown = 3 * 20 * s
	}
	want[1].KeepCallsWhenDown = 5 * time.Minute
	if len(cfg.Nodes) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(cfg.Nodes), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(cfg.Nodes[i], want[i]) {
			t.Errorf("node %d:\n got %+v\nwant %+v\n(passwords %v)", i, cfg.Nodes[i], want[i],
				cfg.Nodes[i].Password.Reveal() == want[i].Password.Reveal())
		}
	}
	// cms2 switches verification off: exactly one warning, naming it.
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], "cms.yml:18: nodes[1] (cms2): tls.insecure_skip_verify: ") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
}

// Reloading after a password file or CA file changed marks exactly the
// nodes using it as changed, compared as the reload does (reflect.DeepEqual);
// re-reading unchanged files changes nothing.
func TestReloadSeesFileContentChanges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", filePassword)
	writeFile(t, dir, "pw2", "second")
	writeFile(t, dir, "ca.pem", selfSignedCA(t, "ca-1"))
	writeFile(t, dir, "cms.yml", y(
		"defaults: {username: u, password_file: pw}",
		"nodes:",
		"  - {name: a, url: 'https://a'}",
		"  - {name: b, url: 'https://b', password_file: pw2}",
		"  - {name: c, url: 'https://c', tls: {ca_file: ca.pem}}",
	))
	load := func() []Node {
		t.Helper()
		cfg, err := Load(dir + "/cms.yml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Nodes
	}
	changed := func(old, cur []Node) []string {
		var names []string
		for i := range old {
			if !reflect.DeepEqual(old[i], cur[i]) {
				names = append(names, old[i].Name)
			}
		}
		return names
	}

	v1 := load()
	if got := changed(v1, load()); got != nil {
		t.Fatalf("reload of unchanged files: changed %v", got)
	}

	writeFile(t, dir, "pw2", "rotated")
	v2 := load()
	if got := changed(v1, v2); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("after rotating b's password: changed %v, want [b]", got)
	}

	writeFile(t, dir, "ca.pem", selfSignedCA(t, "ca-2"))
	v3 := load()
	if got := changed(v2, v3); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("after replacing c's CA: changed %v, want [c]", got)
	}
}

func TestBuiltinDefaults(t *testing.T) {
	cfg, err := Parse([]byte(y(
		"nodes:",
		"  - name: a",
		"    url: https://a",
		"    username: u",
		"    password: p",
	)), "cms.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	builtin := cmsws.DefaultTiming()
	want := Node{
		Name: "a", URL: "https://a", Username: "u", Password: "p",
		Timing:            builtin,
		KeepCallsWhenDown: DefaultKeepCallsWhenDownProbes * builtin.ProbeInterval, Connections: 1,
		REST: builtinREST,
	}
	if len(cfg.Nodes) != 1 || !reflect.DeepEqual(cfg.Nodes[0], want) {
		t.Errorf("got %+v\nwant %+v", cfg.Nodes, want)
	}
	if !cfg.PerCallMetrics {
		t.Error("PerCallMetrics defaults to false, want true")
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
	// The built-in values satisfy the rules the file's values must obey.
	if !(builtin.ProbeTimeout < builtin.ProbeInterval && builtin.BackoffMin <= builtin.BackoffMax) {
		t.Error("built-in defaults break their own validation rules")
	}
}

// Load resolves relative paths against the config file's directory, not the
// working directory, and reports errors under the path it was given.
func TestLoadRelativePaths(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "etc/pw", filePassword)
	path := writeFile(t, dir, "etc/cms.yml", y(
		"defaults: {username: u, password_file: pw}",
		"nodes: [{name: a, url: 'https://a'}]",
	))
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Nodes[0].Password.Reveal(); got != filePassword {
		t.Errorf("password = %q, want the file's content", got)
	}
	if got, want := cfg.Nodes[0].PasswordFile, filepath.Join(dir, "etc", "pw"); got != want {
		t.Errorf("PasswordFile = %q, want %q", got, want)
	}
}

// A password file readable by everyone loads, with a warning naming the file
// and the nodes affected.
func TestWorldReadablePasswordWarning(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", filePassword)
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte(y(
		"defaults:",
		"  username: u",
		"  password_file: pw",
		"nodes:",
		"  - {name: a, url: 'https://a'}",
		"  - {name: b, url: 'https://b'}",
	)), "cms.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "cms.yml:3: defaults.password_file: for nodes a, b: " + pw + " is readable by all users"
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], want) {
		t.Errorf("warnings = %q, want one starting %q", cfg.Warnings, want)
	}
}

// A defaults password file that no node uses is not read: an error there
// would block a config whose nodes all bring their own.
func TestUnusedDefaultPasswordFileNotRead(t *testing.T) {
	cfg, err := Parse([]byte(y(
		"defaults: {username: u, password_file: missing}",
		"nodes: [{name: a, url: 'https://a', password: p}]",
	)), "cms.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Nodes[0].PasswordFile != "" || cfg.Nodes[0].Password.Reveal() != "p" {
		t.Errorf("node = %+v", cfg.Nodes[0])
	}
}

// Anchors and merge keys are plain YAML; operators use them. As in YAML, a
// mapping's own keys win over merged ones and earlier merges over later;
// and null, like leaving a key out, keeps the inherited value.
func TestYAMLAnchors(t *testing.T) {
	cfg, err := Parse([]byte(y(
		"defaults: {username: u, password: p, probe_timeout: 5s}",
		"nodes:",
		"  - &n {name: a, url: 'https://a', probe_interval: 17s}",
		"  - {<<: *n, name: b, url: 'https://b'}",
		"  - {<<: [{probe_interval: 20s}, *n], name: c, url: 'https://c', probe_timeout: ~}",
	)), "cms.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range cfg.Nodes {
		got = append(got, fmt.Sprintf("%s %s %s/%s", n.Name, n.URL, n.ProbeInterval, n.ProbeTimeout))
	}
	want := []string{"a https://a 17s/5s", "b https://b 17s/5s", "c https://c 20s/5s"}
	if !slices.Equal(got, want) {
		t.Errorf("nodes = %q, want %q", got, want)
	}
}

func TestConnectionsCapacityAndRoster(t *testing.T) {
	cfg, err := Parse([]byte(strings.Join([]string{
		"defaults:",
		"  username: u",
		"  password: p",
		"  connections: 2",
		"  capacity_participants: 500",
		"roster:",
		"  include: ['Board.*', 'All hands']",
		"  exclude: ['.*test.*']",
		"  batch_interval: 250ms",
		"nodes:",
		"  - name: a",
		"    url: https://a",
		"  - name: b",
		"    url: https://b",
		"    connections: 1",
		"    capacity_participants: 0",
	}, "\n")), "cms.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.Nodes[0], cfg.Nodes[1]; a.Connections != 2 || a.CapacityParticipants != 500 || b.Connections != 1 || b.CapacityParticipants != 0 {
		t.Fatalf("inheritance: a %d/%d, b %d/%d", a.Connections, a.CapacityParticipants, b.Connections, b.CapacityParticipants)
	}
	ro := cfg.Roster
	if ro.BatchInterval != 250*time.Millisecond || len(ro.Include) != 2 || len(ro.Exclude) != 1 {
		t.Fatalf("roster = %+v", ro)
	}
	// Anchored like Prometheus relabelling: a full match, not a substring.
	if !ro.Include[0].MatchString("Board meeting") || ro.Include[1].MatchString("All hands 2") || !ro.Exclude[0].MatchString("a test b") {
		t.Fatal("patterns are not anchored full matches")
	}

	_, err = Parse([]byte(strings.Join([]string{
		"defaults:",
		"  username: u",
		"  password: p",
		"roster:",
		"  include: ['(unclosed']",
		"nodes:",
		"  - name: a",
		"    url: https://a",
		"    connections: 5",
		"    capacity_participants: -1",
	}, "\n")), "cms.yml", t.TempDir())
	if err == nil {
		t.Fatal("invalid values accepted")
	}
	for _, want := range []string{"cms.yml:5: roster.include[0]", "(unclosed", "cms.yml:9: nodes[0] (a): connections: 5 is out of range 1..4", "capacity_participants: must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// builtinREST is the rest block of a node that sets none.
var builtinREST = REST{Enabled: true, Interval: cmsrest.DefaultInterval, Timeout: cmsrest.DefaultTimeout}

// The rest block inherits key by key from defaults, like every setting,
// and is checked where it is written.
func TestRESTSettings(t *testing.T) {
	cfg, err := Parse([]byte(`
defaults:
  username: u
  password: p
  rest:
    enabled: false
    interval: 1m
nodes:
  - name: a
    url: https://a
  - name: b
    url: https://b
    rest:
      enabled: true
      timeout: 20s
`), "cms.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []REST{
		{Enabled: false, Interval: time.Minute, Timeout: cmsrest.DefaultTimeout},
		{Enabled: true, Interval: time.Minute, Timeout: 20 * time.Second},
	}
	for i, n := range cfg.Nodes {
		if n.REST != want[i] {
			t.Errorf("%s: rest %+v, want %+v", n.Name, n.REST, want[i])
		}
	}

	for _, tc := range []struct{ block, want string }{
		{"interval: 1s", `cms.yml:8: nodes[0] (a): rest.interval: must be at least 5s, got 1s (the poller is meant to be low-rate`},
		{"timeout: 40s", `cms.yml:8: nodes[0] (a): rest.timeout: must be less than rest.interval (30s), got 40s`},
		{"timeout: 0s", `cms.yml:8: nodes[0] (a): rest.timeout: must be at least 1s, got 0s`},
		{"enable: true", `unknown field "enable"`},
	} {
		_, err := Parse([]byte(`
nodes:
  - name: a
    url: https://a
    username: u
    password: p
    rest:
      `+tc.block+`
`), "cms.yml", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rest %q: error %v, want it to contain %q", tc.block, err, tc.want)
		}
	}
}

// A mapping that merges itself ("<<: *anchor" inside the anchored
// mapping, directly or through another) used to recurse until the stack
// overflowed: a crash no recover catches, found by FuzzLoad. It is an
// error at the merge.
func TestSelfMergeIsAnError(t *testing.T) {
	for _, tc := range []struct {
		yaml, want string
	}{
		// As FuzzLoad found it: the duplicate name keeps yaml's own
		// "anchor contains itself" check from running.
		{y("defaults: {username: u, password: p}", "nodes:",
			"  - &n {name: a, <<: [{probe_interval: 20s}, *n], name: c, url: https://a}"),
			`cms.yml:3: nodes[0] (a): "<<" merges a mapping into itself`},
		{y("defaults:", "  username: u", "  password: p", "nodes:", "  - &n", "    name: a", "    name: b",
			"    url: https://a", "    <<: [*n]"),
			`cms.yml:9: nodes[0] (a): "<<" merges a mapping into itself`},
		{y("defaults: &d", "  username: u", "  username: v", "  password: p", "  <<: *d", "nodes:", "  - name: a", "    url: https://a"),
			`cms.yml:5: defaults: "<<" merges a mapping into itself`},
	} {
		_, err := Parse([]byte(tc.yaml), "cms.yml", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q\n%s", err, tc.want, tc.yaml)
		}
	}
}
