package config

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTLSConfig checks the settings against a real TLS server on 127.0.0.1,
// so "verified by default" is shown by a refused handshake, not by reading
// fields back.
func TestTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	// httptest's certificate is self-signed for 127.0.0.1 and example.com.
	caFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	writeFile(t, dir, "pw", filePassword)

	load := func(tlsYAML string) Node {
		t.Helper()
		cfg, err := Parse([]byte(y(
			"nodes:",
			"  - name: a",
			"    url: "+srv.URL,
			"    username: u",
			"    password_file: pw",
			"    tls: "+tlsYAML,
		)), "cms.yml", dir)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Nodes[0]
	}
	tests := []struct {
		name    string
		tls     string
		wantErr string // "" = handshake succeeds
	}{
		{"system roots do not know the test CA", "{}", "certificate"},
		{"configured CA", "{ca_file: ca.pem}", ""},
		{"server_name matching the certificate", "{ca_file: ca.pem, server_name: example.com}", ""},
		{"server_name not in the certificate", "{ca_file: ca.pem, server_name: cms.invalid}", "cms.invalid"},
		{"insecure switch", "{insecure_skip_verify: true}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(tc.tls).TLSConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			tr := &http.Transport{TLSClientConfig: cfg}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("request failed: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("request succeeded, want a verification error")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}

	// A Node built in code reads its CA file when asked, with a clear error.
	junk := writeFile(t, dir, "junk.pem", "no certificates here\n")
	if _, err := (Node{Name: "x", TLS: TLS{CAFile: junk}}).TLSConfig(); err == nil ||
		err.Error() != "tls.ca_file: "+junk+" contains no PEM certificates" {
		t.Errorf("TLSConfig with a junk CA file: %v", err)
	}
	if cfg, err := (Node{TLS: TLS{CAFile: caFile}}).TLSConfig(); err != nil {
		t.Errorf("TLSConfig of a code-built node: %v", err)
	} else if cfg.RootCAs == nil {
		t.Error("TLSConfig of a code-built node has no RootCAs")
	}
}
