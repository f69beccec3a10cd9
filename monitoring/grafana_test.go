package monitoring

import (
	"slices"
	"testing"
)

func TestFormatMulti(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   string
	}{
		{[]string{"cms"}, `cms`},
		{[]string{"127.0.0.1:10041"}, `127\\.0\\.0\\.1:10041`},
		{[]string{"cms", "cms-lab"}, `(cms|cms-lab)`},
		{[]string{`a\b`, "x|y", "[::1]:9"}, `(a\\\\b|x\\|y|\\[::1\\]:9)`},
	} {
		if got := FormatMulti(c.values...); got != c.want {
			t.Errorf("FormatMulti(%q) = %s, want %s", c.values, got, c.want)
		}
	}
	// What Prometheus makes of it: the regex matches exactly the values.
	vals := []string{"127.0.0.1:10041", "cms.example.org:10041", `a\b`, "x|y"}
	expr, err := Substitute(`up{instance=~"$instance"}`, Vars{"instance": FormatMulti(vals...)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	m := Matcher(Selectors(e)[0], "instance")
	for _, v := range vals {
		if !m.Matches(v) {
			t.Errorf("%s does not match %q", m, v)
		}
	}
	for _, v := range []string{"127x0x0x1:10041", "x", "a\\\\b", "127.0.0.1:1004"} {
		if m.Matches(v) {
			t.Errorf("%s matches %q", m, v)
		}
	}
}

func TestVariableOptions(t *testing.T) {
	texts := []string{
		QueryResultText(map[string]string{"correlator": "c1", "instance": "a:1", "job": "cms", "meeting": "Town Hall @ a:1", "name": "Town Hall"}, "1", 1700000000000),
		QueryResultText(map[string]string{"correlator": "c1", "instance": "b:1", "job": "lab", "meeting": "Town Hall @ b:1", "name": "Town Hall"}, "1", 1700000000000),
		QueryResultText(map[string]string{"correlator": "c1", "instance": "b:1", "job": "lab", "meeting": "Town Hall @ b:1", "name": "Town Hall"}, "1", 1700000000000),
		"something else",
	}
	if want := `{correlator="c1",instance="a:1",job="cms",meeting="Town Hall @ a:1",name="Town Hall"} 1 1700000000000`; texts[0] != want {
		t.Errorf("query_result text %s, want %s", texts[0], want)
	}
	v := Variable{Name: "meeting", Regex: `/correlator="(?<value>[^"]*",instance="[^"]*",job="[^"]*)",meeting="(?<text>[^"]*)"/`}
	got, err := v.Options(texts)
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{
		{Text: "Town Hall @ a:1", Value: `c1",instance="a:1",job="cms`},
		{Text: "Town Hall @ b:1", Value: `c1",instance="b:1",job="lab`},
	}
	if !slices.Equal(got, want) {
		t.Errorf("options %v, want %v", got, want)
	}
	got, err = Variable{Regex: `/^(\w+)-/`}.Options([]string{"cms-a", "cms-b", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Option{{"cms", "cms"}}; !slices.Equal(got, want) {
		t.Errorf("first group: %v, want %v", got, want)
	}
	if _, err := (Variable{Regex: `/x/g`}).Options(nil); err == nil {
		t.Error("regex flag g accepted")
	}
}

func TestKeepsLabel(t *testing.T) {
	for _, c := range []struct {
		expr, label string
		want        bool
	}{
		{`x{job="a"}`, "instance", true},
		{`sum(x)`, "instance", false},
		{`sum by (job, instance) (x)`, "instance", true},
		{`sum by (job) (x)`, "instance", false},
		{`sum without (node) (x)`, "instance", true},
		{`sum without (instance) (x)`, "instance", false},
		{`topk(3, sum by (instance, name) (x))`, "name", true},
		{`count(count by (instance) (x) > 1) or vector(0)`, "instance", false},
		{`60 * rate(x[5m])`, "instance", true},
		{`a / on (node) b`, "instance", false},
		{`a / on (instance, node) b`, "node", true},
		{`a * on (instance, call) group_left (name) b`, "name", true},
		{`a * on (instance, call) group_left (name) b`, "node", true},
		{`sum by (node) (a) * on (node) group_right sum by (node, instance) (b)`, "instance", true},
		{`a / ignoring (instance) b`, "instance", false},
		{`a unless sum(b)`, "instance", true},
		{`sum by (instance) (a) or sum(b)`, "instance", false},
		{`label_join(sum(x), "meeting", " ", "name")`, "meeting", true},
		{`time() - x`, "node", true},
		{`vector(1)`, "instance", false},
	} {
		e, err := ParseExpr(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := KeepsLabel(e, c.label); got != c.want {
			t.Errorf("KeepsLabel(%s, %s) = %v, want %v", c.expr, c.label, got, c.want)
		}
	}
}

func TestLabelLists(t *testing.T) {
	e, err := ParseExpr(`sum(a) + sum by (node) (b) / on (job, node) group_left c - ignoring (x) d unless sum without (y) (e)`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range LabelLists(e) {
		got = append(got, l.Kind+" "+l.Labels[0])
	}
	slices.Sort(got)
	if want := []string{"by node", "ignoring x", "on job", "without y"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
