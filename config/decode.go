package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// file is the configuration file as written. Parse decodes defaults onto
// the built-in settings, then each node onto a copy of the resolved
// defaults: inheritance is decoding onto what is inherited.
type file struct {
	Defaults       Node        `yaml:"defaults"`
	Nodes          []yaml.Node `yaml:"nodes"`
	PerCallMetrics bool        `yaml:"per_call_metrics"`
	MeetingNames   string      `yaml:"meeting_names"`
	Roster         struct {
		Include       []string      `yaml:"include"`
		Exclude       []string      `yaml:"exclude"`
		BatchInterval time.Duration `yaml:"batch_interval"`
	} `yaml:"roster"`
}

// decode sets out, the Go value of the setting at path, from n, as yaml's
// own decoding would but in the file's terms: every problem is an Error at
// its line and field path, an unknown key comes with a suggestion, all
// problems are reported rather than the first, and a key the file does not
// set (or sets to null) leaves out as it was.
func (p *problems) decode(n *yaml.Node, out reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias // safe: document had yaml expand every alias, within its limits
	}
	if n.ShortTag() == "!!null" {
		return
	}
	p.set[path] = true
	switch t := out.Type(); {
	case t == reflect.TypeFor[yaml.Node]():
		out.Set(reflect.ValueOf(*n))
	case t == reflect.TypeFor[time.Duration]():
		// Parsed here: yaml would refuse "0", which this takes, and word
		// a missing unit as "cannot unmarshal !!int `10`".
		d, err := time.ParseDuration(n.Value)
		switch {
		case n.Kind != yaml.ScalarNode:
			p.mistyped(n, t, path)
		case err != nil:
			p.add(n.Line, path, nil, "invalid duration %q: use a number with a unit, such as \"500ms\", \"30s\" or \"1m30s\"", n.Value)
		default:
			out.SetInt(int64(d))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.mistyped(n, t, path)
			return
		}
		p.mapping(n, out, path, map[string]bool{})
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.mistyped(n, t, path)
			return
		}
		out.Set(reflect.MakeSlice(t, 0, len(n.Content)))
		for _, item := range n.Content {
			if item.ShortTag() == "!!null" {
				continue // as in yaml: a lone "-" adds nothing
			}
			ip := fmt.Sprintf("%s[%d]", path, out.Len())
			p.lines[ip] = item.Line
			out.Set(reflect.Append(out, reflect.Zero(t.Elem())))
			p.decode(item, out.Index(out.Len()-1), ip)
		}
	default: // a scalar: yaml decides what it accepts ("yes" for true)
		if n.Kind != yaml.ScalarNode || n.Decode(out.Addr().Interface()) != nil {
			p.mistyped(n, t, path)
		}
	}
}

// mapping decodes the keys of n into the struct out. taken holds the keys
// already set by a mapping that merges n in ("<<: *anchor"): as in yaml, a
// mapping's own keys win over merged ones, and earlier merges over later.
//
// A mapping that merges itself, directly or through others (possible when
// yaml's own check does not run, e.g. after a duplicate key), would
// recurse until the stack overflows, a crash no recover catches: the
// mappings being merged are kept in p.merging, and a merge of one of them
// is an error.
func (p *problems) mapping(n *yaml.Node, out reflect.Value, path string, taken map[string]bool) {
	if p.merging == nil {
		p.merging = map[*yaml.Node]bool{}
	}
	p.merging[n] = true
	defer delete(p.merging, n)
	keys := fields(out.Type())
	if path == "defaults" { // what nodes inherit: their name and url are their own
		keys = slices.DeleteFunc(keys, func(f field) bool { return f.key == "name" || f.key == "url" })
	}
	first := map[string]int{}  // key → line
	var merged [][2]*yaml.Node // key, value
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, [2]*yaml.Node{k, v})
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.add(k.Line, path, nil, "field %q is set twice (first on line %d)", k.Value, line)
			continue
		}
		first[k.Value] = k.Line
		if taken[k.Value] {
			continue
		}
		j := slices.IndexFunc(keys, func(f field) bool { return f.key == k.Value })
		if j < 0 {
			p.add(k.Line, path, nil, "unknown field %q%s", k.Value, suggest(k.Value, keys))
			continue
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		p.lines[child] = k.Line
		p.decode(v, out.FieldByIndex(keys[j].index), child)
	}
	for key := range first {
		taken[key] = true
	}
	for _, kv := range merged {
		k, m := kv[0], kv[1]
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			if s.Kind == yaml.AliasNode {
				s = s.Alias
			}
			switch {
			case s.Kind != yaml.MappingNode:
				p.mistyped(s, out.Type(), path)
			case p.merging[s]:
				p.add(k.Line, path, nil, "\"<<\" merges a mapping into itself")
			default:
				p.mapping(s, out, path, taken)
			}
		}
	}
}

// field is a file key of a struct and the index of its Go field.
type field struct {
	key   string
	index []int
}

// fields lists the file keys of struct type t in declaration order, those
// of embedded (inline) structs such as Node's cmsws.Timing included: the
// yaml tags are the schema.
func fields(t reflect.Type) []field {
	var out []field
	for _, f := range reflect.VisibleFields(t) {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && key != "" && key != "-" {
			out = append(out, field{key, f.Index})
		}
	}
	return out
}

// mistyped reports a value of the wrong kind for t; a password's value is
// not shown.
func (p *problems) mistyped(n *yaml.Node, t reflect.Type, path string) {
	want := map[reflect.Kind]string{reflect.Bool: "true or false", reflect.String: "a string",
		reflect.Int: "a whole number", reflect.Struct: "a mapping", reflect.Slice: "a list"}[t.Kind()]
	switch t {
	case reflect.TypeFor[time.Duration]():
		want = `a duration such as "30s"`
	case reflect.TypeFor[[]yaml.Node]():
		want = "a list of nodes"
	}
	got := map[yaml.Kind]string{yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}[n.Kind]
	if n.Kind == yaml.ScalarNode {
		tag := n.ShortTag()
		got = map[string]string{"!!str": "string", "!!int": "number", "!!float": "number", "!!bool": "boolean"}[tag]
		if got == "" {
			got = tag
		}
		switch {
		case t == reflect.TypeFor[Secret](): // the kind only
		case tag == "!!str":
			got += " " + strconv.Quote(n.Value)
		default:
			got += " " + n.Value
		}
	}
	p.add(n.Line, path, nil, "expected %s, got %s", want, got)
}

// suggest proposes the known key closest to a misspelt one.
func suggest(key string, known []field) string {
	best, bestD := "", 3 // more than two edits away is not a typo
	for _, f := range known {
		if d := editDistance(key, f.key); d < bestD {
			best, bestD = f.key, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
