package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

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
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
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
	sort.Strings(names)
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
