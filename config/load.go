package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Load reads, validates and resolves the configuration file at path.
// Relative password_file and ca_file paths are resolved against the file's
// directory. All problems are returned together, each an *Error.
func Load(path string) (*Config, error) {
	data, err := readLimited(path, maxConfigSize)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return Parse(data, path, dir)
}

// Parse is Load for configuration text already in memory: filename is used
// in error messages and baseDir resolves relative file paths. Password and CA
// files are still read from disk.
func Parse(data []byte, filename, baseDir string) (*Config, error) {
	var doc yaml.Node
	if err := safeYAML(func() error { return yaml.Unmarshal(data, &doc) }); err != nil {
		p := &problems{file: filename, pos: newPositions(nil)}
		p.addYAML(err)
		return nil, p.join()
	}
	p := &problems{file: filename, pos: newPositions(&doc)}
	if doc.Kind == 0 {
		return nil, &Error{File: filename, Msg: "file is empty; at least one node must be configured under \"nodes:\""}
	}

	var raw fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := safeYAML(func() error { return dec.Decode(&raw) }); err != nil {
		// Stop at the structure: after an unknown or mistyped key the
		// validator would only add follow-on noise ("no password" for a
		// misspelt "pasword").
		p.addYAML(err)
		return nil, p.join()
	}
	var extra yaml.Node
	if err := safeYAML(func() error { return dec.Decode(&extra) }); !errors.Is(err, io.EOF) {
		p.errs = append(p.errs, &Error{File: filename, Line: extra.Line,
			Msg: "more than one YAML document (\"---\"); put the whole configuration in one"})
		return nil, p.join()
	}

	cfg := resolve(&raw, p, baseDir)
	if err := p.join(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// safeYAML turns a panic inside yaml.v3 into an error: a config file is
// operator input, and bad input must never crash the exporter (a reload
// with a broken file keeps the old configuration running).
func safeYAML(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return f()
}
