package config

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

const exampleFile = "../config.example.yml"

// TestExampleConfigLoads loads the shipped example as an operator would use
// it: copied into a directory next to the password and CA files it names.
// The file names are taken from the example itself, so the test follows
// edits to it.
func TestExampleConfigLoads(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	// The files the example names, as written (a pointer tells unset from "").
	type files struct {
		Password     *string `yaml:"password"`
		PasswordFile *string `yaml:"password_file"`
		TLS          struct {
			CAFile *string `yaml:"ca_file"`
		} `yaml:"tls"`
	}
	var raw struct {
		Defaults files `yaml:"defaults"`
		Nodes    []struct {
			Name  string `yaml:"name"`
			files `yaml:",inline"`
		} `yaml:"nodes"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := writeFile(t, dir, "cms_exporter.yml", string(data))
	// Every password file gets distinct content, so we can tell which one
	// each node ended up with.
	passwords := map[string]string{} // as written in the example → content
	cas := map[string]string{}
	addFiles := func(s *files) {
		for _, f := range []*string{s.PasswordFile, s.TLS.CAFile} {
			if f != nil && filepath.IsAbs(*f) {
				t.Fatalf("the example names %s; keep its paths relative so this test can provide the files", *f)
			}
		}
		if f := s.PasswordFile; f != nil {
			passwords[*f] = "pw-for-" + *f
			writeFile(t, dir, *f, passwords[*f]+"\n")
		}
		if f := s.TLS.CAFile; f != nil && *f != "" {
			cas[*f] = selfSignedCA(t, *f)
			writeFile(t, dir, *f, cas[*f])
		}
	}
	addFiles(&raw.Defaults)
	for i := range raw.Nodes {
		addFiles(&raw.Nodes[i].files)
	}
	if len(passwords) == 0 {
		t.Fatal("the example shows no password_file; operators should see one")
	}

	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("the example produces warnings: %q", cfg.Warnings)
	}
	if len(cfg.Nodes) != len(raw.Nodes) || len(cfg.Nodes) < 2 {
		t.Fatalf("got %d nodes, the example lists %d (want at least 2)", len(cfg.Nodes), len(raw.Nodes))
	}
	for i, n := range cfg.Nodes {
		// The node's own password file, else the defaults'.
		pf := raw.Defaults.PasswordFile
		if raw.Nodes[i].PasswordFile != nil || raw.Nodes[i].Password != nil {
			pf = raw.Nodes[i].PasswordFile
		}
		if pf != nil && n.Password.Reveal() != passwords[*pf] {
			t.Errorf("node %s: password is not the content of %s", n.Name, *pf)
		}
		if _, err := n.TLSConfig(); err != nil {
			t.Errorf("node %s: %v", n.Name, err)
		}
		if n.Name != raw.Nodes[i].Name {
			t.Errorf("node %d is %q, want %q", i, n.Name, raw.Nodes[i].Name)
		}
	}
}
