#!/usr/bin/env bash
# Proves the deployment examples (systemd/, docker-compose/, kubernetes/)
# with the tools that read them, installing those that are missing
# (Debian packages; as root, or with sudo):
#   systemd-analyze (systemd)          verify and the offline security audit of the unit;
#                                      systemd-sysusers, the unit's user
#   promtool (prometheus)              check config of the compose stack's Prometheus
#   amtool (prometheus-alertmanager)   check-config of its Alertmanager
# then runs this module's tests with CMS_DEPLOY_REQUIRE_TOOLS set, so that a
# missing tool fails instead of skipping. Docker and Kubernetes are not
# needed: the manifests are decoded into the Kubernetes and Prometheus
# Operator API types, the config with the exporter's own loader.
#
# Usage: deploy/check.sh   (from anywhere; ./test.sh calls it)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

missing=()
{ command -v systemd-analyze && command -v systemd-sysusers; } >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  step "install ${missing[*]} (Debian packages)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "gofmt, go vet (deploy module)"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

step "go test (systemd unit, compose stack, Kubernetes manifests, PrometheusRule drift)"
CMS_DEPLOY_REQUIRE_TOOLS=1 go test -race -count=1 ./...
