#!/usr/bin/env bash
# Times hashr-extract on a 2 GiB ext4 image of real files against what a
# user would otherwise run: 7zz x of the image, then hashdeep of what it
# extracted. Same image, same run, alternating, ROUNDS rounds (default 3);
# prints every timing and the ratio of the medians:
#
#   hashr-extract --hash md5,sha1,sha256 IMAGE
#   7zz x IMAGE -oDIR && hashdeep -o f -c md5,sha1,sha256 -r DIR
#
# (-o f: regular files only; hashdeep would otherwise follow symlinks)
#
# The image: the real Debian packages of scripts/corpus.sh
# unpacked (dpkg-deb -x) twice over, in copy1/ and copy2/, by mke2fs -d.
#
# Usage: bench/disk.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
corpus=$(scripts/corpus.sh deb | tail -1)
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d "${TMPDIR:-/tmp}/hashr-disk-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tree/copy1"
for d in "$corpus"/*.deb; do dpkg-deb -x "$d" "$work/tree/copy1/$(basename "$d" .deb)"; done
cp -a "$work/tree/copy1" "$work/tree/copy2"
# The ground truth: the sha256 of every regular file of the tree.
hashdeep -o f -c sha256 -r "$work/tree" | grep -v '^[%#]' | cut -d, -f2 | sort >"$work/truth.txt"
mke2fs -q -F -t ext4 -d "$work/tree" "$work/image.ext4" 2G
rm -rf "$work/tree"
printf '{"type":"source","uri":"%s"}\n' "$work/image.ext4" >"$work/in.ndjson"

# timed CMD...: runs CMD, prints "wall cpu" (cpu: user + system seconds).
timed() {
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" || { echo "failed: $*" >&2; tail -3 "$work/time" >&2; exit 1; }
  tail -1 "$work/time" >"$work/time.last" && mv "$work/time.last" "$work/time"
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$work/time"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_hashr() {
  timed sh -c 'bin/hashr-extract --hash md5,sha1,sha256 --spool "$1/spool" <"$1/in.ndjson" >"$1/hashr.ndjson"' sh "$work"
}
run_7zz() {
  rm -rf "$work/x"
  # 7zz exits 2 over the symlinks it calls dangerous (it writes them as
  # small files): its status says nothing here, the sums below do.
  timed sh -c '7zz x -bd -y -o"$1/x" "$1/image.ext4" >/dev/null 2>&1; hashdeep -o f -c md5,sha1,sha256 -r "$1/x" >"$1/hashdeep.txt"' sh "$work"
  rm -rf "$work/x"
}

echo "image: $(du -h --apparent-size "$work/image.ext4" | cut -f1) ext4 ($(du -h "$work/image.ext4" | cut -f1) used), from $corpus"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_hashr >/dev/null || { echo "hashr-extract failed: $(grep -m3 '"type":"error"' "$work/hashr.ndjson")" >&2; exit 1; } # warm the page cache
h=() z=() hc=() zc=()
for i in $(seq "$rounds"); do
  read -r hw hcpu < <(run_hashr); read -r zw zcpu < <(run_7zz)
  h+=("$hw") hc+=("$hcpu") z+=("$zw") zc+=("$zcpu")
  echo "round $i: hashr-extract --hash ${hw} s (CPU ${hcpu} s), 7zz x + hashdeep ${zw} s (CPU ${zcpu} s)"
done
files=$(grep -c '"type":"file"' "$work/hashr.ndjson")
errors=$(grep -c '"type":"error"' "$work/hashr.ndjson" || true)
listed=$(grep -vc '^[%#]' "$work/hashdeep.txt")
echo "files: tree $(wc -l <"$work/truth.txt"), hashr-extract $files (errors $errors), 7zz x $listed (with its [SYS]/Journal and symlinks written as files)"
if diff -q <(grep '"type":"file"' "$work/hashr.ndjson" | grep -o '"sha256":"[0-9a-f]*"' | cut -d'"' -f4 | sort) "$work/truth.txt" >/dev/null; then
  echo "hashr-extract's sha256 multiset equals the tree's"
else
  echo "hashr-extract's sha256 multiset DIFFERS from the tree's" >&2
fi
mh=$(median "${h[@]}") mz=$(median "${z[@]}") mhc=$(median "${hc[@]}") mzc=$(median "${zc[@]}")
awk -v h="$mh" -v z="$mz" -v hc="$mhc" -v zc="$mzc" 'BEGIN {
  printf "medians: hashr-extract %.2f s (CPU %.2f s), 7zz x + hashdeep %.2f s (CPU %.2f s)\n", h, hc, z, zc
  printf "speed-up: %.2fx wall (target >= 2), %.2fx CPU\n", z / h, zc / hc }'
