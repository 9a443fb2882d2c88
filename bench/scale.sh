#!/usr/bin/env bash
# Scale-out benchmark: the real Debian corpus through examples/Makefile with
# 1 and 2 pipelines into one PostgreSQL, and every stage's peak memory as
# the corpus grows tenfold. Prints Markdown tables (bench/README.md keeps
# them).   bench/scale.sh [-scale 10[,30]] [-pipelines 1,2]
#
# bench/scale.sh set [-sources 590000] [-db postgres://…] [-log FILE] loads a
# synthetic set of tens of millions of samples (bench/setgen) in slices
# and measures load rates, size, lookups and exports (bench/setbench);
# -db takes any empty PostgreSQL-protocol database, Citus's coordinator too.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = set ]; then
	shift
	exec go run ./bench/setbench "$@"
fi
exec go run ./bench/scalebench "$@"
