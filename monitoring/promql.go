package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql is Prometheus' own parser with its default options: the syntax
// every supported Prometheus accepts.
var promql = parser.NewParser(parser.Options{})

// ParseExpr parses a PromQL expression with Prometheus' parser.
func ParseExpr(expr string) (parser.Expr, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	return e, nil
}

// Vars are values for Grafana's template variables ($job, ${node},
// $__rate_interval, ...), by name without the "$".
type Vars map[string]string

// grafanaVar matches $name, ${name} and ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)`)

// Substitute replaces every Grafana variable in expr by its value in vars.
// A variable vars does not know is an error: a misspelt variable in a
// dashboard must fail, not pass through.
func Substitute(expr string, vars Vars) (string, error) {
	var missing []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, "$"+name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown variable(s) %s in %q", strings.Join(missing, ", "), expr)
	}
	return out, nil
}

// MetricNames returns the metric names an expression selects, sorted and
// without duplicates. A selector that names no metric by equality (only a
// regular expression on __name__, or none) is returned as an error: its
// names cannot be checked.
func MetricNames(e parser.Expr) ([]string, error) {
	set := map[string]bool{}
	var errs []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			errs = append(errs, vs.String())
			return nil
		}
		set[name] = true
		return nil
	})
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(errs) > 0 {
		return names, fmt.Errorf("selector(s) without a metric name: %s", strings.Join(errs, ", "))
	}
	return names, nil
}

// rateFuncs are the functions whose range should follow Grafana's
// $__rate_interval: it is at least four scrape intervals, so a panel never
// shows gaps when zoomed in, whatever the scrape interval.
var rateFuncs = []string{"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"}

// RateRange is the range of a counter function's range vector.
type RateRange struct {
	Func, Range string
}

// RateRanges lists the range of every rate-like function call in e.
func RateRanges(e parser.Expr) []RateRange {
	var out []RateRange
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		call, ok := n.(*parser.Call)
		if !ok || !slices.Contains(rateFuncs, call.Func.Name) {
			return nil
		}
		for _, arg := range call.Args {
			if ms, ok := arg.(*parser.MatrixSelector); ok {
				out = append(out, RateRange{Func: call.Func.Name, Range: ms.Range.String()})
			}
		}
		return nil
	})
	return out
}

// Selectors returns every vector selector of e (also those inside range
// vectors and subqueries).
func Selectors(e parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// Matcher returns the selector's matcher on label name, or nil.
func Matcher(vs *parser.VectorSelector, name string) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Variables returns the names of the Grafana variables expr refers to.
func Variables(expr string) []string {
	var out []string
	for _, m := range grafanaVar.FindAllStringSubmatch(expr, -1) {
		if name := m[1] + m[2]; !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// KeepsLabel reports whether the series e returns can carry the label
// name: a selector carries every label; an aggregation only those it
// groups by (or all but those it drops); a one-to-one match on (...) only
// the matching labels, group_left the left side's plus those it includes;
// and, unless keep the left side's; or needs both sides. Literals, vector()
// and time() carry none.
func KeepsLabel(e parser.Expr, name string) bool {
	switch n := e.(type) {
	case *parser.VectorSelector, *parser.MatrixSelector:
		return true
	case *parser.NumberLiteral, *parser.StringLiteral:
		return false
	case *parser.ParenExpr:
		return KeepsLabel(n.Expr, name)
	case *parser.UnaryExpr:
		return KeepsLabel(n.Expr, name)
	case *parser.SubqueryExpr:
		return KeepsLabel(n.Expr, name)
	case *parser.StepInvariantExpr:
		return KeepsLabel(n.Expr, name)
	case *parser.AggregateExpr:
		switch n.Op {
		case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
			return KeepsLabel(n.Expr, name) // they return input series whole
		case parser.COUNT_VALUES:
			if s, ok := n.Param.(*parser.StringLiteral); ok && s.Val == name {
				return true
			}
		}
		if n.Without {
			return !slices.Contains(n.Grouping, name) && KeepsLabel(n.Expr, name)
		}
		return slices.Contains(n.Grouping, name) && KeepsLabel(n.Expr, name)
	case *parser.Call:
		switch n.Func.Name {
		case "label_replace", "label_join":
			if s, ok := n.Args[1].(*parser.StringLiteral); ok && s.Val == name {
				return true
			}
		case "histogram_quantile":
			return name != "le" && KeepsLabel(n.Args[1], name)
		}
		for _, a := range n.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return KeepsLabel(a, name)
			}
		}
		return false // vector(), time(), scalar(), ...
	case *parser.BinaryExpr:
		lt, rt := n.LHS.Type(), n.RHS.Type()
		switch {
		case lt != parser.ValueTypeVector && rt != parser.ValueTypeVector:
			return false
		case lt != parser.ValueTypeVector:
			return KeepsLabel(n.RHS, name)
		case rt != parser.ValueTypeVector:
			return KeepsLabel(n.LHS, name)
		}
		switch n.Op {
		case parser.LAND, parser.LUNLESS:
			return KeepsLabel(n.LHS, name)
		case parser.LOR:
			return KeepsLabel(n.LHS, name) && KeepsLabel(n.RHS, name)
		}
		vm := n.VectorMatching
		many, one := n.LHS, n.RHS
		if vm != nil && vm.Card == parser.CardOneToMany {
			many, one = n.RHS, n.LHS
		}
		if vm == nil || vm.Card == parser.CardOneToOne {
			if vm != nil && vm.On {
				return slices.Contains(vm.MatchingLabels, name) && KeepsLabel(many, name)
			}
			if vm != nil && slices.Contains(vm.MatchingLabels, name) {
				return false // ignoring (name)
			}
			return KeepsLabel(many, name)
		}
		if slices.Contains(vm.Include, name) {
			return KeepsLabel(one, name)
		}
		return KeepsLabel(many, name)
	}
	return true // an expression this walk does not know: assume it keeps labels
}

// LabelList is a list of labels that decides which series an expression
// keeps apart or matches: by (...), without (...), on (...), ignoring (...).
type LabelList struct {
	Kind   string // "by", "without", "on", "ignoring"
	Labels []string
	Expr   string // the expression it belongs to
}

// LabelLists returns every grouping and vector matching of e that names
// labels. An aggregation without by or without (sum(x)) and a binary
// operation without on or ignoring name none: they are not listed.
func LabelLists(e parser.Expr) []LabelList {
	var out []LabelList
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			if n.Without {
				out = append(out, LabelList{"without", n.Grouping, n.String()})
			} else if len(n.Grouping) > 0 {
				out = append(out, LabelList{"by", n.Grouping, n.String()})
			}
		case *parser.BinaryExpr:
			vm := n.VectorMatching
			if vm == nil {
				return nil
			}
			if vm.On {
				out = append(out, LabelList{"on", vm.MatchingLabels, n.String()})
			} else if len(vm.MatchingLabels) > 0 {
				out = append(out, LabelList{"ignoring", vm.MatchingLabels, n.String()})
			}
		}
		return nil
	})
	return out
}

