// Package tlserr tells a TLS failure from a network one, for the events
// client and the REST poller alike: operators need different first steps
// (fix the CA or the server name, against fix routing or the firewall).
package tlserr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// Is reports whether err comes from certificate verification or the TLS
// handshake. Some handshake failures surface only as text ("tls: ..."),
// which is checked last.
func Is(err error) bool {
	var (
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recHdr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recHdr), errors.As(err, &alertErr):
		return true
	}
	return strings.Contains(err.Error(), "tls:")
}
