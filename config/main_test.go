package config

import (
	"testing"

	"go.uber.org/goleak"
)

// The TLS tests start an httptest server and HTTP transports.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
