package collector

import (
	"strings"
	"testing"
)

// Every metric of the table is defined, once; every participant flag has
// its per-call family, and a cluster family or none.
func TestMetricTable(t *testing.T) {
	seen := map[string]bool{}
	for m, def := range metricTable {
		if !strings.HasPrefix(def.name, "cms_") || def.help == "" {
			t.Errorf("metric %d: name %q, help %q", m, def.name, def.help)
		}
		if seen[def.name] {
			t.Errorf("%s defined twice", def.name)
		}
		seen[def.name] = true
	}
	for f, m := range participantFlagMetrics {
		if !strings.HasPrefix(metricTable[m.call].name, "cms_call_participants_") {
			t.Errorf("flag %d: per-call family %s", f, metricTable[m.call].name)
		}
		if m.cluster != noMetric && !strings.HasPrefix(metricTable[m.cluster].name, "cms_cluster_participants_") {
			t.Errorf("flag %d: cluster family %s", f, metricTable[m.cluster].name)
		}
	}
}
