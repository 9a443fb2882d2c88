# hashr — build, test, benchmark, man pages. See README.md.
GO  ?= go
BIN ?= bin
export CGO_ENABLED ?= 0

# staticcheck 2026.1, the first release that reads Go 1.26 code; installed
# into GOBIN (go env GOPATH/bin by default) by scripts/setup.sh or on first use.
STATICCHECK_VERSION := v0.7.0
GOBIN_DIR := $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
STATICCHECK := $(GOBIN_DIR)/staticcheck

.PHONY: build setup tools lint test test-short bench man fixtures clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Debian tools and a first build, on a fresh Debian 12 machine.
setup:
	scripts/setup.sh

# The linters CI runs (make test runs them first): go.mod tidy, gofmt,
# staticcheck, no function over 60 lines (scripts/funclen, which lists its
# exemptions), and go generate reproducing the committed assembly.
# go generate's effect is measured against the tree as it was, so local
# edits do not count as its changes.
lint: tools
	@out=$$($(GO) mod tidy -diff) || { printf '%s\n' "$$out"; echo "lint: go.mod or go.sum is not tidy; run: go mod tidy" >&2; exit 1; }
	@out=$$(gofmt -l .) && [ -z "$$out" ] || { printf '%s\n' "$$out"; echo "lint: files above are not gofmt'ed; run: gofmt -w FILE" >&2; exit 1; }
	$(STATICCHECK) ./...
	$(GO) run ./scripts/funclen
	@before=$$(git status --porcelain; git diff); \
	$(GO) generate ./... || exit 1; \
	after=$$(git status --porcelain; git diff); \
	[ "$$before" = "$$after" ] || { git status --short; echo "lint: go generate changed what it writes (git status above); commit what it writes" >&2; exit 1; }

# staticcheck at the pinned version, reinstalled when another is found.
tools:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION))' || \
	GOBIN=$(GOBIN_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The whole suite, as CI runs it, after the linters.
test: lint
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

# Whole-pipeline benchmarks against the tools users would otherwise run;
# figures go to bench/README.md.
bench: build
	bench/run.sh

man:
	$(GO) run ./internal/mangen man

fixtures:
	scripts/mkfixtures.sh

clean:
	rm -rf $(BIN)
