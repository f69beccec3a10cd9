package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// Dashboard is the part of a Grafana dashboard JSON model the proofs look
// at. Raw keeps the whole document for checks that walk everything.
type Dashboard struct {
	File          string
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Description   string     `json:"description"`
	Editable      bool       `json:"editable"`
	SchemaVersion int        `json:"schemaVersion"`
	Panels        []Panel    `json:"panels"`
	Templating    Templating `json:"templating"`
	Raw           map[string]any
}

// Templating holds the dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a dashboard variable. Query is a string for a datasource
// variable (the plugin id) and an object for a Prometheus query variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *DatasourceRef  `json:"datasource"`
	Regex      string          `json:"regex"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// DatasourceRef is Grafana's {type, uid} reference to a datasource.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is one panel. Nested panels (collapsed rows) are kept in Panels.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *DatasourceRef `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets         []Target         `json:"targets"`
	Transformations []Transformation `json:"transformations"`
	Panels          []Panel          `json:"panels"`
}

// Transformation is one step of a panel's transformations; organize's
// excludeByName is the part the proofs read (which table columns hide).
type Transformation struct {
	ID      string `json:"id"`
	Options struct {
		ExcludeByName map[string]bool `json:"excludeByName"`
	} `json:"options"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string         `json:"refId"`
	Expr         string         `json:"expr"`
	Datasource   *DatasourceRef `json:"datasource"`
	Instant      bool           `json:"instant"`
	Format       string         `json:"format"`
	LegendFormat string         `json:"legendFormat"`
}

// LoadDashboards reads every *.json file of dir, sorted by name.
func LoadDashboards(dir string) ([]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	slices.Sort(files)
	var out []*Dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read dashboard: %w", err)
		}
		d, err := ParseDashboard(filepath.Base(f), b)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no dashboard in %s", dir)
	}
	return out, nil
}

// ParseDashboard decodes one dashboard's JSON model; file names it in
// messages.
func ParseDashboard(file string, b []byte) (*Dashboard, error) {
	d := &Dashboard{File: file}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := json.Unmarshal(b, &d.Raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return d, nil
}

// AllPanels returns the panels, those nested in rows included, in order.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Query is one PromQL expression of a dashboard: a panel target or the
// expression inside a query variable.
type Query struct {
	Where     string // "panel \"Title\" A" or "variable node"
	Panel     string // panel title, "" for variables
	PanelType string // "" for variables
	Variable  string // variable name, "" for panels
	RefID     string
	Legend    string // the target's legendFormat
	Expr      string // with Grafana variables still in it
}

// Queries lists every PromQL expression of the dashboard.
func (d *Dashboard) Queries() ([]Query, error) {
	var out []Query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, err := v.QueryString()
		if err != nil {
			return nil, fmt.Errorf("%s: variable %s: %w", d.File, v.Name, err)
		}
		expr, err := VariableExpr(q)
		if err != nil {
			return nil, fmt.Errorf("%s: variable %s: %w", d.File, v.Name, err)
		}
		out = append(out, Query{Where: "variable " + v.Name, Variable: v.Name, Expr: expr})
	}
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			out = append(out, Query{
				Where: fmt.Sprintf("panel %q %s", p.Title, t.RefID), Panel: p.Title, PanelType: p.Type,
				RefID: t.RefID, Legend: t.LegendFormat, Expr: t.Expr,
			})
		}
	}
	return out, nil
}

// QueryString returns a query variable's query, whether stored as a plain
// string (older dashboards) or as the query editor's object.
func (v Variable) QueryString() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("query is neither a string nor an object: %w", err)
	}
	return o.Query, nil
}

var (
	labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$`)
	queryResultQuery = regexp.MustCompile(`^\s*query_result\(\s*(.+)\s*\)\s*$`)
)

// VariableExpr extracts the PromQL expression from a Grafana Prometheus
// variable query: label_values(SELECTOR, label) or query_result(EXPR).
// Other forms (label_names(), metrics(), a bare selector) are refused: the
// dashboards do not use them, and a check that silently skipped them would
// prove nothing.
func VariableExpr(q string) (string, error) {
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	if m := queryResultQuery.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("unsupported variable query %q (want label_values(selector, label) or query_result(expr))", q)
}

// Panel returns the first panel with the given title.
func (d *Dashboard) Panel(title string) (Panel, bool) {
	for _, p := range d.AllPanels() {
		if p.Title == title {
			return p, true
		}
	}
	return Panel{}, false
}

// Target returns the panel's target with the given refId.
func (p Panel) Target(refID string) (Target, bool) {
	for _, t := range p.Targets {
		if t.RefID == refID {
			return t, true
		}
	}
	return Target{}, false
}
