#!/usr/bin/env bash
# Times what naming a compressed image tar costs hashr-fetch: it reads the
# tar through its decompressor for its manifests and config (hashr-scan
# reads no compressed source through; hashr-extract reads it in a
# sandbox child and emits the source record before its files). The image
# is built here with umoci from this machine's /usr/share/doc and /usr/bin
# (two gzipped layers, as bench/oci.sh), its OCI layout tarred and
# gzipped (as `docker save | gzip` ships one), so nothing is downloaded.
#
#   fetch named     hashr-fetch of a record that has a package (nothing read through)
#   fetch unnamed   hashr-fetch of the same record without one (named through gzip)
#   gzip -dc        decompressing it once: the least any stage that reads
#                   the tar pays (hashr-extract walks a compressed OCI layout
#                   tar as a plain tar today, so its time is no yardstick)
#
# CPU time (user+sys) of each, alternating, ROUNDS rounds (default 3);
# prints every round, the medians, and naming's cost against one gzip -dc.
#
# Usage: bench/fetch-identity.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
go build -o bin/ ./cmd/hashr-fetch
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

img=$work/img
. bench/lib/ociimage.sh
bench_oci_image "$img" "$work"
tar -C "$img" -cf - . | gzip -1 >"$work/image.tar.gz"
printf '{"type":"source","uri":"%s","format":"oci","package":{"name":"preset"}}\n' "$work/image.tar.gz" >"$work/named.ndjson"
printf '{"type":"source","uri":"%s","format":"oci"}\n' "$work/image.tar.gz" >"$work/unnamed.ndjson"

. bench/lib/cputime.sh
fetch_named() { bench_cpu "$work/named.out" "$work/named.ndjson" bin/hashr-fetch --work "$work/w"; }
fetch_unnamed() { bench_cpu "$work/unnamed.out" "$work/unnamed.ndjson" bin/hashr-fetch --work "$work/w"; }
gunzip() { bench_cpu /dev/null "$work/image.tar.gz" gzip -dc; }

echo "image: $(du -h "$work/image.tar.gz" | cut -f1) gzipped OCI layout tar ($(tar -C "$img" -cf - . | wc -c) bytes uncompressed)"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
fetch_named >/dev/null; fetch_unnamed >/dev/null # warm the page cache
if ! grep -q '"package":{"name":"sha256:[0-9a-f]*","version":"bench"' "$work/unnamed.out"; then
  echo "fetch-identity.sh: hashr-fetch named no package: $(cat "$work/unnamed.out")" >&2
  exit 1
fi
bench_rounds "$rounds" "fetch named" fetch_named "fetch unnamed" fetch_unnamed "gzip -dc" gunzip
mn=${BENCH_MEDIANS[0]} mu=${BENCH_MEDIANS[1]} mx=${BENCH_MEDIANS[2]}
awk -v n="$mn" -v u="$mu" -v x="$mx" 'BEGIN {
  printf "naming the compressed image: %.3f s CPU, %.2fx one gzip -dc\n", u - n, (u - n) / x }'
