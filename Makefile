# hashr — build, test, benchmark, man pages. See README.md.
GO        ?= go
BIN       ?= bin
COMMANDS  := $(notdir $(wildcard cmd/hashr-*))
export CGO_ENABLED ?= 0

.PHONY: build test test-short bench man fixtures clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The whole suite, as CI runs it.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

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
