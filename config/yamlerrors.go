package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// addYAML turns an error from yaml.v3 into Errors with file, line and path.
//
// yaml.v3 reports problems as "line N: …" strings (a *yaml.TypeError holds
// all of them, which is what lets us report every bad key at once). Its
// wording names Go types ("field pasword not found in type
// config.nodeYAML"); we rewrite the forms it is known to produce into the
// file's vocabulary and fall back to its own text for anything else.
func (p *problems) addYAML(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, s := range te.Errors {
			p.errs = append(p.errs, p.translate(s))
		}
		return
	}
	// Syntax errors: "yaml: line 3: mapping values are not allowed …".
	line, rest := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "invalid YAML: " + rest})
}

func (p *problems) translate(s string) *Error {
	line, rest := splitLine(s)
	e := &Error{File: p.file, Line: line}

	if field, typ, ok := cutField(rest, " not found in type "); ok {
		e.Path = p.pos.keyParent(line, field)
		e.Msg = fmt.Sprintf("unknown field %q", field) + suggest(field, knownKeys()[typ])
	} else if field, first, ok := cutDuplicate(rest); ok {
		e.Path = p.pos.keyParent(line, field)
		e.Msg = fmt.Sprintf("field %q is set twice (first on line %s)", field, first)
	} else if tag, val, typ, ok := cutUnmarshal(rest); ok {
		v, found := p.pos.valueAt(line, tag != "!!seq" && tag != "!!map", val)
		if found {
			e.Path, val = v.path, v.value
		}
		e.Msg = fmt.Sprintf("expected %s, got %s", describeGoType(typ), describeYAML(tag, val, isSecretPath(e.Path) || typ == reflect.TypeFor[Secret]().String()))
	} else {
		// Our own Duration errors and anything yaml.v3 may say otherwise.
		scalar := !strings.Contains(rest, "got a list") && !strings.Contains(rest, "got a mapping")
		if v, found := p.pos.valueAt(line, scalar, firstQuoted(rest)); found {
			e.Path = v.path
		}
		e.Msg = rest
	}
	e.Node = p.pos.nodeName(e.Path)
	return e
}

// splitLine splits "line N: rest"; line is 0 when there is no such prefix.
func splitLine(s string) (int, string) {
	head, rest, ok := strings.Cut(s, ": ")
	if num, isLine := strings.CutPrefix(head, "line "); ok && isLine {
		if n, err := strconv.Atoi(num); err == nil {
			return n, rest
		}
	}
	return 0, s
}

// cutField parses "field NAME<sep>TYPE".
func cutField(s, sep string) (field, typ string, ok bool) {
	s, ok = strings.CutPrefix(s, "field ")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// cutDuplicate parses `mapping key "NAME" already defined at line N`.
func cutDuplicate(s string) (field, firstLine string, ok bool) {
	s, ok = strings.CutPrefix(s, "mapping key ")
	if !ok {
		return "", "", false
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", false
	}
	firstLine, ok = strings.CutPrefix(s[len(q):], " already defined at line ")
	if !ok {
		return "", "", false
	}
	field, err = strconv.Unquote(q)
	return field, firstLine, err == nil
}

// cutUnmarshal parses "cannot unmarshal !!TAG[ `VALUE`] into TYPE". VALUE
// is truncated by yaml.v3 ("abcdefg..."); the caller finds the full one.
func cutUnmarshal(s string) (tag, val, typ string, ok bool) {
	s, ok = strings.CutPrefix(s, "cannot unmarshal ")
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndex(s, " into ")
	if i < 0 {
		return "", "", "", false
	}
	s, typ = s[:i], s[i+len(" into "):]
	tag, val, _ = strings.Cut(s, " ")
	val = strings.TrimSuffix(strings.TrimPrefix(val, "`"), "`")
	return tag, val, typ, true
}

// firstQuoted returns the first Go-quoted string in s, or "".
func firstQuoted(s string) string {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return ""
	}
	q, err := strconv.QuotedPrefix(s[i:])
	if err != nil {
		return ""
	}
	v, _ := strconv.Unquote(q)
	return v
}

// keyParent returns the path of the mapping that has key name on line.
func (p *positions) keyParent(line int, name string) string {
	for _, k := range p.keys {
		if k.line == line && k.name == name {
			return k.parent
		}
	}
	return ""
}

// valueAt finds the value on line that an error refers to: the only one of
// the right kind, or the one whose text starts with hint (yaml.v3 truncates
// values to 7 characters plus "...").
func (p *positions) valueAt(line int, scalar bool, hint string) (valuePos, bool) {
	hint, isTruncated := strings.CutSuffix(hint, "...")
	var cands []valuePos
	for _, v := range p.values {
		if v.line == line && v.scalar == scalar {
			cands = append(cands, v)
		}
	}
	if len(cands) == 1 {
		return cands[0], true
	}
	for _, v := range cands {
		if hint != "" && (v.value == hint || isTruncated && strings.HasPrefix(v.value, hint)) {
			return v, true
		}
	}
	return valuePos{}, false
}

func isSecretPath(path string) bool {
	return path == "password" || strings.HasSuffix(path, ".password")
}

// describeGoType names what a Go type of the schema expects, in file terms.
func describeGoType(typ string) string {
	switch typ {
	case "bool":
		return "true or false"
	case "string", reflect.TypeFor[Secret]().String():
		return "a string"
	case reflect.TypeFor[[]nodeYAML]().String():
		return "a list of nodes"
	case reflect.TypeFor[fileYAML]().String(), reflect.TypeFor[settingsYAML]().String(),
		reflect.TypeFor[tlsYAML]().String(), reflect.TypeFor[nodeYAML]().String():
		return "a mapping"
	}
	return typ
}

// describeYAML names what the file holds; a secret's value is never shown.
func describeYAML(tag, val string, secret bool) string {
	var kind string
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "null"
	case "!!str":
		kind, val = "string", strconv.Quote(val)
	case "!!int", "!!float":
		kind = "number"
	case "!!bool":
		kind = "boolean"
	default:
		kind = tag
	}
	if secret {
		return kind
	}
	return kind + " " + val
}

// suggest proposes the known key closest to a misspelt one.
func suggest(field string, known []string) string {
	best, bestD := "", 3 // more than two edits away is not a typo
	for _, k := range known {
		if d := editDistance(field, k); d < bestD {
			best, bestD = k, d
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
