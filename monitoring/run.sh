#!/usr/bin/env bash
# Proves the dashboards (../dashboards) and the alert rules (../alerts)
# against a real Prometheus and the real exporter:
#   1. promtool check rules    (syntax, as Prometheus loads them)
#   2. promtool test rules     (a firing and a not-firing case per alert)
#   3. go test ./...           (dashboard conventions, every PromQL expression
#                               parsed, and the end-to-end test: Prometheus
#                               scraping the exporter attached to the fake
#                               CMS cluster, with the rules loaded)
# Installs Prometheus (Debian package "prometheus", with promtool) when
# missing. Usage: monitoring/run.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  step "install Prometheus (Debian package prometheus, includes promtool)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends prometheus
fi
prometheus --version 2>&1 | head -1

step "promtool check rules"
promtool check rules ../alerts/*.yml

step "promtool test rules"
promtool test rules ../alerts/tests/*.yml

step "gofmt, go vet (monitoring module)"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

step "go test -race (conventions, PromQL, end to end)"
go test -race -count=1 -timeout 10m ./...
