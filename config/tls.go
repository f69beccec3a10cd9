package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// TLSConfig returns the client TLS settings for the node: certificates are
// verified (against CAFile, or the system roots when it is empty) unless
// InsecureSkipVerify is set, and nothing older than TLS 1.2 is offered.
//
// For a loaded Node it cannot fail (the CA was checked at load time). The
// error does not name the node: callers already do.
func (n Node) TLSConfig() (*tls.Config, error) { return n.TLS.Config() }

// Config builds a *tls.Config from t. For a TLS loaded from a file it uses
// the CA content read at load time; for one built in code it reads CAFile.
func (t TLS) Config() (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit operator switch, warned about at load
	}
	ca := t.ca
	if ca == nil && t.CAFile != "" {
		var err error
		if ca, err = readCA(readLimited, t.CAFile); err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
	}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca.pem) {
			return nil, fmt.Errorf("tls.ca_file: %s contains no PEM certificates", t.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}
