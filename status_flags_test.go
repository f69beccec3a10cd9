package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's flag table lists exactly the flags the program declares
// (kingpin's own --help and --version included), each with its default.
func TestREADMEFlagTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	ok(t, err)
	s := string(readme)
	begin, end := strings.Index(s, "<!-- flags-table:begin -->"), strings.Index(s, "<!-- flags-table:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no flags table markers (<!-- flags-table:begin --> … <!-- flags-table:end -->)")
	}
	row := regexp.MustCompile("^\\| (?:`-[a-z]`, )?`--([a-z0-9.-]+)` \\|([^|]*)\\|")
	documented := map[string]string{}
	for _, line := range strings.Split(s[begin:end], "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		} else if strings.HasPrefix(line, "| `") {
			t.Errorf("README flag row not understood: %s", line)
		}
	}
	var f flags
	app := newApp(&f)
	declared := map[string]string{}
	for _, fl := range app.Model().Flags {
		if fl.Hidden { // --help-long, --help-man, --completion-*: kingpin's
			continue
		}
		declared[fl.Name] = strings.Join(fl.Default, ",")
	}
	for name, def := range declared {
		doc, found := documented[name]
		switch {
		case !found:
			t.Errorf("--%s is a flag but not in the README table", name)
		case doc != def:
			t.Errorf("--%s: README default %q, code %q", name, doc, def)
		}
	}
	for name := range documented {
		if _, found := declared[name]; !found {
			t.Errorf("README lists --%s, which is not a flag", name)
		}
	}
}

// The README, the RUNBOOK and the rules file's own comments name one and
// the same installed path of the rules, and every one of them names it.
func TestOneRulesPath(t *testing.T) {
	path := regexp.MustCompile(`/etc/prometheus/[A-Za-z0-9_./-]*\.ya?ml`)
	found := map[string][]string{}
	for _, file := range []string{"README.md", "RUNBOOK.md", "alerts/cms.rules.yml"} {
		b, err := os.ReadFile(file)
		ok(t, err)
		ps := path.FindAllString(string(b), -1)
		if len(ps) == 0 {
			t.Errorf("%s names no installed path of the rules", file)
		}
		for _, p := range ps {
			found[p] = append(found[p], file)
		}
	}
	if len(found) > 1 {
		t.Errorf("the rules are installed under several paths: %v", found)
	}
	b, err := os.ReadFile("README.md")
	ok(t, err)
	if strings.Contains(string(b), "next to Prometheus' configuration") {
		t.Error("README says to copy the rules next to Prometheus' configuration, and lists them under rules/")
	}
}
