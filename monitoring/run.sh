#!/usr/bin/env bash
# Proves the dashboards (../dashboards) and the alert rules (../alerts)
# against a real Prometheus and the real exporter, on both Prometheus majors:
#   - 2.x: the Debian package "prometheus" (with promtool), installed when
#     missing;
#   - 3.x: promtool and prometheus built from the Go module
#     github.com/prometheus/prometheus at the version go.mod requires
#     (v0.316.0 is Prometheus 3.16.0), cached (see below).
# On each: promtool check rules, promtool test rules (the same rules, the
# same test files). Then:
#   go test ./...   dashboard conventions, every PromQL expression parsed,
#                   and the end-to-end test, once per server: Prometheus
#                   scraping two exporters attached to fake CMS clusters,
#                   with the rules loaded.
#
# The 3.x build is cached in
#   ${CMS_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cms_exporter}/prometheus-<module version>/<go version>-<os>-<arch>-<recipe>/
# keyed by everything that makes the binaries: the module version, the Go
# version and platform, and a hash of the build flags. A bump of any of them
# builds again; delete the directory to force it. A build goes to a
# temporary directory and is renamed into place when complete, so an
# interrupted build never leaves a broken cached binary.
#
# Usage: monitoring/run.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

# --- Prometheus 2.x: Debian's package -------------------------------------
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  step "install Prometheus 2.x (Debian package prometheus, includes promtool)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends prometheus
fi
prom2=$(command -v prometheus)
promtool2=$(command -v promtool)

# --- Prometheus 3.x: built from the Go module, cached ---------------------
prom_mod=github.com/prometheus/prometheus
modver=$(go list -m -f '{{.Version}}' "$prom_mod") # e.g. v0.316.0
# Prometheus 3 publishes its Go module as v0.<major><minor, 2 digits>.<patch>.
n=${modver#v0.}
minors=${n%%.*}
patch=${n#*.}
patch=${patch%%[-+]*}
release=$((minors / 100)).$((minors % 100)).$patch
case $release in
  3.*) ;;
  *) echo "go.mod requires $prom_mod $modver, which is Prometheus $release, not 3.x" >&2; exit 1 ;;
esac

# remove_all_sd leaves out the service discovery plugins (Kubernetes, the
# clouds, ...): the proofs use static_configs only, and it halves a cold
# build. Everything else (PromQL engine, rule manager, TSDB, scrape, API,
# promtool's rule tests) is the release's own code. The web UI's assets are
# not embedded (that needs npm); the API does not need them.
tags=remove_all_sd
vpkg=github.com/prometheus/common/version
ldflags="-s -w -X $vpkg.Version=$release -X $vpkg.Branch=v$release -X $vpkg.Revision=$prom_mod@$modver -X $vpkg.BuildUser=cms_exporter/monitoring/run.sh"
recipe=$(printf '%s\n' "$tags" "$ldflags" | sha256sum | cut -c1-8)
cache_root=${CMS_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cms_exporter}
cache_mod=$cache_root/prometheus-$modver
cache_dir=$cache_mod/$(go env GOVERSION)-$(go env GOOS)-$(go env GOARCH)-$recipe
prom3=$cache_dir/prometheus
promtool3=$cache_dir/promtool

if [ -x "$prom3" ] && [ -x "$promtool3" ]; then
  step "Prometheus $release: cached in $cache_dir"
else
  step "build Prometheus $release ($prom_mod@$modver) into $cache_dir"
  mkdir -p "$cache_mod"
  # Leftovers of builds killed too hard for their trap (a day old).
  find "$cache_mod" -maxdepth 1 -name '.build.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
  tmp=$(mktemp -d "$cache_mod/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  # go install pkg@version builds with Prometheus' own go.mod and go.sum:
  # the release's dependency set, outside this module (whose go.sum only
  # covers the packages the tests import).
  GOBIN=$tmp GOFLAGS=-trimpath GOWORK=off \
    go install -tags "$tags" -ldflags "$ldflags" \
    "$prom_mod/cmd/prometheus@$modver" "$prom_mod/cmd/promtool@$modver"
  for b in prometheus promtool; do
    if ! "$tmp/$b" --version 2>&1 | grep -q "^$b, version $release "; then
      echo "the $b just built does not say version $release:" >&2
      "$tmp/$b" --version >&2 || true
      exit 1
    fi
  done
  # Publish: a directory rename, atomic. If a concurrent run published
  # first, keep its binaries; a directory without both binaries was not
  # made here and is replaced.
  if [ -x "$prom3" ] && [ -x "$promtool3" ]; then
    rm -rf "$tmp"
  else
    rm -rf "$cache_dir"
    mv -T "$tmp" "$cache_dir" || rm -rf "$tmp"
  fi
  trap - EXIT
  echo "built in $((SECONDS - start)) s"
fi

step "Prometheus versions"
"$prom2" --version 2>&1 | head -1
"$prom3" --version 2>&1 | head -1

for pt in "$promtool2" "$promtool3"; do
  v=$("$pt" --version 2>&1 | head -1)
  step "promtool check rules ($v)"
  "$pt" check rules ../alerts/*.yml
  step "promtool test rules ($v)"
  "$pt" test rules ../alerts/tests/*.yml
done

step "gofmt, go vet (monitoring module)"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

step "go test -race (conventions, PromQL, end to end on Prometheus 2.x and 3.x)"
# 20m: the demo's end-to-end test may wait 2 minutes per server for an
# alarm to show.
CMS_E2E_PROMETHEUS="$prom2:$prom3" go test -race -count=1 -timeout 20m ./...
