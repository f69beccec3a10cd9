# Everyday targets; each is a thin wrapper over the command that does the
# work, so CI (./test.sh) and a developer run the same thing.
#
#   make build             ./cms_exporter, stamped with the version fields below
#   make test              the whole suite, as CI runs it (./test.sh)
#   make lint              gofmt, go vet, golangci-lint (.golangci.yml) on every module
#   make release-snapshot  the release archives of .goreleaser.yaml in dist/, offline, checked
#   make docker            the container image, stamped like the binaries
#
# Versions are SemVer, released as git tags vX.Y.Z (CHANGELOG.md). Between
# tags, VERSION is what `git describe` says (0.1.0-3-gabc1234, -dirty with
# uncommitted changes), or 0.0.0-dev+<commit> before the first tag.

VERSION    ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && echo "$$v" | sed 's/^v//' || echo "0.0.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
# The commit's time, as goreleaser stamps it: one commit, one build date.
BUILD_DATE ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || echo unknown)
# Docker tags allow no '+'.
IMAGE      ?= cms_exporter:$(subst +,-,$(VERSION))

# golangci-lint: the version and cache directory test.sh uses, so both
# run the same binary, built once.
GOLANGCI_LINT_VERSION := v2.15.0
CACHE := $(or $(CMS_EXPORTER_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cms_exporter)
LINT_DIR := $(CACHE)/golangci-lint-$(GOLANGCI_LINT_VERSION)/$(shell go env GOVERSION)-$(shell go env GOOS)-$(shell go env GOARCH)
GOLANGCI_LINT := $(LINT_DIR)/golangci-lint

VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: build test lint release-snapshot docker

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o cms_exporter .
	./cms_exporter --version

test:
	./test.sh

$(GOLANGCI_LINT):
	mkdir -p '$(LINT_DIR).tmp'
	GOBIN='$(LINT_DIR).tmp' go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	rm -rf '$(LINT_DIR)' && mv '$(LINT_DIR).tmp' '$(LINT_DIR)'

lint: $(GOLANGCI_LINT)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	cd monitoring && go vet ./...
	cd deploy && go vet ./...
	'$(GOLANGCI_LINT)' run ./...
	cd monitoring && '$(GOLANGCI_LINT)' run --config ../.golangci.yml ./...
	cd deploy && '$(GOLANGCI_LINT)' run --config ../.golangci.yml ./...

release-snapshot:
	scripts/release-snapshot.sh

docker:
	docker build \
	  --build-arg VERSION=$(VERSION) \
	  --build-arg REVISION=$(REVISION) \
	  --build-arg BRANCH=$(BRANCH) \
	  --build-arg BUILD_USER=$(BUILD_USER) \
	  --build-arg BUILD_DATE=$(BUILD_DATE) \
	  -t $(IMAGE) .
