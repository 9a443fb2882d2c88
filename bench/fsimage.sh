#!/usr/bin/env bash
# Times hashr-extract on a 1 GiB NTFS image of real files against what a
# user would reach for without mounting: 7-Zip's NTFS reader extracting the
# image, then hashdeep hashing what it wrote. Same image, same run,
# alternating, ROUNDS rounds (default 3); prints every timing (wall, and
# CPU = user + system of the tool and its children) and the ratio of the
# medians:
#
#   hashr-extract --hash md5,sha1,sha256          (one source record: the image)
#   7zz x -oDIR IMAGE && hashdeep -c md5,sha1,sha256 -r DIR
#
# The image: the real Debian packages of scripts/corpus.sh unpacked
# with dpkg-deb -x, put on a 1 GiB volume made by mkntfs with wimlib's
# NTFS-3G apply mode (wimcapture, wimapply onto the image file: no mount).
# It is kept in $HASHR_BENCH_NTFS (default $TMPDIR/hashr-bench.ntfs) for
# later runs. Before timing, the script checks that both sides find the
# same sha256 for every file of the tree.
#
# Usage: bench/fsimage.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
img=${HASHR_BENCH_NTFS:-${TMPDIR:-/tmp}/hashr-bench.ntfs}
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -s $img ]]; then
  corpus=$(scripts/corpus.sh deb | tail -1)
  tree="$work/tree"
  mkdir -p "$tree"
  for d in "$corpus"/*.deb; do dpkg-deb -x "$d" "$tree"; done
  rm -f "$img" && truncate -s 1G "$img"
  mkntfs -q -F -f "$img" >/dev/null 2>&1
  wimcapture "$tree" "$work/tree.wim" --compress=none >/dev/null
  wimapply "$work/tree.wim" 1 "$img" >/dev/null
  (cd "$tree" && find . -type f -print0 | xargs -0 sha256sum | sed 's#  \./#  #' | sort -k2) >"$img.sha256"
  rm -rf "$tree" "$work/tree.wim"
fi
printf '{"type":"source","uri":"%s"}\n' "$img" >"$work/in.ndjson"

TIMEFORMAT='%R %U %S'
timed() { { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }'; }
run_hashr() { bin/hashr-extract --hash md5,sha1,sha256 <"$work/in.ndjson" >"$work/hashr.ndjson"; }
run_7z() {
  rm -rf "$work/x"
  # 7-Zip exits 2 for the tree's relative symlinks it refuses ("dangerous
  # link path"); it extracts every file all the same.
  7zz x -y -o"$work/x" "$img" >/dev/null || [[ $? == 2 ]]
  hashdeep -c md5,sha1,sha256 -r "$work/x" >"$work/hashdeep.txt"
  rm -rf "$work/x"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "image: $img, $(($(stat -c %s "$img") >> 20)) MiB, $(wc -l <"$img.sha256") files in its tree"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$img" >/dev/null # warm the page cache for both
run_hashr
python3 - "$work/hashr.ndjson" "$img.sha256" <<'PY'
import json, sys
got = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "file":
        got[r["path"]] = r["sha256"]
want = dict((l.split("  ", 1)[1].rstrip("\n"), l.split("  ", 1)[0]) for l in open(sys.argv[2]))
bad = [p for p in want if got.get(p) != want[p]] + [p for p in got if p not in want]
if bad:
    sys.exit("hashr-extract disagrees with the tree on %d files, e.g. %s" % (len(bad), bad[:5]))
print("hashr-extract: all %d files of the tree, same sha256" % len(want))
PY
hw=() hc=() sw=() sc=()
for i in $(seq "$rounds"); do
  read -r w c < <(timed run_hashr); hw+=("$w") hc+=("$c")
  read -r w c < <(timed run_7z); sw+=("$w") sc+=("$c")
  [[ $(grep -c "$work/x/" "$work/hashdeep.txt") -ge $(wc -l <"$img.sha256") ]] || { echo "hashdeep hashed too few files" >&2; exit 1; }
  echo "round $i: hashr-extract ${hw[-1]} s (CPU ${hc[-1]} s), 7zz x + hashdeep ${sw[-1]} s (CPU ${sc[-1]} s)"
done
mhw=$(median "${hw[@]}") mhc=$(median "${hc[@]}") msw=$(median "${sw[@]}") msc=$(median "${sc[@]}")
awk -v hw="$mhw" -v hc="$mhc" -v sw="$msw" -v sc="$msc" 'BEGIN {
  printf "medians: hashr-extract %.2f s wall, %.2f s CPU; 7zz x + hashdeep %.2f s wall, %.2f s CPU\n", hw, hc, sw, sc
  printf "ratio (7zz+hashdeep / hashr-extract): %.2fx wall, %.2fx CPU (target >= 2)\n", sw / hw, sc / hc }'
