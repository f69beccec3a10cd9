package monitoring

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	rulesFile     = "../alerts/cms.rules.yml"
	ruleTestsGlob = "../alerts/tests/*.yml"
	runbookFile   = "../RUNBOOK.md"
	runbookURL    = "https://github.com/cms-exporter/cms_exporter/blob/main/RUNBOOK.md#"
)

var severities = []string{"info", "warning", "critical"}

// promtoolTests is the part of a promtool unit test file the coverage check
// reads.
type promtoolTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			EvalTime  string `yaml:"eval_time"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func TestRuleConventions(t *testing.T) {
	groups, err := LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := runbookAnchors(t)
	firing, quiet := promtoolCoverage(t)

	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			name := r.Alert
			sev := r.Labels["severity"]
			if !slices.Contains(severities, sev) {
				t.Errorf("%s: severity %q, want one of %v", name, sev, severities)
			}
			// Meeting changes are information for whoever runs the
			// meetings, never a reason to wake someone.
			if g.Name == "cms-meetings" && sev != "info" {
				t.Errorf("%s: a meeting change must be severity info, got %q", name, sev)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", name, a)
				}
			}
			if want := runbookURL + strings.ToLower(name); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", name, r.Annotations["runbook_url"], want)
			}
			if !anchors[strings.ToLower(name)] {
				t.Errorf("%s: RUNBOOK.md has no section %q", name, "## "+name)
			}
			if !firing[name] {
				t.Errorf("%s: no promtool case where it fires", name)
			}
			if !quiet[name] {
				t.Errorf("%s: no promtool case where it does not fire", name)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert in " + rulesFile)
	}
	t.Logf("%d alerting rules in %d groups", alerts, len(groups.Groups))
}

// runbookAnchors returns the GitHub anchors of RUNBOOK.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		a := strings.ToLower(m[1])
		a = drop.ReplaceAllString(a, "")
		a = strings.ReplaceAll(a, " ", "-")
		out[a] = true
	}
	return out
}

// promtoolCoverage reads the promtool test files and returns the alerts
// that have a case expecting them to fire and one expecting silence.
func promtoolCoverage(t *testing.T) (firing, quiet map[string]bool) {
	t.Helper()
	files, err := filepath.Glob(ruleTestsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files (%s): %v", ruleTestsGlob, err)
	}
	firing, quiet = map[string]bool{}, map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(b, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.Contains(pt.RuleFiles, "../"+filepath.Base(rulesFile)) {
			t.Errorf("%s: does not test %s", f, rulesFile)
		}
		for _, tc := range pt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	return firing, quiet
}
