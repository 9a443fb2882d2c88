#!/usr/bin/env bash
# Times hashr-extract on the real Debian packages of scripts/corpus.sh
# against what a user would otherwise script: dpkg-deb -x of each package in
# turn. Same packages, same run, alternating, ROUNDS rounds (default 3);
# prints every timing and the ratios of the medians:
#
#   hash/dpkg   hashr-extract --hash md5,sha1,sha256   vs  for d in *.deb; do dpkg-deb -x ...
#   spool/hash  hashr-extract --spool | hashr-hash --delete   vs  hashr-extract --hash
#
# Usage: bench/extract.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
corpus=$(scripts/corpus.sh deb | tail -1)
go build -o bin/ ./cmd/hashr-extract ./cmd/hashr-hash
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=("$corpus"/*.deb)
for d in "${debs[@]}"; do printf '{"type":"source","uri":"%s"}\n' "$d"; done >"$work/in.ndjson"
bytes=$(cat "${debs[@]}" | wc -c)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_dpkg() {
  rm -rf "$work/x" && mkdir "$work/x"
  local t; t=$(now)
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$work/x/$(basename "$d")"; done
  elapsed "$t"
  rm -rf "$work/x"
}
run_hash() {
  local t; t=$(now)
  bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool" <"$work/in.ndjson" >"$work/hash.ndjson"
  elapsed "$t"
}
run_spool() {
  local t; t=$(now)
  bin/hashr-extract --spool "$work/spool" <"$work/in.ndjson" | bin/hashr-hash --delete >"$work/spool.ndjson"
  elapsed "$t"
}

echo "corpus: ${#debs[@]} packages, $((bytes >> 20)) MiB, in $corpus"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), xz: $(command -v xz || echo none)"
# one warm-up of each, so the page cache holds the packages for all
run_dpkg >/dev/null; run_hash >/dev/null
d=() h=() s=()
for i in $(seq "$rounds"); do
  d+=("$(run_dpkg)"); h+=("$(run_hash)"); s+=("$(run_spool)")
  echo "round $i: dpkg-deb -x ${d[-1]} s, extract --hash ${h[-1]} s, extract --spool | hash --delete ${s[-1]} s"
done
files=$(grep -c '"type":"file"' "$work/hash.ndjson")
if [[ $(grep -c '"type":"file"' "$work/spool.ndjson") != "$files" ]]; then
  echo "spool and hash runs disagree on the number of files" >&2; exit 1
fi
md=$(median "${d[@]}") mh=$(median "${h[@]}") ms=$(median "${s[@]}")
echo "files: $files; medians: dpkg-deb -x $md s, --hash $mh s, spool+hash --delete $ms s"
awk -v h="$mh" -v d="$md" -v s="$ms" 'BEGIN {
  printf "ratio hash/dpkg:  %.2f (target <= 1.0)\n", h / d
  printf "ratio spool/hash: %.2f (target <= 1.3)\n", s / h }'
