#!/usr/bin/env bash
# Times hashr-extract on a ~1 GiB LZX WIM of real files (the Debian
# packages of scripts/corpus.sh unpacked, plus a Go toolchain's
# tree) against what a user would otherwise run: wimlib-imagex apply to a
# directory, then hashdeep over it. Same WIM, same run, alternating,
# ROUNDS rounds (default 3); prints every timing, the medians and their
# ratio, and checks both found the same sha256 multiset.
#
# Usage: bench/wim.sh [ROUNDS]   (from the repository root; builds bin/)
#   HASHR_BENCH_WIM=path   reuse a WIM built before (capture takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wim=${HASHR_BENCH_WIM:-}
if [[ -z $wim ]]; then
  corpus=$(scripts/corpus.sh deb | tail -1)
  mkdir -p "$work/tree/debs"
  for d in "$corpus"/*.deb; do dpkg-deb -x "$d" "$work/tree/debs/$(basename "$d" .deb)"; done
  cp -a "$(go env GOROOT)" "$work/tree/go"
  wim=$work/bench.wim
  wimlib-imagex capture "$work/tree" "$wim" Bench --compress=LZX >/dev/null
  rm -rf "$work/tree"
fi
printf '{"type":"source","uri":"%s"}\n' "$(realpath "$wim")" >"$work/in.ndjson"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_hashr() {
  local t; t=$(now)
  bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool" <"$work/in.ndjson" >"$work/hashr.ndjson"
  elapsed "$t"
}
run_wimlib() {
  rm -rf "$work/apply"
  local t; t=$(now)
  wimlib-imagex apply "$wim" 1 "$work/apply" >/dev/null
  hashdeep -o f -c md5,sha1,sha256 -r "$work/apply" >"$work/hashdeep.txt"
  elapsed "$t"
  rm -rf "$work/apply"
}

echo "WIM: $wim, $(($(stat -c %s "$wim") >> 20)) MiB; $(wimlib-imagex info "$wim" 1 | grep -E 'File Count|Total Bytes' | tr -s ' ' | paste -sd ' ')"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_hashr >/dev/null; run_wimlib >/dev/null # warm the page cache
h=() r=()
for i in $(seq "$rounds"); do
  h+=("$(run_hashr)"); r+=("$(run_wimlib)")
  echo "round $i: hashr-extract --hash ${h[-1]} s, wimlib-imagex apply + hashdeep ${r[-1]} s"
done
grep '"type":"file"' "$work/hashr.ndjson" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/' | sort >"$work/a"
grep -v '^[%#]' "$work/hashdeep.txt" | cut -d, -f4 | sort >"$work/b"
if ! cmp -s "$work/a" "$work/b"; then
  echo "hashr-extract and hashdeep disagree: $(wc -l <"$work/a") vs $(wc -l <"$work/b") files" >&2; exit 1
fi
mh=$(median "${h[@]}") mr=$(median "${r[@]}")
echo "files: $(wc -l <"$work/a") (same sha256 multiset); medians: hashr-extract $mh s, wimlib+hashdeep $mr s"
awk -v h="$mh" -v r="$mr" 'BEGIN { printf "ratio (wimlib-imagex apply + hashdeep) / hashr-extract: %.2fx (target >= 1.5x)\n", r / h }'
