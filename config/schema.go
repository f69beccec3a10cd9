package config

import (
	"reflect"
	"strings"
)

// The *YAML types mirror the file. Settings are pointers so that "not set"
// (inherit) differs from a zero value; the resolver turns them into Node.
// They are unexported: the file format is an input, Node is the contract.

type fileYAML struct {
	Defaults       settingsYAML `yaml:"defaults"`
	Nodes          []nodeYAML   `yaml:"nodes"`
	PerCallMetrics *bool        `yaml:"per_call_metrics"`
	Roster         rosterYAML   `yaml:"roster"`
}

// rosterYAML chooses which meetings get a roster subscription.
type rosterYAML struct {
	Include       []string  `yaml:"include"`
	Exclude       []string  `yaml:"exclude"`
	BatchInterval *Duration `yaml:"batch_interval"`
}

// settingsYAML holds everything a node may inherit from defaults.
type settingsYAML struct {
	Username           *string   `yaml:"username"`
	Password           *Secret   `yaml:"password"`
	PasswordFile       *string   `yaml:"password_file"`
	TLS                tlsYAML   `yaml:"tls"`
	ConnectTimeout     *Duration `yaml:"connect_timeout"`
	ProbeInterval      *Duration `yaml:"probe_interval"`
	ProbeTimeout       *Duration `yaml:"probe_timeout"`
	BackoffMin         *Duration `yaml:"backoff_min"`
	BackoffMax         *Duration `yaml:"backoff_max"`
	AuthFailureBackoff *Duration `yaml:"auth_failure_backoff"`
	KeepCallsWhenDown  *Duration `yaml:"keep_calls_when_down"`
	// Connections per node (1–4) and the node's capacity in participants
	// (0 = not stated), see Node.
	Connections          *int `yaml:"connections"`
	CapacityParticipants *int `yaml:"capacity_participants"`
}

type tlsYAML struct {
	CAFile             *string `yaml:"ca_file"`
	ServerName         *string `yaml:"server_name"`
	InsecureSkipVerify *bool   `yaml:"insecure_skip_verify"`
}

type nodeYAML struct {
	Name         string `yaml:"name"`
	URL          string `yaml:"url"`
	settingsYAML `yaml:",inline"`
}

// knownKeys maps the Go type names that yaml.v3 puts into its "field … not
// found in type …" errors to the keys that type accepts, so an unknown-key
// error can suggest the intended one. Derived from the struct tags, so it
// cannot drift from the schema.
func knownKeys() map[string][]string {
	m := map[string][]string{}
	for _, v := range []any{fileYAML{}, settingsYAML{}, tlsYAML{}, nodeYAML{}, rosterYAML{}} {
		t := reflect.TypeOf(v)
		m[t.String()] = yamlKeys(t)
	}
	return m
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			keys = append(keys, yamlKeys(f.Type)...)
			continue
		}
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
