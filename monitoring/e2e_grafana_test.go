package monitoring

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// variableOptions asks Prometheus for a variable's options the way Grafana
// does, with vars for the variables its query depends on: the distinct
// values of the label for label_values(selector, label), the regex applied
// to query_result's texts for query_result(expr).
func (p promAPI) variableOptions(d *Dashboard, name string, vars Vars) ([]Option, error) {
	v, ok := variable(d, name)
	if !ok {
		return nil, fmt.Errorf("%s: no variable %s", d.File, name)
	}
	q, err := v.QueryString()
	if err != nil {
		return nil, err
	}
	expr, err := VariableExpr(q)
	if err != nil {
		return nil, err
	}
	if expr, err = Substitute(expr, vars); err != nil {
		return nil, fmt.Errorf("%s: variable %s: %w", d.File, name, err)
	}
	s, err := p.query(expr, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("%s: variable %s: %w", d.File, name, err)
	}
	var texts []string
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		for _, x := range s {
			if val, ok := x.Labels[m[2]]; ok && !slices.Contains(texts, val) {
				texts = append(texts, val)
			}
		}
		slices.Sort(texts)
	} else {
		for _, x := range s {
			texts = append(texts, QueryResultText(x.Labels, strconv.FormatFloat(x.Value, 'f', -1, 64), 0))
		}
	}
	return v.Options(texts)
}

// selection is what a user picks in the dashboards' drop-downs: jobs and
// exporters (nil = All), and a meeting by its text ("" = none).
type selection struct {
	jobs, instances []string
	meeting         string
}

// resolveVars sets the dashboards' job, instance and meeting variables as
// Grafana does for sel, one after the other (each query uses the values of
// the variables before it): a pick must be one of the options, All is
// every option, and the value is FormatMulti of the picked values. Every
// dashboard must come to the same values; base gives the other variables
// ($node, $__rate_interval). It returns the variables and the options
// seen, by variable name.
func resolveVars(p promAPI, dashboards []*Dashboard, base Vars, sel selection) (Vars, map[string][]Option, error) {
	var vars Vars
	var opts map[string][]Option
	for _, d := range dashboards {
		v := maps.Clone(base)
		o := map[string][]Option{}
		for _, step := range []struct {
			name  string
			picks []string
		}{{"job", sel.jobs}, {"instance", sel.instances}} {
			options, err := p.variableOptions(d, step.name, v)
			if err != nil {
				return nil, nil, err
			}
			o[step.name] = options
			var values []string
			for _, opt := range options {
				if step.picks == nil || slices.Contains(step.picks, opt.Value) {
					values = append(values, opt.Value)
				}
			}
			if len(values) == 0 || step.picks != nil && len(values) != len(step.picks) {
				picked := "All"
				if step.picks != nil {
					picked = fmt.Sprintf("%q", step.picks)
				}
				return nil, nil, fmt.Errorf("%s: %s: picked %s, options %v", d.File, step.name, picked, options)
			}
			v[step.name] = FormatMulti(values...)
		}
		nodes, err := p.variableOptions(d, "node", v)
		if err != nil {
			return nil, nil, err
		}
		o["node"] = nodes
		if _, ok := variable(d, "meeting"); ok && sel.meeting != "" {
			options, err := p.variableOptions(d, "meeting", v)
			if err != nil {
				return nil, nil, err
			}
			o["meeting"] = options
			i := slices.IndexFunc(options, func(o Option) bool { return o.Text == sel.meeting })
			if i < 0 {
				return nil, nil, fmt.Errorf("%s: no meeting %q among %v", d.File, sel.meeting, options)
			}
			v["meeting"] = options[i].Value
		}
		if vars == nil {
			vars, opts = v, o
			continue
		}
		for _, name := range []string{"job", "instance"} {
			if v[name] != vars[name] || !slices.Equal(o[name], opts[name]) {
				return nil, nil, fmt.Errorf("%s: %s is %q (options %v), another dashboard's %q (options %v)", d.File, name, v[name], o[name], vars[name], opts[name])
			}
		}
		if m, ok := v["meeting"]; ok {
			vars["meeting"], opts["meeting"] = m, o["meeting"]
		}
	}
	return vars, opts, nil
}
