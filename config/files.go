package config

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Size limits for files named by the config. They stop a mistake such as
// password_file: /dev/zero from hanging or exhausting memory at load time.
const (
	maxConfigSize   = 4 << 20
	maxPasswordSize = 4 << 10
	maxCASize       = 16 << 20
)

// readTimeout bounds the reading of one file named by the configuration
// (or the configuration itself). A local file takes microseconds; a file
// on a hung network mount would otherwise hang --config.check, the start
// and every reload.
const readTimeout = 10 * time.Second

// readFunc reads the file at path, at most limit bytes. The loader reads
// every file through one, so that a load can be bounded by a context and
// the fuzz test can confine it to a directory.
type readFunc func(path string, limit int64) ([]byte, error)

// boundedReader returns the readFunc of a load under ctx: readLimited,
// abandoned when ctx ends or after readTimeout.
func boundedReader(ctx context.Context) readFunc {
	return func(path string, limit int64) ([]byte, error) {
		return readBounded(ctx, readTimeout, path, func() ([]byte, error) { return readLimited(path, limit) })
	}
}

// readBounded runs read on its own goroutine and returns its result, or
// gives up when ctx ends or timeout passes. A read of a regular file cannot
// be interrupted, so a given-up read goes on in the background until the
// kernel returns; the load, and with it SIGTERM and the next reload, do not
// wait for it.
func readBounded(ctx context.Context, timeout time.Duration, path string, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned read can still finish
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: reading abandoned: %w", path, ctx.Err())
	case <-timer.C:
		return nil, fmt.Errorf("%s: not read within %s; is it on a file system that does not answer?", path, timeout)
	}
}

// readLimited reads at most limit bytes of a regular file, and fails
// clearly beyond that. Anything else is refused before it is opened: a
// named pipe without a writer blocks open(2) and read(2) for ever, and a
// device such as /dev/zero or /dev/random is never a password. A symlink
// to a regular file (how Kubernetes mounts secrets) is a regular file.
// The file is opened non-blocking, so that one replaced by a pipe between
// the check and the open cannot block either, and checked again once open.
func readLimited(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// regular says why fi, the file at path, is not a regular file.
func regular(path string, fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	default:
		kind := "a special file"
		switch {
		case m&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		case m&fs.ModeDevice != 0:
			kind = "a device"
		case m&fs.ModeSocket != 0:
			kind = "a socket"
		}
		return fmt.Errorf("%s is not a regular file but %s, which could block the load; only regular files (or symlinks to them) are read", path, kind)
	}
}

// resolvePath makes a relative path relative to the config's directory, so
// that the file works the same whatever the exporter's working directory.
func resolvePath(baseDir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

// errNoPasswordFile is why a password_file that does not exist is not
// named: the commonest reason it does not exist is that the password itself
// was typed as password_file, and the error reaches the log and the body of
// a failed /-/reload.
var errNoPasswordFile = fmt.Errorf("%w (its name is not shown, in case the password itself was written there: check the value, or use password)", fs.ErrNotExist)

// readPassword reads a password file: one trailing newline (as written by
// echo or an editor) is removed; anything else is part of the password.
// Errors never include its content, and name the file only when it exists.
func readPassword(read readFunc, path string) (Secret, bool, error) {
	b, err := read(path, maxPasswordSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, errNoPasswordFile
	}
	if err != nil {
		return "", false, err
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if s == "" {
		return "", false, fmt.Errorf("%s is empty", path)
	}
	if strings.ContainsAny(s, "\r\n") {
		// A second line is nearly always a mistake (an extra blank line,
		// a pasted note) and would only show up as "wrong credentials".
		return "", false, fmt.Errorf("%s has more than one line", path)
	}
	worldReadable := false
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o004 != 0 {
		worldReadable = true
	}
	return Secret(s), worldReadable, nil
}

// readCA reads a PEM bundle and checks that it holds at least one
// certificate, so a wrong file is a load error rather than every connection
// failing verification later.
func readCA(read readFunc, path string) (*caBundle, error) {
	b, err := read(path, maxCASize)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s contains no PEM certificates", path)
	}
	return &caBundle{pem: b}, nil
}
