package decoderbench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// captureDir is the exporter's recorded CMS traffic.
const captureDir = "../../testdata/cms-capture"

// captureFrames returns every line of every capture.
func captureFrames(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(captureDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("captures not found in %s: %v", captureDir, err)
	}
	var frames [][]byte
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			frames = append(frames, bytes.Clone(sc.Bytes()))
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return frames
}
