package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/cms-exporter/cms_exporter"

// layers is the import picture ARCHITECTURE.md draws: each package of the
// module and the packages of the module its non-test code may import. The
// stack runs one way (main → collector → planner → cmsws; the REST client
// cmsrest beside cmsws, used by collector for its results and supervisor
// to run it; config on cmsws, cmsrest and planner, whose defaults it uses);
// nothing imports upwards.
var layers = map[string][]string{
	"cmsws":                {"internal/tlserr", "internal/ratelog"},
	"cmsrest":              {"internal/tlserr", "internal/ratelog"},
	"cmsws/cmswstest":      {"cmsws", "cmsrest", "internal/loopbackpki"},
	"planner":              {"cmsws"},
	"collector":            {"cmsws", "cmsrest", "planner", "internal/ratelog"},
	"supervisor":           {"cmsws", "cmsrest", "internal/ratelog"},
	"config":               {"cmsws", "cmsrest", "planner"},
	"internal/testutil":    {},
	"internal/tlserr":      {},
	"internal/loopbackpki": {},
	"internal/ratelog":     {},
	"internal/scrapegate":  {},
	// The benchmark (cmsbench) runs the exporter's own path against its
	// stream server; nothing imports either.
	"internal/streambench": {"cmsws", "internal/loopbackpki"},
	"cmd/cmsbench":         {"cmsws", "collector", "planner", "supervisor", "internal/streambench"},
}

// TestImportsFollowTheLayers reads the imports of every package's non-test
// files and fails on an import the picture does not allow, and on a
// package the picture does not know (add it here and in ARCHITECTURE.md).
func TestImportsFollowTheLayers(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || d.Name() == "monitoring" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != "." && err == nil {
				return filepath.SkipDir // a module of its own (tools/decoderbench): not part of this one
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, modulePath+"/")
			if !ok || pkg == "." {
				continue
			}
			allowed, known := layers[pkg]
			switch {
			case !known:
				t.Errorf("package %s is not in the layer picture", pkg)
			case !slices.Contains(allowed, dep):
				t.Errorf("%s imports %s: not allowed by the layers (allowed: %v)", path, dep, allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
