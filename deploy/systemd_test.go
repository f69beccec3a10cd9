package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitPath = "systemd/cms_exporter.service"

// unit is a systemd unit file: section → key → values in file order (a key
// may repeat; an empty assignment is kept as "").
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: not a key=value line in a section: %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSystemdUnitHardening checks the sandbox settings the unit promises:
// systemd-analyze verify accepts settings that are merely absent, so their
// presence is checked here.
func TestSystemdUnitHardening(t *testing.T) {
	svc := parseUnit(t, unitPath)["Service"]
	last := func(k string) (string, bool) {
		v := svc[k]
		if len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	want := map[string]string{
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"NoNewPrivileges": "yes",
		"ExecReload":      "/bin/kill -HUP $MAINPID",
	}
	for k, w := range want {
		if v, _ := last(k); v != w {
			t.Errorf("%s=%q, want %q", k, v, w)
		}
	}
	// An empty assignment: no capability at all.
	if v, ok := last("CapabilityBoundingSet"); !ok || v != "" {
		t.Errorf("CapabilityBoundingSet=%q (set: %v), want it empty", v, ok)
	}
	if v, _ := last("RestrictAddressFamilies"); v == "" {
		t.Error("RestrictAddressFamilies is not set")
	}
	user, _ := last("User")
	dyn, _ := last("DynamicUser")
	if (user == "" || user == "root" || user == "0") && dyn != "yes" {
		t.Errorf("no dedicated user: User=%q DynamicUser=%q", user, dyn)
	}
	exec, _ := last("ExecStart")
	if !strings.Contains(exec, "--config.file=/etc/cms_exporter/") {
		t.Errorf("ExecStart=%q does not read its config from /etc/cms_exporter", exec)
	}
	// Nothing may be made writable under the config directory.
	for _, k := range []string{"ReadWritePaths", "ConfigurationDirectory", "StateDirectory"} {
		for _, v := range svc[k] {
			if strings.Contains(v, "cms_exporter") {
				t.Errorf("%s=%s makes the exporter's files writable", k, v)
			}
		}
	}
	// The unit's name is the one RUNBOOK.md tells operators to look at.
	runbook, err := os.ReadFile("../RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(filepath.Base(unitPath), ".service")
	if !strings.Contains(strings.Join(strings.Fields(string(runbook)), " "), "systemctl status "+name+"`") {
		t.Errorf("RUNBOOK.md does not say `systemctl status %s`", name)
	}
}

// verifyUnit runs systemd-analyze on a copy of the unit whose ExecStart
// names bin (verify wants the binary to exist): verify must pass without
// a word (it only warns about unknown keys and bad values, with exit 0),
// and the offline security audit must rate the exposure at most 2.0 of 10.
func verifyUnit(t *testing.T, analyze, unitText, bin string) error {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, filepath.Base(unitPath))
	text := strings.ReplaceAll(unitText, "ExecStart=/usr/local/bin/cms_exporter ", "ExecStart="+bin+" ")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runTool(analyze, "verify", "--man=no", path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "" {
		return &toolComplaint{"systemd-analyze verify", out}
	}
	_, err = runTool(analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", path)
	return err
}

type toolComplaint struct{ tool, out string }

func (e *toolComplaint) Error() string { return e.tool + " complained:\n" + e.out }

// buildExporter builds the exporter for systemd-analyze to find.
func buildExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cms_exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestSystemdUnitVerifies(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	text, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildExporter(t)
	if err := verifyUnit(t, analyze, string(text), bin); err != nil {
		t.Fatal(err)
	}

	// The check itself can fail: a misspelt key, a bad value, a missing
	// binary, and a unit stripped of its sandbox are each refused.
	broken := map[string]string{
		"misspelt key":     strings.Replace(string(text), "ProtectHome=yes", "ProtectHom=yes", 1),
		"bad value":        strings.Replace(string(text), "ProtectHome=yes", "ProtectHome=maybe", 1),
		"missing binary":   strings.Replace(string(text), "/usr/local/bin/cms_exporter ", "/nonexistent/cms_exporter ", 1),
		"unknown section":  strings.Replace(string(text), "[Install]", "[Instal]", 1),
		"no sandbox":       stripLines(string(text), "Protect", "Private", "Restrict", "CapabilityBoundingSet=", "SystemCall", "NoNewPrivileges", "MemoryDeny", "LockPersonality", "UMask", "DevicePolicy", "RemoveIPC"),
		"root, no sandbox": stripLines(string(text), "User=", "Group=", "Protect", "Private", "CapabilityBoundingSet="),
	}
	for name, b := range broken {
		if b == string(text) {
			t.Fatalf("%s: the mutation changed nothing", name)
		}
		err := verifyUnit(t, analyze, b, bin)
		if err == nil {
			t.Errorf("%s: systemd-analyze accepted the broken unit", name)
			continue
		}
		t.Logf("%s: refused: %.200s", name, err)
	}
}

func stripLines(text string, prefixes ...string) string {
	var keep []string
	for l := range strings.Lines(text) {
		drop := false
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestSystemdSysusers applies the sysusers.d file to an empty root with
// systemd-sysusers: it must create the user and group the unit runs as,
// with no login shell.
func TestSystemdSysusers(t *testing.T) {
	sysusers := tool(t, "systemd-sysusers", "systemd")
	svc := parseUnit(t, unitPath)["Service"]
	if len(svc["User"]) != 1 || len(svc["Group"]) != 1 {
		t.Fatalf("want one User= and one Group=, have %q and %q", svc["User"], svc["Group"])
	}
	user, group := svc["User"][0], svc["Group"][0]

	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("systemd/cms_exporter.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runTool(sysusers, "--root="+root, abs); err != nil {
		t.Fatal(err)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := os.ReadFile(filepath.Join(root, "etc", "group"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for l := range strings.Lines(string(passwd)) {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) == 7 && f[0] == user {
			found = true
			if f[6] != "/usr/sbin/nologin" && f[6] != "/sbin/nologin" && f[6] != "/bin/false" {
				t.Errorf("user %s has the login shell %s", user, f[6])
			}
		}
	}
	if !found {
		t.Errorf("systemd-sysusers created no user %s:\n%s", user, passwd)
	}
	if !strings.HasPrefix(string(groups), group+":") && !strings.Contains(string(groups), "\n"+group+":") {
		t.Errorf("systemd-sysusers created no group %s:\n%s", group, groups)
	}
}
