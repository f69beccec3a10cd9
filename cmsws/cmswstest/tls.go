package cmswstest

import (
	"crypto/x509"
	"fmt"
	"os"
)

// CertPool returns a new pool holding the cluster's CA, for tls.Config.RootCAs.
func (c *Cluster) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(c.certs.CAPEM)
	return p
}

// WriteCAFile writes the CA certificate (PEM) to path, for code that reads
// its trust anchors from a configuration file.
func (c *Cluster) WriteCAFile(path string) error {
	if err := os.WriteFile(path, c.certs.CAPEM, 0o600); err != nil {
		return fmt.Errorf("write CA file: %w", err)
	}
	return nil
}
