package config

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// syntaxSearchBudget bounds the bytes syntax re-parses to locate an error,
// so that a large broken file costs a few parses, not one per line.
const syntaxSearchBudget = 16 << 20

// syntax reports err, a syntax error the YAML library found in data, at
// the line where the problem is.
//
// The library's own line is unreliable: it is the line where the
// construct being parsed began (the block mapping holding a misindented
// key, three lines up), and for parser errors it is numbered from 0, so
// an unclosed "[" on line 6 comes out as "line 5"; on the first line it
// gives none. So the line is found from the text: the problem begins on
// the first line from which every longer prefix of the file is invalid
// YAML. Before it the file could still be completed into a valid one;
// from it on nothing written later repairs it. That is the tab's line,
// the misindented key's line, the line where an unclosed bracket or quote
// opens. When the parser reports the same problem only from a later line
// on, the message says so.
func (p *problems) syntax(data []byte, err error) {
	libLine, msg := splitYAMLError(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	ends := make([]int, len(lines)+1) // ends[k]: length of the first k lines
	for i, l := range lines {
		ends[i+1] = ends[i] + len(l)
	}
	var (
		start   = 0
		noticed = 0
		spent   = 0
	)
	for k := len(lines); k >= 1; k-- {
		b := data[:ends[k]]
		if spent += len(b); spent > syntaxSearchBudget {
			start = 0 // too large to search: keep the library's line
			break
		}
		perr := parseAll(b)
		if perr == nil {
			break
		}
		start = k
		if _, m := splitYAMLError(perr); m == msg {
			noticed = k
		}
	}
	if start == 0 {
		p.add(libLine, "", nil, "invalid YAML: %s", msg)
		return
	}
	var hints []string
	text := string(lines[start-1])
	switch {
	case strings.TrimLeft(text, " ") != strings.TrimLeft(text, " \t"):
		hints = append(hints, "the line is indented with a tab; YAML indents with spaces only")
	case strings.Contains(msg, "expected ',' or ']'") || strings.Contains(msg, "expected ',' or '}'"):
		hints = append(hints, "a '[' or '{' opened on this line is not closed")
	case strings.Contains(msg, "unexpected end of stream"):
		hints = append(hints, "a quote or bracket opened on this line is never closed")
	}
	if noticed > start {
		hints = append(hints, "the parser noticed it on line "+strconv.Itoa(noticed))
	}
	if len(hints) > 0 {
		msg += " (" + strings.Join(hints, "; ") + ")"
	}
	p.add(start, "", nil, "invalid YAML: %s", msg)
}

// parseAll parses every document of data, as document does, and returns
// the first syntax error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := safeYAML(func() error { return dec.Decode(&n) })
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// splitYAMLError splits an error of the YAML library, "yaml: line N:
// problem" or "yaml: problem", into N (0 when absent) and the problem.
// TestYAMLErrorWording pins that wording.
func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, _ := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); err == nil {
			return n, text
		}
	}
	return 0, msg
}
