package config

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzPassword is the content of every password file in the fuzz
// directory: no error may ever show it.
const fuzzPassword = "fuzz-pw-4f1d"

// FuzzLoad feeds arbitrary bytes to the loader --config.check uses, as
// the configuration file, with every file read confined to a temporary
// directory holding the files the seeds name. It checks that the loader
// never panics, that every error names the file (and never a password),
// and that a configuration it accepts passes its own Validate.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(exampleFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range testYAMLDocuments(f) {
		f.Add([]byte(s))
	}

	dir := f.TempDir()
	ca := selfSignedCA(f, "fuzz")
	for _, name := range []string{"pw", "cms_password", "cms3_password", "password", "secrets/pw"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fuzzPassword+"\n"), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	for _, name := range []string{"ca.pem", "cms-ca.pem", "other.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(ca), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	path := filepath.Join(dir, "cms.yml")
	confined := func(p string, limit int64) ([]byte, error) {
		if rel, err := filepath.Rel(dir, filepath.Clean(p)); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, errors.New("outside the fuzz directory")
		}
		return readLimited(p, limit)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := load(path, confined)
		if err != nil {
			if cfg != nil {
				t.Fatal("a config together with an error")
			}
			text := err.Error()
			if strings.Contains(text, fuzzPassword) && !strings.Contains(string(data), fuzzPassword) {
				t.Fatalf("error shows the password file's content:\n%s", text)
			}
			var list []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				list = j.Unwrap()
			} else {
				list = []error{err}
			}
			for _, e := range list {
				var ce *Error
				if !errors.As(e, &ce) || ce.File != path || !strings.HasPrefix(e.Error(), path+":") {
					t.Fatalf("error does not name the file %s: %q (%T)", path, e, e)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a configuration that fails Validate:\n%v\ninput:\n%s", err, data)
		}
	})
}

// testYAMLDocuments extracts the YAML documents written in this package's
// tests, as seeds: y("…", …) calls and []string{…} lists of string
// literals, joined by newlines, and raw strings holding a "nodes:" key.
func testYAMLDocuments(f *testing.F) []string {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		f.Fatal(err)
	}
	var docs []string
	fset := token.NewFileSet()
	for _, name := range files {
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			f.Fatal(err)
		}
		lits := func(exprs []ast.Expr) ([]string, bool) {
			var out []string
			for _, e := range exprs {
				bl, ok := e.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					return nil, false
				}
				s, err := strconv.Unquote(bl.Value)
				if err != nil {
					return nil, false
				}
				out = append(out, s)
			}
			return out, len(out) > 0
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "y" {
					if ls, ok := lits(n.Args); ok {
						docs = append(docs, strings.Join(ls, "\n")+"\n")
					}
				}
			case *ast.CompositeLit:
				if ls, ok := lits(n.Elts); ok && strings.Contains(strings.Join(ls, "\n"), ":") {
					docs = append(docs, strings.Join(ls, "\n")+"\n")
				}
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && strings.Contains(s, "nodes:") {
					docs = append(docs, s)
				}
			}
			return true
		})
	}
	if len(docs) < 20 {
		f.Fatalf("only %d YAML documents found in the tests", len(docs))
	}
	return docs
}
