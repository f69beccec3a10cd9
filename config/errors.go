package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file. Load and Parse return several
// of them joined with errors.Join; use errors.As to inspect the first, or
// the Unwrap() []error of the joined error to walk them all.
//
// Rendered as "FILE:LINE: PATH: MESSAGE", for example
//
//	cms.yml:14: nodes[1] (cms2): url: scheme must be https, got "http"
//
// Messages never contain a password: not from the file, not from a URL.
type Error struct {
	File string // the file name as given to Load or Parse
	Line int    // 1-based; 0 when no line applies (e.g. an empty file)
	// Path is the field path, e.g. "nodes[1].url" or "defaults.tls.ca_file";
	// "" when the problem concerns the whole file.
	Path string
	// Node is the name of the node concerned, when known; it is shown next
	// to its index so the operator does not have to count list items.
	Node string
	Msg  string
	Err  error // underlying cause, e.g. an *fs.PathError; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if loc := e.location(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// location renders Path, turning "nodes[1].tls.ca_file" for node cms2 into
// "nodes[1] (cms2): tls.ca_file": the node first, then the field within it.
func (e *Error) location() string {
	i := strings.IndexByte(e.Path, ']')
	if !strings.HasPrefix(e.Path, "nodes[") || i < 0 {
		return e.Path
	}
	head := e.Path[:i+1]
	if e.Node != "" {
		head += " (" + e.Node + ")"
	}
	if rest := strings.TrimPrefix(e.Path[i+1:], "."); rest != "" {
		return head + ": " + rest
	}
	return head
}

// problems collects the Errors of one file, so that all are reported at
// once, and knows where in the file each field path is written.
type problems struct {
	file  string
	lines map[string]int    // field path → line of its key or list item
	set   map[string]bool   // field paths the file gives a (non-null) value
	names map[string]string // "nodes[i]" → that node's name, when valid
	// merging holds the mappings being decoded, to refuse a merge of one
	// into itself (see mapping).
	merging map[*yaml.Node]bool
	errs    []*Error
}

func newProblems(file string) *problems {
	return &problems{file: file, lines: map[string]int{}, set: map[string]bool{}, names: map[string]string{}}
}

// add records a problem found at a line of the file.
func (p *problems) add(line int, path string, err error, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...), Err: err})
}

// at records a problem with the setting at path, at the line of path or of
// its closest ancestor in the file (a missing field is reported at the node
// that lacks it).
func (p *problems) at(path string, err error, format string, args ...any) {
	p.add(p.lineOf(path), path, err, format, args...)
}

func (p *problems) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// nodeName returns the name of the node that path lies within, if known.
func (p *problems) nodeName(path string) string {
	if i := strings.IndexByte(path, ']'); strings.HasPrefix(path, "nodes[") && i >= 0 {
		return p.names[path[:i+1]]
	}
	return ""
}

// invalid reports an error of the YAML library itself that is not a
// syntax error (one of its limits, such as alias expansion), at the line
// it gives. Its only structure is its wording, "yaml: line N: problem",
// which TestYAMLErrorWording pins.
func (p *problems) invalid(err error) {
	line, msg := splitYAMLError(err)
	p.add(line, "", nil, "invalid YAML: %s", msg)
}

// join returns the problems in file order (line 0, i.e. file-level, last)
// as one error, or nil.
func (p *problems) join() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		e.Node = p.nodeName(e.Path)
		errs[i] = e
	}
	return errors.Join(errs...)
}
