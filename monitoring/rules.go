package monitoring

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"
)

// LoadRules parses and validates a rule file the way Prometheus does when it
// loads it (unknown fields refused, legacy metric and label names, every
// expression and template parsed).
func LoadRules(path string) (*rulefmt.RuleGroups, error) {
	groups, errs := rulefmt.ParseFile(path, false, model.LegacyValidation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) > 0 {
		return nil, fmt.Errorf("load rules: %w", errors.Join(errs...))
	}
	return groups, nil
}

// ShortenFor returns a copy of the rule file's YAML with every non-zero
// `for` set to d, for an end-to-end run that cannot wait the production
// durations. Expressions, labels and annotations are untouched.
func ShortenFor(groups *rulefmt.RuleGroups, d time.Duration) ([]byte, error) {
	var out rulefmt.RuleGroups
	for _, g := range groups.Groups {
		g.Rules = append([]rulefmt.Rule(nil), g.Rules...)
		for i := range g.Rules {
			if g.Rules[i].For != 0 {
				g.Rules[i].For = model.Duration(d)
			}
		}
		out.Groups = append(out.Groups, g)
	}
	b, err := yaml.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("marshal rules: %w", err)
	}
	return b, nil
}
