package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("10s", "1m30s"). yaml.v3 would otherwise accept only an integer number of
// nanoseconds, and "10" meaning 10ns is a trap nobody wants in a config file.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler. It returns a *yaml.TypeError so
// that the decoder keeps going and reports every bad value in one pass.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: expected a duration such as \"30s\", got %s", n.Line, kindName(n))}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: invalid duration %q: use a number with a unit, such as \"500ms\", \"30s\" or \"1m30s\"",
			n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler, so a marshalled config reads back.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// kindName describes a YAML node for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a scalar"
}
