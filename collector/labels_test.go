package collector

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/cms-exporter/cms_exporter/planner"
)

// TestRawIDsAreKeys: ids that clean to the same label value (sharing their
// first maxLabelLen bytes, or differing only in invalid UTF-8) are distinct
// calls and meetings; each keeps its own series, and the exposition gathers
// without duplicates.
func TestRawIDsAreKeys(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	h.synced("a")
	prefix := strings.Repeat("x", maxLabelLen)
	long1, long2 := prefix+"1", prefix+"2"
	bad1, bad2 := "c\xff", "c\xfe"
	corr1, corr2 := prefix+"m1", prefix+"m2"
	h.calls("a", add(long1, corr1), add(long2, corr2), add(bad1, "m\xff"), add(bad2, "m\xfe"))
	if got := h.value("cms_node_calls", "node", "a", "call_type", "coSpace"); got != 4 {
		t.Fatalf("cms_node_calls = %v, want 4 distinct calls", got)
	}
	if got := h.value("cms_cluster_meetings", "call_type", "coSpace"); got != 4 {
		t.Fatalf("cms_cluster_meetings = %v, want 4 distinct meetings", got)
	}
	h.calls("a", upd(long2, participants(5)), upd(bad2, participants(7)))
	h.calls("a", rm(long1), rm(bad1))
	if got := h.value("cms_cluster_participants"); got != 12 {
		t.Errorf("cms_cluster_participants = %v, want 5+7 of the two calls left", got)
	}
	if got := h.value("cms_meetings_ended_total"); got != 2 {
		t.Errorf("cms_meetings_ended_total = %v, want 2", got)
	}
	if got := h.errors("a", reasonUnknownCall); got != 0 {
		t.Errorf("unknown_call = %v, want 0", got)
	}

	// The planner is told the raw ids: they go back to CMS in callRoster
	// subscriptions, and a cleaned id would name another call (or none).
	meetings, _, _ := h.c.PlanInput()
	calls := map[string]bool{}
	for _, m := range meetings {
		calls[m.Calls["a"]] = true
	}
	if !calls[long2] || !calls[bad2] || len(calls) != 2 {
		t.Errorf("PlanInput calls = %v, want the raw ids %q and %q", calls, long2, bad2)
	}

	// Add the removed ones back (as other calls): four calls whose ids
	// clean pairwise alike must give four distinct, valid label values.
	h.calls("a", add(long1+"b", corr1), add("c\xfd", ""))
	h.calls("a", add(long1, corr1), add(bad1, ""))
	mfs, err := gatherAll(h.c)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "cms_call_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() != "call" && lp.GetName() != "correlator" {
					continue
				}
				if v := lp.GetValue(); !utf8.ValidString(v) || len(v) > maxLabelLen {
					t.Errorf("label %s=%q is not a clean label value", lp.GetName(), v)
				}
			}
			seen[labelOf(m, "call")] = true
		}
	}
	if len(seen) != 6 {
		t.Errorf("cms_call_info call labels = %v, want 6 distinct", seen)
	}
}

// TestRosterOfLongCallID: a callRoster subscription names the call by its
// raw id, and the roster lands on that call, not on one sharing its prefix.
func TestRosterOfLongCallID(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	prefix := strings.Repeat("y", maxLabelLen)
	id1, id2 := prefix+"1", prefix+"2"
	h.synced("a", add(id1, "M1", participants(2)), add(id2, "M2", participants(1)))
	h.place("M2", "a", 0)
	sub := rosterSub(5, id2)
	h.activate("a", 0, sub)
	h.roster("a", 0, sub, padd("p1"))
	h.sync("a", 0)
	if got := h.value("cms_roster_coverage_ratio"); got != 0.5 {
		t.Errorf("coverage = %v, want 0.5 (M2 covered, M1 pending)", got)
	}
	if got := h.value("cms_call_roster_participants", "call", labelValue(id2), "state", "connected"); got != 1 {
		t.Errorf("roster of %s = %v, want 1", labelValue(id2), got)
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// TestLabelValue: clean values pass unchanged; anything cleaning would
// change gets a hash suffix, so distinct raw values stay distinct label
// values, and a clean value cannot impersonate a suffixed one.
func TestLabelValue(t *testing.T) {
	long := strings.Repeat("é", maxLabelLen)
	inputs := []string{"", "c1", "00000000-0000-4000-8000-000000000001", strings.Repeat("x", maxLabelLen),
		strings.Repeat("x", maxLabelLen) + "1", strings.Repeat("x", maxLabelLen) + "2",
		"c\xff", "c\xfe", "c\uFFFD", long, long + "a", "\xff" + long}
	inputs = append(inputs, labelValue("c\xff"), labelValue(long))
	out := map[string]string{}
	for _, in := range inputs {
		v := labelValue(in)
		if !utf8.ValidString(v) || len(v) > maxLabelLen {
			t.Errorf("labelValue(%q) = %q: not a clean label value", in, v)
		}
		if prev, dup := out[v]; dup {
			t.Errorf("labelValue(%q) = labelValue(%q) = %q", in, prev, v)
		}
		out[v] = in
		if in != labelValue(in) && utf8.ValidString(in) && len(in) <= maxLabelLen && !hasHashSuffix(in) {
			t.Errorf("labelValue changed the clean value %q", in)
		}
	}
	if v := labelValue("c1"); v != "c1" {
		t.Errorf("labelValue(c1) = %q", v)
	}
}

// TestPlanInputNameIsRaw: the include/exclude patterns match the meeting's
// name as CMS sent it, not its label value (cut at maxLabelLen).
func TestPlanInputNameIsRaw(t *testing.T) {
	h := newHarness(t, perCall)
	h.c.AddNode("a")
	long := strings.Repeat("n", maxLabelLen) + " [private]"
	h.synced("a", add("c1", "M", name(long)))
	meetings, _, _ := h.c.PlanInput()
	if len(meetings) != 1 || meetings[0].Name != long {
		t.Fatalf("PlanInput = %+v, want the raw name %q", meetings, long)
	}
	p := planner.Compute(planner.Input{Meetings: meetings, Connections: []planner.Connection{{Node: "a"}},
		Exclude: []*regexp.Regexp{regexp.MustCompile(`\[private\]$`)}}, planner.Plan{})
	if len(p.Excluded) != 1 {
		t.Errorf("plan = %+v, want the meeting excluded by its full name", p)
	}
}
