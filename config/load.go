package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/cms-exporter/cms_exporter/cmsrest"
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/planner"
)

// Load reads, validates and resolves the configuration file at path.
// Relative password_file and ca_file paths are resolved against the file's
// directory. All problems are returned together, each an *Error.
func Load(path string) (*Config, error) { return LoadContext(context.Background(), path) }

// LoadContext is Load bounded by ctx: when ctx ends (SIGTERM during
// --config.check, the start or a reload) a file still being read is
// abandoned and the load fails. Every file read is also bounded in time,
// and only regular files (or symlinks to them) are read.
func LoadContext(ctx context.Context, path string) (*Config, error) {
	return load(path, boundedReader(ctx))
}

// load is LoadContext with every file read through read.
func load(path string, read readFunc) (*Config, error) {
	data, err := read(path, maxConfigSize)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return parse(data, path, dir, read)
}

// Parse is Load for configuration text already in memory: filename is used
// in error messages and baseDir resolves relative file paths. Password and CA
// files are still read from disk.
func Parse(data []byte, filename, baseDir string) (*Config, error) {
	return parse(data, filename, baseDir, boundedReader(context.Background()))
}

func parse(data []byte, filename, baseDir string, read readFunc) (*Config, error) {
	p := newProblems(filename)
	root := p.document(data)
	if root == nil {
		return nil, p.join()
	}
	f := file{Defaults: Node{Timing: cmsws.DefaultTiming(), Connections: 1,
		REST: REST{Enabled: true, Interval: cmsrest.DefaultInterval, Timeout: cmsrest.DefaultTimeout}},
		PerCallMetrics: true, MeetingNames: MeetingNameModes()[0]}
	f.Roster.BatchInterval = planner.DefaultInterval
	p.decode(root, reflect.ValueOf(&f).Elem(), "")
	nodes := make([]Node, len(f.Nodes))
	for i := range f.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		nodes[i] = f.Defaults
		p.decode(&f.Nodes[i], reflect.ValueOf(&nodes[i]).Elem(), path)
		if validName(nodes[i].Name) {
			p.names[path] = nodes[i].Name
		}
	}
	if len(p.errs) > 0 {
		// Stop at the structure: after an unknown or mistyped key the
		// validator would only add follow-on noise ("no password" for a
		// misspelt "pasword").
		return nil, p.join()
	}
	cfg := resolve(&f, nodes, p, baseDir, read)
	if err := p.join(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// document parses data, which must hold one YAML document, and returns its
// root; nil once it has reported why there is none.
func (p *problems) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := safeYAML(func() error { return dec.Decode(&doc) }); errors.Is(err, io.EOF) {
		p.at("", nil, "file is empty; at least one node must be configured under \"nodes:\"")
		return nil
	} else if err != nil {
		p.syntax(data, err)
		return nil
	}
	switch err := safeYAML(func() error { return dec.Decode(&next) }); {
	case err == nil:
		p.add(next.Line, "", nil, "more than one YAML document (\"---\"); put the whole configuration in one")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntax(data, err)
		return nil
	}
	// decode follows aliases without counting. Having yaml expand them all
	// once applies its limits: no alias bomb, no anchor inside itself.
	var all any
	if err := safeYAML(func() error { return doc.Decode(&all) }); err != nil && !errors.As(err, new(*yaml.TypeError)) {
		p.invalid(err)
		return nil
	}
	return doc.Content[0]
}

// safeYAML turns a panic inside the YAML library into an error: a config
// file is operator input, and bad input must never crash the exporter (a
// reload with a broken file keeps the old configuration running).
func safeYAML(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return f()
}
