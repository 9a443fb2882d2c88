# hashr — build, test, benchmark, man pages. See README.md.
GO  ?= go
BIN ?= bin
export CGO_ENABLED ?= 0

.PHONY: build setup test test-short bench man fixtures clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Debian tools and a first build, on a fresh Debian 12 machine.
setup:
	scripts/setup.sh

# The whole suite, as CI runs it.
test:
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
