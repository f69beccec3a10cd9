package cmsws_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any test leaves a goroutine behind: the
// client starts a reader per connection and must stop all of them on
// shutdown and on every reconnect.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
