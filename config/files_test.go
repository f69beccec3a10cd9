package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cms-exporter/cms_exporter/internal/testutil"
)

// A password file, a CA file or the config itself that is a named pipe
// with no writer used to hang the load (and --config.check, and a reload)
// until SIGKILL. Only regular files are read; a symlink to one (how
// Kubernetes mounts secrets) still works.
func TestNonRegularFilesRefused(t *testing.T) {
	dir := t.TempDir()
	testutil.Mkfifo(t, filepath.Join(dir, "pw-fifo"))
	testutil.Mkfifo(t, filepath.Join(dir, "ca-fifo"))
	head := []string{"defaults:", "  username: u", "nodes:", "  - name: a", "    url: https://a"}

	err := testutil.ReturnsWithin(t, "a password_file FIFO", func() error {
		_, err := Parse([]byte(y(append(head, "    password_file: pw-fifo")...)), "cms.yml", dir)
		return err
	})
	if got := allErrors(t, err); len(got) != 1 || got[0].Line != 6 || got[0].Path != "nodes[0].password_file" ||
		!strings.Contains(got[0].Error(), "is not a regular file") {
		t.Errorf("password_file FIFO: %v", err)
	}

	err = testutil.ReturnsWithin(t, "a ca_file FIFO", func() error {
		_, err := Parse([]byte(y(append(head, "    password: p", "    tls:", "      ca_file: ca-fifo")...)), "cms.yml", dir)
		return err
	})
	if got := allErrors(t, err); len(got) != 1 || got[0].Line != 8 || !strings.Contains(got[0].Error(), "is not a regular file") {
		t.Errorf("ca_file FIFO: %v", err)
	}

	cfgFIFO := testutil.Mkfifo(t, filepath.Join(dir, "cms.yml"))
	err = testutil.ReturnsWithin(t, "a config file FIFO", func() error { _, err := Load(cfgFIFO); return err })
	if err == nil || !strings.HasPrefix(err.Error(), cfgFIFO+": ") || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("config FIFO: %v", err)
	}

	// /dev/null is a character device: refused too, with the same words.
	_, err = Parse([]byte(y(append(head, "    password_file: /dev/null")...)), "cms.yml", dir)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("password_file /dev/null: %v", err)
	}

	// Kubernetes: pw -> ..data/pw, ..data -> ..2024_01_01/, a regular file.
	k8s := t.TempDir()
	writeFile(t, k8s, "..2024_01_01/pw", filePassword+"\n")
	for _, l := range [][2]string{{"..2024_01_01", "..data"}, {"..data/pw", "pw"}} {
		if err := os.Symlink(l[0], filepath.Join(k8s, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Parse([]byte(y(append(head, "    password_file: "+filepath.Join(k8s, "pw"))...)), "cms.yml", dir)
	if err != nil || cfg.Nodes[0].Password.Reveal() != filePassword {
		t.Fatalf("a symlinked secret, as Kubernetes mounts it: %v", err)
	}
}

// A read that does not return (a hung network file system) is abandoned
// when the load's context ends, and after the read bound.
func TestBoundedReadAbandonsAHungRead(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // lets the abandoned reads end, for goleak
	hung := func() ([]byte, error) { <-release; return nil, errors.New("released") }

	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if _, err := readBounded(ctx, time.Hour, "/secrets/pw", hung); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "/secrets/pw") {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := readBounded(context.Background(), time.Millisecond, "/secrets/pw", hung); err == nil ||
		!strings.Contains(err.Error(), "/secrets/pw") || !strings.Contains(err.Error(), "not read within 1ms") {
		t.Errorf("timed out: %v", err)
	}
	b, err := readBounded(context.Background(), time.Hour, "/x", func() ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(b) != "ok" {
		t.Errorf("a read that returns: %q, %v", b, err)
	}
}
