package deploy

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite kubernetes/prometheusrule.yaml from ../alerts/cms.rules.yml")

const (
	rulesPath          = "../alerts/cms.rules.yml"
	prometheusRulePath = "kubernetes/prometheusrule.yaml"
)

const prometheusRuleHeader = `# Code generated from alerts/cms.rules.yml by
# ` + "`go test -run TestPrometheusRule -update`" + ` in deploy/; DO NOT EDIT.
# The alert rules as a Prometheus Operator PrometheusRule: edit
# alerts/cms.rules.yml (proven by promtool test rules) and regenerate.
`

// prometheusRule wraps the rule file's groups, comments and all, in a
// PrometheusRule. The groups node is carried over as parsed, not decoded
// and re-encoded, so every expression, template and comment is the rule
// file's own text.
func prometheusRule(rules []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", rulesPath, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a mapping", rulesPath)
	}
	var groups *yaml.Node
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "groups" {
			groups = top.Content[i+1]
		} else {
			return nil, fmt.Errorf("%s: unexpected top-level key %q", rulesPath, top.Content[i].Value)
		}
	}
	if groups == nil {
		return nil, fmt.Errorf("%s: no groups", rulesPath)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	out := mapping(
		str("apiVersion"), str("monitoring.coreos.com/v1"),
		str("kind"), str("PrometheusRule"),
		str("metadata"), mapping(
			str("name"), str("cms-exporter"),
			str("labels"), mapping(str("app.kubernetes.io/name"), str("cms-exporter")),
		),
		str("spec"), mapping(str("groups"), groups),
	)
	var buf bytes.Buffer
	buf.WriteString(prometheusRuleHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode PrometheusRule: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode PrometheusRule: %w", err)
	}
	return buf.Bytes(), nil
}

// TestPrometheusRule fails when kubernetes/prometheusrule.yaml is not what
// the generator makes of the current rules (-update rewrites it), and
// checks the generator: the PrometheusRule decodes strictly into the
// Operator's type and holds the same groups as the rule file.
func TestPrometheusRule(t *testing.T) {
	rules, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := prometheusRule(rules)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(prometheusRulePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(prometheusRulePath)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s has drifted from %s: run `go test -run TestPrometheusRule -update` in deploy/ and commit the result", prometheusRulePath, rulesPath)
	}

	var pr monitoringv1.PrometheusRule
	if err := decodeStrict(got, &pr); err != nil {
		t.Fatalf("%s: %v", prometheusRulePath, err)
	}
	// The same data on both sides: the rule file's groups, and the spec's.
	var fromRules struct {
		Groups []any `json:"groups"`
	}
	var fromPR struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := sigsyaml.Unmarshal(rules, &fromRules); err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(got, &fromPR); err != nil {
		t.Fatal(err)
	}
	if len(fromRules.Groups) == 0 || !reflect.DeepEqual(fromRules.Groups, fromPR.Spec.Groups) {
		t.Errorf("the PrometheusRule's groups differ from %s", rulesPath)
	}
	n := 0
	for _, g := range pr.Spec.Groups {
		n += len(g.Rules)
	}
	t.Logf("%d groups, %d rules", len(pr.Spec.Groups), n)
}