// TargetLabels are the labels that say which exporter a series comes from.
// An alert keeps them, and with them any other label the scrape config
// gives the target (a `cluster` label, say), so that Alertmanager can tell
// two clusters apart and one exporter's figures never vouch for another's.
var TargetLabels = []string{"job", "instance"}

// labelPreserving are the aggregations whose result keeps each series'
// labels whatever their grouping.
var labelPreserving = []parser.ItemType{parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO}

// TargetLabelProblems lists the constructs of e that lose the target labels
// of its series or match series of different targets:
//   - a selector on job or instance: a rule must not assume a job's or an
//     instance's name;
//   - an aggregation by (...): it keeps only the labels it names, so a
//     target label like `cluster` is lost (use without (...)); or without
//     job or instance;
//   - a one-to-one arithmetic or comparison on (...): its result keeps only
//     the labels named;
//   - a join or a guard (and, or, unless, group_left, group_right) matching
//     on (...) without job and instance, or ignoring one of them;
//   - absent(), absent_over_time(), vector(): series without target labels;
//     label_replace() or label_join() writing job or instance.
//
// It reads the syntax only; the promtool tests evaluate.
func TargetLabelProblems(e parser.Expr) []string {
	var out []string
	add := func(n parser.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("char %d: %s", n.PositionRange().Start, fmt.Sprintf(format, args...)))
	}
	names := func(ls []string) string { return "(" + strings.Join(ls, ", ") + ")" }
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			for _, l := range TargetLabels {
				if Matcher(n, l) != nil {
					add(n, "selects on %s: the rule would depend on the scrape config's names", l)
				}
			}
		case *parser.AggregateExpr:
			if slices.Contains(labelPreserving, n.Op) {
				return nil
			}
			if !n.Without {
				add(n, "%s by %s keeps only the labels it names and drops the target's others (cluster, ...): use without (...)", n.Op, names(n.Grouping))
				return nil
			}
			for _, l := range TargetLabels {
				if slices.Contains(n.Grouping, l) {
					add(n, "%s without %s drops %s", n.Op, names(n.Grouping), l)
				}
			}
		case *parser.BinaryExpr:
			vm := n.VectorMatching
			if vm == nil || n.LHS.Type() != parser.ValueTypeVector || n.RHS.Type() != parser.ValueTypeVector {
				return nil
			}
			if vm.Card == parser.CardOneToOne && vm.On {
				add(n, "one-to-one %s on %s keeps only the labels named: match on all labels, or use ignoring (...)", n.Op, names(vm.MatchingLabels))
				return nil
			}
			for _, l := range TargetLabels {
				if vm.On && !slices.Contains(vm.MatchingLabels, l) {
					add(n, "%s on %s does not match on %s: series of two exporters would meet", n.Op, names(vm.MatchingLabels), l)
				}
				if !vm.On && slices.Contains(vm.MatchingLabels, l) {
					add(n, "%s ignoring %s: series of two exporters would meet", n.Op, names(vm.MatchingLabels))
				}
			}
		case *parser.Call:
			switch n.Func.Name {
			case "absent", "absent_over_time", "vector":
				add(n, "%s() returns a series without target labels", n.Func.Name)
			case "label_replace", "label_join":
				if s, ok := n.Args[1].(*parser.StringLiteral); ok && slices.Contains(TargetLabels, s.Val) {
					add(n, "%s() writes %s", n.Func.Name, s.Val)
				}
			}
		}
		return nil
	})
	return out
}
