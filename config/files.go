package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Size limits for files named by the config. They stop a mistake such as
// password_file: /dev/zero from hanging or exhausting memory at load time.
const (
	maxConfigSize   = 4 << 20
	maxPasswordSize = 4 << 10
	maxCASize       = 16 << 20
)

// readLimited reads at most limit bytes of a regular file (or a named pipe,
// as some secret stores provide) and fails clearly beyond that.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
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
func readPassword(path string) (Secret, bool, error) {
	b, err := readLimited(path, maxPasswordSize)
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
func readCA(path string) (*caBundle, error) {
	b, err := readLimited(path, maxCASize)
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
