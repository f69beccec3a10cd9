package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// positions indexes a parsed YAML tree by field path ("nodes[1].tls.ca_file")
// so that errors found after decoding — by the validator, or by yaml.v3,
// whose messages only carry a line — can name both the line and the path.
type positions struct {
	lines  map[string]int    // path → line where its key (or list item) is
	keys   []keyPos          // every mapping key
	values []valuePos        // every value
	names  map[string]string // "nodes[i]" → that node's name, when it has one
}

type keyPos struct {
	line   int
	name   string
	parent string // path of the mapping holding the key
}

type valuePos struct {
	line   int
	path   string
	scalar bool
	value  string
}

func newPositions(doc *yaml.Node) *positions {
	p := &positions{lines: map[string]int{}, names: map[string]string{}}
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		p.walk(doc.Content[0], "")
	}
	return p
}

// walk records n's children. Aliases are not followed: an alias's target is
// indexed where it is defined, and following them could blow up on a
// deliberately nested alias bomb.
func (p *positions) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			p.keys = append(p.keys, keyPos{line: k.Line, name: k.Value, parent: path})
			if _, dup := p.lines[child]; !dup {
				p.lines[child] = k.Line
			}
			p.add(v, child)
			if k.Value == "name" && v.Kind == yaml.ScalarNode && isNodeItem(path) && validName(v.Value) {
				p.names[path] = v.Value
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			child := path + "[" + strconv.Itoa(i) + "]"
			p.lines[child] = item.Line
			p.add(item, child)
		}
	}
}

func (p *positions) add(v *yaml.Node, path string) {
	p.values = append(p.values, valuePos{line: v.Line, path: path, scalar: v.Kind == yaml.ScalarNode, value: v.Value})
	p.walk(v, path)
}

// isNodeItem reports whether path is an element of the top-level node list.
func isNodeItem(path string) bool {
	return strings.HasPrefix(path, "nodes[") && strings.IndexByte(path, '.') < 0 && strings.Count(path, "[") == 1
}

// lineOf returns the line of path, or of its closest ancestor present in the
// file (a missing field is reported at the node that lacks it); 0 if none.
func (p *positions) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// nodeName returns the name of the node that path lies within, if known.
func (p *positions) nodeName(path string) string {
	if !strings.HasPrefix(path, "nodes[") {
		return ""
	}
	if i := strings.IndexByte(path, ']'); i >= 0 {
		return p.names[path[:i+1]]
	}
	return ""
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
