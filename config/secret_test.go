package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	kitlog "github.com/go-kit/log"
	"go.yaml.in/yaml/v3"
)

// loadedWithSecrets returns a Config holding both an inline and a file
// password, loaded the ordinary way.
func loadedWithSecrets(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "pw", filePassword+"\n")
	cfg, err := Parse([]byte(y(
		"defaults: {username: u, password_file: pw}",
		"nodes:",
		"  - {name: a, url: 'https://a'}",
		"  - {name: b, url: 'https://b', password: "+inlinePassword+"}",
	)), "cms.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Nodes[0].Password.Reveal() != filePassword || cfg.Nodes[1].Password.Reveal() != inlinePassword {
		t.Fatal("passwords were not loaded; the leak checks below would prove nothing")
	}
	return cfg
}

// assertNoSecret fails if out contains a password in clear or hex, and
// requires the placeholder so we know the field was rendered at all.
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{inlinePassword, filePassword} {
		for _, form := range []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))} {
			if strings.Contains(out, form) {
				t.Errorf("%s leaks a password: %s", what, out)
			}
		}
	}
	if !strings.Contains(out, redacted) {
		t.Errorf("%s does not show %q: %s", what, redacted, out)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := loadedWithSecrets(t)
	values := map[string]any{"*Config": cfg, "Config": *cfg, "[]Node": cfg.Nodes, "Node": cfg.Nodes[1], "Secret": cfg.Nodes[1].Password}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
			assertNoSecret(t, "fmt "+verb+" of "+name, fmt.Sprintf(verb, v))
		}
		assertNoSecret(t, "fmt.Sprint of "+name, fmt.Sprint(v))
		assertNoSecret(t, "fmt.Sprintln of "+name, fmt.Sprintln(v))

		var j strings.Builder
		enc := json.NewEncoder(&j)
		enc.SetEscapeHTML(false) // keep "<secret>" literal for the check
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "JSON of "+name, j.String())
		yb, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "YAML of "+name, string(yb))

		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		assertNoSecret(t, "slog of "+name, buf.String())
	}

	var buf bytes.Buffer
	_ = kitlog.NewLogfmtLogger(&buf).Log("password", cfg.Nodes[0].Password, "other", cfg.Nodes[1].Password)
	_ = kitlog.NewJSONLogger(&buf).Log("node", cfg.Nodes[1])
	assertNoSecret(t, "go-kit log", buf.String())
}

func TestSecretRendering(t *testing.T) {
	s := Secret(inlinePassword)
	if s.Reveal() != inlinePassword {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
	for got, want := range map[string]string{
		s.String():                    "<secret>",
		s.GoString():                  "<secret>",
		fmt.Sprintf("%q", s):          `"<secret>"`,
		fmt.Sprintf("%v", s):          "<secret>",
		fmt.Sprintf("%v", Secret("")): "",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	var fromJSON string
	if err := json.Unmarshal(must(json.Marshal(s)), &fromJSON); err != nil || fromJSON != "<secret>" {
		t.Errorf("JSON = %q, %v", fromJSON, err)
	}
	// A marshalled Config must not read back as a usable password either.
	var back Secret
	if err := yaml.Unmarshal(must(yaml.Marshal(s)), &back); err != nil || back.Reveal() != "<secret>" {
		t.Errorf("YAML round trip = %q, %v", back.Reveal(), err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// A password typed as password_file by mistake is a file that does not
// exist: the error, which reaches the log and the body of a failed
// /-/reload, must not repeat it.
func TestPasswordTypedAsPasswordFileIsNotEchoed(t *testing.T) {
	_, err := Parse([]byte(`
nodes:
  - name: a
    url: https://a
    username: u
    password_file: Hunter2Secret
`), "cms.yml", t.TempDir())
	if err == nil {
		t.Fatal("a missing password_file loaded")
	}
	if strings.Contains(err.Error(), "Hunter2Secret") {
		t.Errorf("the error echoes the value of password_file: %v", err)
	}
	if !strings.Contains(err.Error(), "cms.yml:6: nodes[0] (a): password_file: file does not exist") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the error does not say which setting names a missing file: %v", err)
	}
}
