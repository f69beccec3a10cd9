package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/cms-exporter/cms_exporter/planner"
)

// nameOf is the name label of a call's cms_call_info.
func nameOf(t *testing.T, h *harness, call string) string {
	t.Helper()
	mfs, err := gatherAll(h.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cms_call_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelOf(m, "call") == call {
				return labelOf(m, "name")
			}
		}
	}
	t.Fatalf("no cms_call_info for call %s", call)
	return ""
}

func TestMeetingNameModes(t *testing.T) {
	digest := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])[:12]
	}
	for _, tc := range []struct {
		mode       NameMode
		board, off string
	}{
		{"", "Board", "Board"},
		{NamesShow, "Board", "Board"},
		{NamesHash, digest("Board"), digest("Board")},
		{NamesOmit, "", ""},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			h := newHarness(t, Options{PerCallMetrics: true, MeetingNames: tc.mode})
			h.c.AddNode("a")
			h.synced("a", add("c1", "m1", name("Board")), add("c2", "m2", name("Board")), add("c3", "m3", name("")))
			if got := nameOf(t, h, "c1"); got != tc.board {
				t.Errorf("name of c1 = %q, want %q", got, tc.board)
			}
			if got := nameOf(t, h, "c2"); got != tc.off {
				t.Errorf("name of c2 = %q, want %q (same name, same value)", got, tc.off)
			}
			if got := nameOf(t, h, "c3"); got != "" {
				t.Errorf("name of the unnamed c3 = %q, want empty", got)
			}
		})
	}
}

// TestSetMeetingNames: a reload switches the mode for calls already
// rendered (their cached series included), and the planner's patterns keep
// matching the raw name whatever the labels show.
func TestSetMeetingNames(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a", add("c1", "M", name("Board [private]")))
	if got := nameOf(t, h, "c1"); got != "Board [private]" {
		t.Fatalf("name = %q", got)
	}
	h.c.SetMeetingNames(NamesOmit)
	if got := nameOf(t, h, "c1"); got != "" {
		t.Errorf("after SetMeetingNames(omit) name = %q, want empty", got)
	}
	h.c.SetMeetingNames(NamesHash)
	if got := nameOf(t, h, "c1"); len(got) != 12 {
		t.Errorf("after SetMeetingNames(hash) name = %q, want 12 hex digits", got)
	}
	meetings, _, _ := h.c.PlanInput()
	if len(meetings) != 1 || meetings[0].Name != "Board [private]" {
		t.Fatalf("PlanInput = %+v, want the raw name", meetings)
	}
	p := planner.Compute(planner.Input{Meetings: meetings, Connections: []planner.Connection{{Node: "a"}},
		Exclude: []*regexp.Regexp{regexp.MustCompile(`\[private\]`)}}, planner.Plan{})
	if len(p.Excluded) != 1 {
		t.Errorf("plan = %+v, want the meeting excluded by its raw name", p)
	}
	h.c.SetMeetingNames(NamesShow)
	if got := nameOf(t, h, "c1"); got != "Board [private]" {
		t.Errorf("after SetMeetingNames(show) name = %q", got)
	}
}

func TestParseNameMode(t *testing.T) {
	for in, want := range map[string]NameMode{"": NamesShow, "show": NamesShow, "hash": NamesHash, "omit": NamesOmit} {
		got, err := ParseNameMode(in)
		if err != nil || got != want {
			t.Errorf("ParseNameMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Hash", "hide", " show", "sha256"} {
		if got, err := ParseNameMode(in); err == nil {
			t.Errorf("ParseNameMode(%q) = %q, want an error", in, got)
		}
	}
}

// TestNameLabel: an unknown mode (a value that bypassed ParseNameMode)
// fails closed, and a shown name is a clean label value.
func TestNameLabel(t *testing.T) {
	if got := nameLabel("bogus", "Board"); got != "" {
		t.Errorf("nameLabel(bogus) = %q, want empty", got)
	}
	if got := nameLabel(NamesShow, "a\xffb"); got != "a\uFFFDb" {
		t.Errorf("nameLabel(show, invalid UTF-8) = %q", got)
	}
	if got := nameLabel(NamesHash, ""); got != "" {
		t.Errorf("nameLabel(hash, \"\") = %q, want empty: no name is no name", got)
	}
}
