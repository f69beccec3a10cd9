package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// What Grafana (10.4 and later, Prometheus datasource, without the
// prometheusSpecialCharsInLabelValues feature toggle) does with template
// variables, so that the tests query Prometheus with the very strings a
// dashboard would send.

// regexMeta are the characters Grafana's prometheusSpecialRegexEscape
// escapes in the value of a multi-value variable.
var regexMeta = regexp.MustCompile(`[$^*{}\[\]+?.()|]`)

// RegexEscape escapes one value of a multi-value or include-All variable
// as Grafana does: a backslash becomes four, every regex metacharacter gets
// two in front. Both are then inside a PromQL string, whose own escaping
// halves them: the regex sees \\ and \. respectively.
func RegexEscape(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\\\`)
	return regexMeta.ReplaceAllString(v, `\\$0`)
}

// FormatMulti is what Grafana puts in place of $var for a multi-value or
// include-All variable: one value escaped, several as an alternation of
// escaped values. "All" without an allValue is every option of the
// variable, formatted the same way.
func FormatMulti(values ...string) string {
	esc := make([]string, len(values))
	for i, v := range values {
		esc[i] = RegexEscape(v)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// QueryResultText is how Grafana turns one sample of a query_result()
// variable query into the text its regex is applied to:
// name{l1="v1",l2="v2"} value timestampMillis, labels in the order
// Prometheus returns them (sorted), values unescaped.
func QueryResultText(labels map[string]string, value string, tsMillis int64) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + `="` + labels[k] + `"`
	}
	return fmt.Sprintf("%s{%s} %s %d", labels["__name__"], strings.Join(parts, ","), value, tsMillis)
}

// Option is one entry of a variable's drop-down.
type Option struct {
	Text, Value string
}

// jsRegex matches a regex written the JavaScript way, /pattern/flags, as
// Grafana stores a variable's regex.
var jsRegex = regexp.MustCompile(`^/(.*)/([a-z]*)$`)

// Options applies the variable's regex to the texts its query returned,
// as Grafana does: texts the regex does not match are dropped; named
// groups "text" and "value" give the entry's text and value (one standing
// in for the other when alone), else the first group gives both, else the
// whole text; entries with a value already seen are dropped.
func (v Variable) Options(texts []string) ([]Option, error) {
	var re *regexp.Regexp
	if v.Regex != "" {
		m := jsRegex.FindStringSubmatch(v.Regex)
		if m == nil {
			return nil, fmt.Errorf("variable %s: regex %q is not /pattern/flags", v.Name, v.Regex)
		}
		pattern := m[1]
		for _, f := range m[2] {
			switch f {
			case 'i':
				pattern = "(?i)" + pattern
			default:
				// g would make Grafana collect several matches per text;
				// the dashboards do not use it, so it is not emulated.
				return nil, fmt.Errorf("variable %s: regex flag %q not supported", v.Name, f)
			}
		}
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
	}
	var out []Option
	seen := map[string]bool{}
	for _, s := range texts {
		o := Option{Text: s, Value: s}
		if re != nil {
			m := re.FindStringSubmatch(s)
			if m == nil {
				continue
			}
			ti, vi := re.SubexpIndex("text"), re.SubexpIndex("value")
			switch {
			case ti >= 0 && m[ti] != "" || vi >= 0 && m[vi] != "":
				if vi >= 0 && m[vi] != "" {
					o.Value = m[vi]
				} else {
					o.Value = m[ti]
				}
				if ti >= 0 && m[ti] != "" {
					o.Text = m[ti]
				} else {
					o.Text = m[vi]
				}
			case len(m) > 1:
				o.Text, o.Value = m[1], m[1]
			}
		}
		if !seen[o.Value] {
			seen[o.Value] = true
			out = append(out, o)
		}
	}
	return out, nil
}
