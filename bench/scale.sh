#!/usr/bin/env bash
# Scale-out benchmark: the real Debian corpus through examples/Makefile with
# 1 and 2 pipelines into one PostgreSQL, and every stage's peak memory as
# the corpus grows tenfold. Prints Markdown tables (bench/README.md keeps
# them).   bench/scale.sh [-scale 10[,30]] [-pipelines 1,2]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/scalebench "$@"
