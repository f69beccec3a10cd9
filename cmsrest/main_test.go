package cmsrest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a Poller that outlives its Run
// (a transport's connection reader, a timer) would leak in the exporter
// on every reload.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
