#!/usr/bin/env bash
# The cost of naming packages in hashr-scan (issue 22: each .deb's control
# member, each RPM's header, read besides the quick hash) on the real
# Debian packages of scripts/corpus.sh: this tree's hashr-scan against
# BASE's (a git revision, default main), same packages, same run,
# alternating, ROUNDS rounds (default 7). Each round scans COPIES
# (default 10) symbolic links to every package, so that a run is long
# enough to time. Prints each run's CPU seconds (user+system: the steady
# figure on a shared machine) and wall seconds, the medians and the ratio
# this/BASE, and the load average.
#
# Usage: [BASE=main] [COPIES=10] bench/identity.sh [ROUNDS]   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
base=${BASE:-main}
copies=${COPIES:-10}
corpus=$(scripts/corpus.sh deb | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/new/" ./cmd/hashr-scan
mkdir -p "$work/basesrc"
git archive "$base" | tar -x -C "$work/basesrc"
(cd "$work/basesrc" && go build -o "$work/base/" ./cmd/hashr-scan)
mkdir -p "$work/repo"
for i in $(seq "$copies"); do
  for d in "$corpus"/*.deb; do ln -s "$d" "$work/repo/$i-$(basename "$d")"; done
done
echo "corpus: $(ls "$work/repo" | wc -l) sources ($copies links to each of $(ls "$corpus"/*.deb | wc -l) packages)"

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# run BIN: prints "CPU WALL" seconds of one scan
run() {
  /usr/bin/time -f '%U %S %e' -o "$work/time" "$1" --plan=false --repo debian "$work/repo" >"$work/out" 2>/dev/null
  awk '{printf "%.2f %.2f\n", $1 + $2, $3}' "$work/time"
}
declare -a ncpu bcpu
for r in $(seq "$rounds"); do
  read -r c w < <(run "$work/base/hashr-scan"); bcpu+=("$c"); echo "round $r base: cpu $c s, wall $w s"
  read -r c w < <(run "$work/new/hashr-scan"); ncpu+=("$c"); echo "round $r this: cpu $c s, wall $w s"
done
grep -c '"package"' "$work/out" | sed 's/^/sources with a package (this build, last run): /'
b=$(median "${bcpu[@]}"); n=$(median "${ncpu[@]}")
echo "median cpu: base $b s, this $n s, ratio this/base $(awk -v n="$n" -v b="$b" 'BEGIN { printf "%.3f", n / b }')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
