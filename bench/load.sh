#!/usr/bin/env bash
# Times hashr-load into PostgreSQL and SQLite against a baseline issuing
# HashR's exporter's per-sample statement sequence, in the same run, on a
# throwaway PostgreSQL started from the system's binaries (fsync on), and
# prints a Markdown table with the ratios (bench/README.md keeps them).
#   bench/load.sh [-sources 2000] [-files 100] [-shared 0.4] [-baseline-sources N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/loadbench "$@"
