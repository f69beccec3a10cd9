package collector

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// collectAndCompare is prometheus/testutil.CollectAndCompare in miniature.
// testutil itself cannot be imported: it needs github.com/kylelemons/godebug,
// which is not in go.sum, and go.sum is not ours to edit. Like testutil it
// registers c in a pedantic registry (which also checks Describe against
// Collect), parses the expected exposition text, and compares the families
// named, as text. Unlike testutil it ignores HELP lines, so expectations stay
// short; TYPE lines are compared.
func collectAndCompare(c prometheus.Collector, expected string, names ...string) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	got, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	wantMap, err := parser.TextToMetricFamilies(strings.NewReader(expected))
	if err != nil {
		return fmt.Errorf("parse expected: %w", err)
	}
	var want []*dto.MetricFamily
	for _, mf := range wantMap {
		want = append(want, mf)
	}
	gotLines, err := exposition(filterFamilies(got, names))
	if err != nil {
		return err
	}
	wantLines, err := exposition(filterFamilies(want, names))
	if err != nil {
		return err
	}
	var missing, extra []string
	for _, l := range wantLines {
		if !slices.Contains(gotLines, l) {
			missing = append(missing, l)
		}
	}
	for _, l := range gotLines {
		if !slices.Contains(wantLines, l) {
			extra = append(extra, l)
		}
	}
	if len(missing)+len(extra) == 0 {
		return nil
	}
	var b strings.Builder
	for _, l := range missing {
		fmt.Fprintf(&b, "\n- %s", l)
	}
	for _, l := range extra {
		fmt.Fprintf(&b, "\n+ %s", l)
	}
	return fmt.Errorf("metrics differ (- expected, + got):%s", b.String())
}

func filterFamilies(mfs []*dto.MetricFamily, names []string) []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		if slices.Contains(names, mf.GetName()) {
			out = append(out, mf)
		}
	}
	return out
}

// exposition renders families as sorted text lines without HELP.
func exposition(mfs []*dto.MetricFamily) ([]string, error) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		mf.Help = nil
		for _, m := range mf.GetMetric() {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	var lines []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "# HELP") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines, nil
}

// gatherAll gathers c through a pedantic registry.
func gatherAll(c prometheus.Collector) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return reg.Gather()
}

// value returns the value of the one series of family name whose labels
// include all of want, and whether there is exactly one.
func value(c prometheus.Collector, name string, want map[string]string) (float64, bool, error) {
	mfs, err := gatherAll(c)
	if err != nil {
		return 0, false, err
	}
	var found []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if !hasLabel(m, k, v) {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				found = append(found, m.Gauge.GetValue())
			case m.Counter != nil:
				found = append(found, m.Counter.GetValue())
			}
		}
	}
	if len(found) != 1 {
		return 0, false, nil
	}
	return found[0], true, nil
}

func hasLabel(m *dto.Metric, name, val string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name && lp.GetValue() == val {
			return true
		}
	}
	return false
}
