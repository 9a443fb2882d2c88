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
# The image: the real Debian packages of ../shared/corpus/fetch.sh
# unpacked (dpkg-deb -x) twice over, in copy1/ and copy2/, by mke2fs -d.
#
# Usage: bench/disk.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
corpus=$(../shared/corpus/fetch.sh deb | tail -1)/deb
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d "${TMPDIR:-/tmp}/hashr-disk-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tree/copy1"
for d in "$corpus"/*.deb; do dpkg-deb -x "$d" "$work/tree/copy1/$(basename "$d" .deb)"; done
cp -a "$work/tree/copy1" "$work/tree/copy2"
mke2fs -q -F -t ext4 -d "$work/tree" "$work/image.ext4" 2G
rm -rf "$work/tree"
printf '{"type":"source","uri":"%s"}\n' "$work/image.ext4" >"$work/in.ndjson"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_hashr() {
  local t; t=$(now)
  bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool" <"$work/in.ndjson" >"$work/hashr.ndjson"
  elapsed "$t"
}
run_7zz() {
  rm -rf "$work/x"
  local t; t=$(now)
  7zz x -bd -y -o"$work/x" "$work/image.ext4" >/dev/null
  hashdeep -o f -c md5,sha1,sha256 -r "$work/x" >"$work/hashdeep.txt"
  elapsed "$t"
  rm -rf "$work/x"
}

echo "image: $(du -h --apparent-size "$work/image.ext4" | cut -f1) ext4 ($(du -h "$work/image.ext4" | cut -f1) used), from $corpus"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_hashr >/dev/null # warm the page cache
h=() z=()
for i in $(seq "$rounds"); do
  h+=("$(run_hashr)"); z+=("$(run_7zz)")
  echo "round $i: hashr-extract --hash ${h[-1]} s, 7zz x + hashdeep ${z[-1]} s"
done
files=$(grep -c '"type":"file"' "$work/hashr.ndjson")
errors=$(grep -c '"type":"error"' "$work/hashr.ndjson" || true)
listed=$(grep -vc '^[%#]' "$work/hashdeep.txt")
echo "files: hashr-extract $files (errors $errors), hashdeep $listed"
# The same sha256 multiset, whatever the paths: 7zz names files as hashr does.
diff <(grep -o '"sha256":"[0-9a-f]*"' "$work/hashr.ndjson" | cut -d'"' -f4 | sort) \
     <(grep -v '^[%#]' "$work/hashdeep.txt" | cut -d, -f4 | sort) >/dev/null \
  && echo "sha256 multisets agree" || echo "sha256 multisets DIFFER" >&2
mh=$(median "${h[@]}") mz=$(median "${z[@]}")
awk -v h="$mh" -v z="$mz" 'BEGIN { printf "medians: hashr-extract %.2f s, 7zz x + hashdeep %.2f s; speed-up %.2fx (target >= 2)\n", h, z, z / h }'
