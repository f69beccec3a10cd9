package streambench

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// ClientTLS is the TLS configuration a client of the server at caPEM uses.
func ClientTLS(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in the CA PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
