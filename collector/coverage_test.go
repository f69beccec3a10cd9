package collector

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/internal/testutil"
	"github.com/cms-exporter/cms_exporter/planner"
)

func TestCoverageBudgetAndLogs(t *testing.T) {
	var buf testutil.SyncBuffer
	h := newHarness(t, Options{PerCallMetrics: true, Logger: log.NewLogfmtLogger(&buf)})
	h.c.AddNode("a")
	h.c.AddNode("b")
	h.synced("a", add("c1", "Big", participants(9)), add("c2", "Mid", participants(5)), add("c3", "Small", participants(1)))
	h.synced("b", add("c4", "Private", participants(3)), add("c5", "Big", participants(9)))
	h.connectOn("a", 1)

	// No plan yet: coverage 0 of 4 eligible... but no plan means no log.
	h.advance(time.Second)
	if l := buf.Lines("roster coverage"); len(l) != 0 {
		t.Fatalf("coverage logged before any plan: %v", l)
	}
	h.expect(coverageText(0, 0, 4, 0, 0), coverageNames...)

	h.plan = map[string]planner.Connection{"Big": {Node: "a", Number: 1}, "Mid": {Node: "a", Number: 0}}
	// The planner limits a's connections to 2 subscriptions (a demo-like
	// budget): a/0 is full, which is why Small is skipped; b has CMS's 100.
	setTestPlan(h.c, h.plan, []string{"Small"}, []string{"Private"}, map[planner.Connection]int{{Node: "a"}: 2, {Node: "a", Number: 1}: 1, {Node: "b"}: 1},
		map[planner.Connection]int{{Node: "a"}: 2, {Node: "a", Number: 1}: 2})
	h.expect(coverageText(0, 0, 2, 1, 1)+`# TYPE cms_subscription_budget_used gauge
cms_subscription_budget_used{node="a",connection="0"} 2
cms_subscription_budget_used{node="a",connection="1"} 1
cms_subscription_budget_used{node="b",connection="0"} 1
# TYPE cms_subscription_budget_left gauge
cms_subscription_budget_left{node="a",connection="0"} 0
cms_subscription_budget_left{node="a",connection="1"} 1
cms_subscription_budget_left{node="b",connection="0"} 99
`, append(coverageNames, "cms_subscription_budget_used", "cms_subscription_budget_left")...)

	big, mid := rosterSub(1, "c1"), rosterSub(5, "c2")
	h.activate("a", 1, big)
	h.roster("a", 1, big, padd("p1", videoMuted(true)))
	h.activate("a", 0, mid)
	h.roster("a", 0, mid, padd("p2", txAudioMuted(true)))
	h.sync("a", 0)
	h.sync("a", 1)
	h.expect(coverageText(2.0/3, 2, 0, 1, 1)+clusterRosterText(0, 1, 1, 0, 0), append(coverageNames, clusterRosterNames...)...)

	// The budget grows (more connections): everything eligible covered.
	h.plan["Small"] = planner.Connection{Node: "a", Number: 1}
	setTestPlan(h.c, h.plan, nil, []string{"Private"}, map[planner.Connection]int{{Node: "a"}: 2, {Node: "a", Number: 1}: 2, {Node: "b"}: 1}, nil)
	small := rosterSub(2, "c3")
	h.activate("a", 1, small)
	h.sync("a", 1)
	h.advance(time.Second) // Run's tick logs coverage changes
	h.expect(coverageText(1, 3, 0, 0, 1), coverageNames...)

	// Connection 1 drops: its meetings are pending again; connection 0 is
	// untouched.
	h.disconnectOn("a", 1, cmsws.DisconnectReadError)
	h.advance(time.Second)
	h.expect(coverageText(1.0/3, 1, 2, 0, 1)+"# TYPE cms_up gauge\ncms_up{node=\"a\"} 1\ncms_up{node=\"b\"} 1\n",
		append(coverageNames, "cms_up")...)

	var got []string
	for _, l := range buf.Lines("roster coverage") {
		if strings.Contains(l, "partial") {
			got = append(got, "partial")
		} else {
			got = append(got, "complete")
		}
	}
	want := []string{"partial", "complete", "partial"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("coverage log lines:\n%s\nwant %v", strings.Join(buf.Lines("roster coverage"), "\n"), want)
	}
	if l := buf.Lines("roster coverage partial"); len(l) == 0 || !strings.Contains(l[0], "covered=0 pending=2 skipped=1 excluded=1") {
		t.Errorf("first partial line lacks the counts: %v", l)
	}

	// A removed node's budget series go.
	h.c.RemoveNode("b")
	if _, ok, _ := value(h.c, "cms_subscription_budget_used", map[string]string{"node": "b"}); ok {
		t.Error("budget series of a removed node left")
	}
}
