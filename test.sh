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
# The decoder comparison (its own module, see tools/decoderbench/README.md):
# built and vetted so it cannot rot, the encoding/json/v2 part too.
(cd tools/decoderbench && go vet ./... && GOEXPERIMENT=jsonv2 go vet ./...)

step "golangci-lint (config: .golangci.yml)"
# Pinned and cached like the Prometheus 3 build (monitoring/run.sh): a cold
# machine builds it once with `go install` (about a minute).
lint_version=v2.15.0
lint_dir=${CMS_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cms_exporter}/golangci-lint-$lint_version/$(go env GOVERSION)-$(go env GOOS)-$(go env GOARCH)
if [ ! -x "$lint_dir/golangci-lint" ]; then
  mkdir -p "$lint_dir.tmp"
  GOBIN="$lint_dir.tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$lint_version"
  rm -rf "$lint_dir" && mv "$lint_dir.tmp" "$lint_dir"
fi
"$lint_dir/golangci-lint" run ./...
(cd monitoring && "$lint_dir/golangci-lint" run --config ../.golangci.yml ./...)
(cd deploy && "$lint_dir/golangci-lint" run --config ../.golangci.yml ./...)
(cd tools/decoderbench && "$lint_dir/golangci-lint" run --config ../../.golangci.yml ./...)

step "static build (CGO off)"
CGO_ENABLED=0 go build -trimpath -o "${TMPDIR:-/tmp}/cms_exporter.static" .
"${TMPDIR:-/tmp}/cms_exporter.static" --version

step "chromium (the status page's browser test, TestStatusPageInChromium)"
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
fi
# Installed: the test must run, not skip.
export CMS_EXPORTER_REQUIRE_CHROMIUM=1

step "release archives (goreleaser check and snapshot, offline; see scripts/release-snapshot.sh)"
scripts/release-snapshot.sh

step "go test -race"
go test -race -count=1 -timeout 15m ./...

step "cmsbench smoke run (the tool works and the truth holds; tiny, so its figures mean nothing)"
go run ./cmd/cmsbench -messages 300 -rounds 1 -calls 20 -participants 4

step "deployment examples (systemd-analyze, promtool, amtool, API types; see deploy/check.sh)"
deploy/check.sh

step "fuzzing (short, fixed time per target; see README, Fuzzing)"
# Each target runs from its seed corpus (the captures, the config tests, and
# the regression inputs under testdata/fuzz) for a fixed time. A finding
# fails the suite and is written to the package's testdata/fuzz.
fuzztime=${CMS_FUZZTIME:-15s}
for target in ./cmsws:FuzzDecodeFrame ./collector:FuzzModel ./config:FuzzLoad; do
  go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime="$fuzztime" "${target%%:*}"
done

step "dashboards and alert rules (promtool, Prometheus end to end)"
./monitoring/run.sh
