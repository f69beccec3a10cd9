package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	k8sjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// requireToolsEnv makes a missing tool a failure instead of a skip:
// check.sh sets it after installing them, so CI cannot pass by skipping.
const requireToolsEnv = "CMS_DEPLOY_REQUIRE_TOOLS"

// tool returns the path of an external program the test needs.
func tool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(requireToolsEnv) != "" {
		t.Fatalf("%s is not installed (Debian package %s): %v", name, debianPackage, err)
	}
	t.Skipf("%s is not installed (Debian package %s; ./check.sh installs it)", name, debianPackage)
	return ""
}

// runTool runs a program and returns its combined output, and an error
// holding that output when it exits non-zero.
func runTool(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// mirror copies a host file or directory to root+containerPath, the way a
// bind mount shows it inside a container, so that a tool run on the copy
// resolves paths exactly as the server in the container would.
func mirror(t *testing.T, root, hostPath, containerPath string) {
	t.Helper()
	dst := filepath.Join(root, filepath.FromSlash(containerPath))
	err := filepath.WalkDir(hostPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(hostPath, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
	if err != nil {
		t.Fatalf("mirror %s at %s: %v", hostPath, containerPath, err)
	}
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// yamlDocuments splits a (multi-document) YAML file into one encoded
// document each, empty documents left out.
func yamlDocuments(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(n.Content) == 0 || n.Content[0].Tag == "!!null" {
			continue
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, b)
	}
}

// readYAML decodes a one-document YAML file into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// exists fails the test unless path exists.
func exists(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// decodeStrict decodes a Kubernetes object's YAML the way the API server
// does with strict field validation: field names are case-sensitive, and
// an unknown field is an error. (sigs.k8s.io/yaml's
// UnmarshalStrict goes through encoding/json, which matches field names
// regardless of case: readOnlyRootFileSystem would pass.)
func decodeStrict(doc []byte, v any) error {
	j, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("YAML to JSON: %w", err)
	}
	strict, err := k8sjson.UnmarshalStrict(j, v)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return errors.Join(strict...)
}
