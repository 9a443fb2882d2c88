#!/usr/bin/env bash
# The cost of hashr-extract's sandbox (a child process per source, with
# Landlock and rlimits) on the real Debian packages of
# ../shared/corpus/fetch.sh: the default against --no-sandbox, same
# packages, same run, alternating, ROUNDS rounds (default 5), in --hash mode
# (no spool writes to blur the figure) and in spool mode. Prints every
# timing and the ratios of the medians (sandbox/in-process).
#
# Usage: bench/sandbox.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
corpus=$(../shared/corpus/fetch.sh deb | tail -1)/deb
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=("$corpus"/*.deb)
for d in "${debs[@]}"; do printf '{"type":"source","uri":"%s"}\n' "$d"; done >"$work/in.ndjson"
bytes=$(cat "${debs[@]}" | wc -c)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# run MODE OUT [FLAGS...]: MODE hash or spool
run() {
  local mode=$1 out=$2; shift 2
  local t; t=$(now)
  if [[ $mode == hash ]]; then
    bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool" "$@" <"$work/in.ndjson" >"$out"
  else
    bin/hashr-extract --spool "$work/spool" "$@" <"$work/in.ndjson" >"$out"
  fi
  elapsed "$t"
  rm -rf "$work/spool"
}

echo "corpus: ${#debs[@]} packages, $((bytes >> 20)) MiB, in $corpus"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
bin/hashr-extract --verbose --hash sha256 --spool "$work/spool" <"$work/in.ndjson" 2>&1 >/dev/null | grep 'sandbox:' | head -1
run hash /dev/null >/dev/null; run hash /dev/null --no-sandbox >/dev/null 2>&1 # warm-up
hs=() hn=() ss=() sn=()
for i in $(seq "$rounds"); do
  hs+=("$(run hash "$work/hs.ndjson")"); hn+=("$(run hash "$work/hn.ndjson" --no-sandbox 2>/dev/null)")
  ss+=("$(run spool "$work/ss.ndjson")"); sn+=("$(run spool "$work/sn.ndjson" --no-sandbox 2>/dev/null)")
  echo "round $i: --hash sandbox ${hs[-1]} s, in-process ${hn[-1]} s; spool sandbox ${ss[-1]} s, in-process ${sn[-1]} s"
done
# Same records either way (ms and spool dirs aside).
strip() { grep -v '"type":"end"' "$1" | sed 's/"local":"[^"]*"//' ; }
if ! cmp -s <(strip "$work/hs.ndjson") <(strip "$work/hn.ndjson"); then
  echo "sandboxed and in-process --hash runs disagree" >&2; exit 1
fi
files=$(grep -c '"type":"file"' "$work/hs.ndjson")
mhs=$(median "${hs[@]}") mhn=$(median "${hn[@]}") mss=$(median "${ss[@]}") msn=$(median "${sn[@]}")
echo "files: $files; medians: --hash sandbox $mhs s, in-process $mhn s; spool sandbox $mss s, in-process $msn s"
awk -v a="$mhs" -v b="$mhn" -v c="$mss" -v d="$msn" -v n="${#debs[@]}" 'BEGIN {
  printf "ratio sandbox/in-process: --hash %.3f, spool %.3f; per source: %+.1f ms, %+.1f ms\n", a / b, c / d, (a - b) * 1000 / n, (c - d) * 1000 / n }'
