package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Reloading after a password file or CA file changed marks exactly the
// nodes using it as changed.
func TestEqualDetectsFileContentChanges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", filePassword)
	writeFile(t, dir, "pw2", "second")
	writeFile(t, dir, "ca.pem", selfSignedCA(t, "ca-1"))
	writeFile(t, dir, "cms.yml", y(
		"defaults: {username: u, password_file: pw}",
		"nodes:",
		"  - {name: a, url: 'https://a'}",
		"  - {name: b, url: 'https://b', password_file: pw2}",
		"  - {name: c, url: 'https://c', tls: {ca_file: ca.pem}}",
	))
	load := func() []Node {
		t.Helper()
		cfg, err := Load(dir + "/cms.yml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Nodes
	}
	changed := func(old, cur []Node) []string {
		var names []string
		for i := range old {
			if !old[i].Equal(cur[i]) {
				names = append(names, old[i].Name)
			}
		}
		return names
	}

	v1 := load()
	if got := changed(v1, load()); got != nil {
		t.Fatalf("reload of unchanged files: changed %v", got)
	}

	writeFile(t, dir, "pw2", "rotated")
	v2 := load()
	if got := changed(v1, v2); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("after rotating b's password: changed %v, want [b]", got)
	}

	writeFile(t, dir, "ca.pem", selfSignedCA(t, "ca-2"))
	v3 := load()
	if got := changed(v2, v3); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("after replacing c's CA: changed %v, want [c]", got)
	}
}

// Every field of Node (and of its TLS) takes part in Equal, including ones
// added after this test was written.
func TestEqualCoversEveryField(t *testing.T) {
	base := Node{
		Name: "a", URL: "https://a", Username: "u", Password: "p", PasswordFile: "/f",
		TLS:         TLS{CAFile: "/ca", ServerName: "s", ca: &caBundle{[]byte("pem")}},
		Timing:      cmsws.Timing{ConnectTimeout: 1, ProbeInterval: 2, ProbeTimeout: 3, BackoffMin: 4, BackoffMax: 5, AuthFailureBackoff: 6},
		Connections: 2, CapacityParticipants: 7,
	}
	if !base.Equal(base) {
		t.Fatal("a node is not equal to itself")
	}
	var visit func(prefix string, v reflect.Value)
	visit = func(prefix string, v reflect.Value) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := prefix + f.Name
			if f.Type.Kind() == reflect.Struct {
				visit(name+".", v.Field(i))
				continue
			}
			n := base
			n.TLS.ca = &caBundle{[]byte("pem")} // a distinct but equal bundle
			mutate(t, name, fieldByPath(reflect.ValueOf(&n).Elem(), name))
			if base.Equal(n) {
				t.Errorf("changing %s leaves the node Equal", name)
			}
		}
	}
	visit("", reflect.ValueOf(base))

	same := base
	same.TLS.ca = &caBundle{[]byte("pem")}
	if !base.Equal(same) {
		t.Error("equal CA content in a different bundle counts as a change")
	}
}

func fieldByPath(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}

// mutate changes v in place, also when it is unexported.
func mutate(t *testing.T, name string, v reflect.Value) {
	v = reflect.NewAt(v.Type(), v.Addr().UnsafePointer()).Elem()
	switch {
	case v.Type() == reflect.TypeFor[time.Duration](), v.Kind() == reflect.Int:
		v.SetInt(v.Int() + 1)
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.Type() == reflect.TypeFor[*caBundle]():
		v.Set(reflect.ValueOf(&caBundle{[]byte("other pem")}))
	default:
		t.Fatalf("field %s has type %s, which this test cannot change; extend it", name, v.Type())
	}
}
