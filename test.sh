#!/usr/bin/env bash
# The whole test suite, as CI runs it. Needs only Go; installs anything else
# it needs. Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "static build (CGO off)"
CGO_ENABLED=0 go build -trimpath -o "${TMPDIR:-/tmp}/cms_exporter.static" .
"${TMPDIR:-/tmp}/cms_exporter.static" --version

step "go test -race"
go test -race -count=1 -timeout 15m ./...

step "dashboards and alert rules (promtool, Prometheus end to end)"
./monitoring/run.sh
