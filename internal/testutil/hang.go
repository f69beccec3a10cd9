package testutil

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// Mkfifo makes a named pipe at path that nobody writes to: opening it for
// reading blocks until a writer comes. The cleanup opens it for writing
// (without blocking) to release a reader stuck in open, so that a failing
// test does not leak it. Where there are no named pipes the test is
// skipped.
func Mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return path
}

// ReturnsWithin fails the test if f has not returned after a long,
// generous wait: it guards against a hang (the bug under test), it does not
// measure speed.
func ReturnsWithin[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("%s hangs", what)
		panic("unreachable")
	}
}
