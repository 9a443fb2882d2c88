#!/usr/bin/env bash
# Times hashr-extract --flatten on a container image against what a user
# would otherwise do without docker: umoci unpack --rootless, then hashdeep
# over the root file system. The image is built here with umoci from this
# machine's /usr/share/doc and /usr/bin (two gzipped layers), so nothing is
# downloaded. Same image, same run, alternating, ROUNDS rounds (default 3);
# prints every timing and the ratio of the medians:
#
#   hashr/umoci   hashr-extract --hash md5,sha1,sha256 --flatten   vs  umoci unpack + hashdeep
#
# Usage: bench/oci.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The image: one layer per directory copied in.
img=$work/img
. bench/lib/ociimage.sh
bench_oci_image "$img" "$work"
printf '{"type":"source","uri":"%s"}\n' "$img" >"$work/in.ndjson"

run_hashr() {
  local t; t=$(now)
  bin/hashr-extract --hash md5,sha1,sha256 --flatten --spool "$work/spool" <"$work/in.ndjson" >"$work/hashr.ndjson"
  elapsed "$t"
}
run_umoci() {
  local t; t=$(now)
  umoci unpack --rootless --image "$img:bench" "$work/u" >/dev/null
  hashdeep -o f -c md5,sha1,sha256 -r "$work/u/rootfs" >"$work/hashdeep.txt"
  elapsed "$t"
  chmod -R u+w "$work/u"; rm -rf "$work/u"
}

echo "image: $(du -sh "$img" | cut -f1) in $(ls "$img/blobs/sha256" | wc -l) blobs, from /usr/share/doc and /usr/bin"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_hashr >/dev/null; run_umoci >/dev/null # warm-up
h=() u=()
for i in $(seq "$rounds"); do
  h+=("$(run_hashr)"); u+=("$(run_umoci)")
  echo "round $i: hashr-extract --flatten ${h[-1]} s, umoci unpack + hashdeep ${u[-1]} s"
done
files=$(grep -c '"type":"file"' "$work/hashr.ndjson")
deep=$(grep -vc '^[%#]' "$work/hashdeep.txt")
echo "files: hashr $files, hashdeep $deep"
mh=$(median "${h[@]}") mu=$(median "${u[@]}")
awk -v h="$mh" -v u="$mu" 'BEGIN { printf "medians: hashr %s s, umoci+hashdeep %s s; ratio hashr/umoci: %.2f (lower is faster)\n", h, u, h / u }'
