#!/usr/bin/env bash
# Builds the release archives of .goreleaser.yaml from the current commit,
# offline (goreleaser --snapshot: no publishing, no signing, no Docker; the
# network only for the Go module proxy), and checks what a release would
# ship: one static archive per platform, their checksums, and binaries that
# say the version and commit they were built from.
#
# goreleaser is pinned and cached like golangci-lint in test.sh: a cold
# machine builds it once with `go install` (several minutes), in
#   ${CMS_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cms_exporter}/goreleaser-<version>/<go version>-<os>-<arch>/
#
# Usage: scripts/release-snapshot.sh   (from anywhere; also `make release-snapshot`)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "release-snapshot: $*" >&2; exit 1; }

# v2.15.1 is the newest goreleaser that installs with this Go and the module
# proxy's packages (newer ones need a newer Go).
gr_version=v2.15.1
gr_dir=${CMS_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cms_exporter}/goreleaser-$gr_version/$(go env GOVERSION)-$(go env GOHOSTOS)-$(go env GOHOSTARCH)
if [ ! -x "$gr_dir/goreleaser" ]; then
  step "install goreleaser $gr_version into $gr_dir"
  mkdir -p "$gr_dir.tmp"
  GOBIN="$gr_dir.tmp" GOFLAGS='' go install "github.com/goreleaser/goreleaser/v2@$gr_version"
  rm -rf "$gr_dir" && mv "$gr_dir.tmp" "$gr_dir"
fi
gr=$gr_dir/goreleaser

# goreleaser reads the commit, branch and date from git, and gives up on all
# of them (commit "none") when the clone has no remote, as a local clone or
# worktree may not. A remote set for its commands only lets it read them;
# the repository is left untouched and nothing is fetched.
if [ -z "$(git remote)" ]; then
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/cms-exporter/cms_exporter.git
fi

step "goreleaser check"
"$gr" check

step "goreleaser release --snapshot --clean --skip=publish"
start=$SECONDS
"$gr" release --snapshot --clean --skip=publish
echo "built in $((SECONDS - start)) s"

step "check the archives in dist/"
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
commit=$(git rev-parse HEAD)
if [ -z "$version" ]; then fail "no version in dist/metadata.json"; fi
(cd dist && sha256sum --check --strict sha256sums.txt)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for platform in linux-amd64 linux-arm64 darwin-amd64 darwin-arm64; do
  os=${platform%-*} arch=${platform#*-}
  dir=cms_exporter-$version.$platform
  archive=dist/$dir.tar.gz
  [ -f "$archive" ] || fail "missing $archive"
  grep -q " $dir.tar.gz\$" dist/sha256sums.txt || fail "$archive is not in sha256sums.txt"
  tar -xzf "$archive" -C "$tmp"
  for f in cms_exporter LICENSE README.md CHANGELOG.md RUNBOOK.md config.example.yml \
    alerts/cms.rules.yml dashboards/cms-calls.json deploy/systemd/cms_exporter.service; do
    [ -f "$tmp/$dir/$f" ] || fail "$archive lacks $f"
  done
  # The build settings Go records in the binary: static (no cgo), the
  # platform asked for, paths trimmed.
  info=$(go version -m "$tmp/$dir/cms_exporter")
  for want in "build	CGO_ENABLED=0" "build	GOOS=$os" "build	GOARCH=$arch" "build	-trimpath=true"; do
    grep -qF -- "$want" <<<"$info" || fail "$archive: the binary's build info lacks '$want':
$info"
  done
  # -trimpath keeps -ldflags out of the build info: look for the stamp
  # itself (the host's binary is run below).
  grep -qaF "$commit" "$tmp/$dir/cms_exporter" || fail "$archive: the binary holds no revision $commit"
  echo "$archive: static $os/$arch, stamped with revision $commit"
done

# The host's own binary tells its version as a user sees it.
host=$(go env GOHOSTOS)-$(go env GOHOSTARCH)
bin=$tmp/cms_exporter-$version.$host/cms_exporter
if [ -x "$bin" ]; then
  out=$("$bin" --version 2>&1)
  echo "$out"
  grep -qF "cms_exporter, version $version " <<<"$out" || fail "--version does not say version $version"
  grep -qF "revision: $commit)" <<<"$out" || fail "--version does not say revision $commit"
  grep -qE "build date: +[0-9]{4}-[0-9]{2}-[0-9]{2}T" <<<"$out" || fail "--version has no build date"
fi
