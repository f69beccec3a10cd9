// Package deploy holds no code of the exporter: its tests prove the
// deployment examples beside it (systemd/, docker-compose/, kubernetes/)
// with the tools that read them (systemd-analyze, promtool, amtool, the
// Kubernetes and Prometheus Operator API types, the exporter's own config
// loader), and generate kubernetes/prometheusrule.yaml from the alert rules.
//
// It is a module of its own so that the Kubernetes API types never enter
// the exporter's dependencies. Run it with ./check.sh (installs the tools;
// ./test.sh calls it) or `go test ./...` here (a test whose tool is missing
// is skipped, unless CMS_DEPLOY_REQUIRE_TOOLS is set).
package deploy

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
