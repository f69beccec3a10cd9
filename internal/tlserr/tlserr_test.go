package tlserr

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestIs(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("get: %w", x509.UnknownAuthorityError{}), true},
		{fmt.Errorf("dial: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}), true},
		{errors.New("remote error: tls: bad certificate"), true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{errors.New("EOF"), false},
	} {
		if got := Is(tc.err); got != tc.want {
			t.Errorf("Is(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
