#!/usr/bin/env bash
# The cost of hashr-extract's sandbox (a child process per source, with
# Landlock and rlimits) on the real Debian packages of
# scripts/corpus.sh: the default against --no-sandbox, same
# packages, same run, alternating, ROUNDS rounds (default 5), in --hash mode
# (no spool writes to blur the figure) and in spool mode. Prints every
# timing, wall and CPU (user+system of hashr-extract and all it ran: on a
# shared machine the CPU seconds are the steadier figure), and the ratios
# of the medians (sandbox/in-process).
# Then the fixed cost per source: 200 sources of a 1 KiB package each
# (testdata/extract/hello-gzip.deb), where starting a child is all there
# is to measure.
#
# With BASE=path/to/an/older/hashr-extract, first: that build's default
# (sandboxed) --hash run against this build's, alternating, ROUNDS each,
# CPU and wall medians and their ratio (this/BASE): what a change to the
# sandbox (the seccomp filter, issue 18) costs. BASE_ONLY=1 stops there.
#
# Usage: [BASE=/tmp/basebin/hashr-extract [BASE_ONLY=1]] bench/sandbox.sh [ROUNDS]
#        (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
corpus=$(scripts/corpus.sh deb | tail -1)
go build -o bin/ ./cmd/hashr-extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=("$corpus"/*.deb)
for d in "${debs[@]}"; do printf '{"type":"source","uri":"%s"}\n' "$d"; done >"$work/in.ndjson"
bytes=$(cat "${debs[@]}" | wc -c)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# run MODE OUT [FLAGS...]: MODE hash or spool; prints "WALL CPU" seconds
run() {
  local mode=$1 out=$2; shift 2
  local t; t=$(now)
  local args=(--spool "$work/spool")
  [[ $mode == hash ]] && args+=(--hash md5,sha1,sha256)
  /usr/bin/time -f '%U %S' -o "$work/cpu" "${EXTRACT:-bin/hashr-extract}" "${args[@]}" "$@" <"$work/in.ndjson" >"$out"
  local w; w=$(elapsed "$t")
  rm -rf "$work/spool"
  echo "$w $(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu")"
}

echo "corpus: ${#debs[@]} packages, $((bytes >> 20)) MiB, in $corpus"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"

# against_base: BASE's sandboxed --hash run against this build's.
against_base() {
  local bw=() bc=() nw=() nc=() w c
  for i in $(seq "$rounds"); do
    read -r w c <<<"$(EXTRACT=$BASE run hash "$work/base.ndjson")"; bw+=("$w"); bc+=("$c")
    read -r w c <<<"$(run hash "$work/new.ndjson")"; nw+=("$w"); nc+=("$c")
    echo "base round $i (wall/CPU s): BASE ${bw[-1]}/${bc[-1]}, this build ${nw[-1]}/${nc[-1]}; load $(cut -d' ' -f1 /proc/loadavg)"
  done
  strip() { grep -v '"type":"end"' "$1" | sed 's/"local":"[^"]*"//'; }
  if ! cmp -s <(strip "$work/base.ndjson") <(strip "$work/new.ndjson"); then
    echo "BASE and this build disagree on the records" >&2; exit 1
  fi
  awk -v a="$(median "${nc[@]}")" -v b="$(median "${bc[@]}")" -v c="$(median "${nw[@]}")" -v d="$(median "${bw[@]}")" 'BEGIN {
    printf "--hash, sandboxed, medians: CPU this build %.2f s, BASE %.2f s (ratio %.3f); wall %.2f s, %.2f s (ratio %.3f)\n", a, b, a / b, c, d, c / d }'
}
bin/hashr-extract --verbose --hash sha256 --spool "$work/spool" <"$work/in.ndjson" 2>&1 >/dev/null | grep 'sandbox:' | head -1
if [[ -n ${BASE:-} ]]; then
  EXTRACT=$BASE run hash /dev/null >/dev/null; run hash /dev/null >/dev/null # warm-up
  against_base
  [[ -n ${BASE_ONLY:-} ]] && exit 0
fi
run hash /dev/null >/dev/null; run hash /dev/null --no-sandbox >/dev/null 2>&1 # warm-up
hs=() hn=() ss=() sn=() chs=() chn=() css=() csn=()
for i in $(seq "$rounds"); do
  r=$(run hash "$work/hs.ndjson"); read -r w c <<<"$r"; hs+=("$w"); chs+=("$c")
  r=$(run hash "$work/hn.ndjson" --no-sandbox 2>/dev/null); read -r w c <<<"$r"; hn+=("$w"); chn+=("$c")
  r=$(run spool "$work/ss.ndjson"); read -r w c <<<"$r"; ss+=("$w"); css+=("$c")
  r=$(run spool "$work/sn.ndjson" --no-sandbox 2>/dev/null); read -r w c <<<"$r"; sn+=("$w"); csn+=("$c")
  echo "round $i (wall/CPU s): --hash sandbox ${hs[-1]}/${chs[-1]}, in-process ${hn[-1]}/${chn[-1]}; spool sandbox ${ss[-1]}/${css[-1]}, in-process ${sn[-1]}/${csn[-1]}"
done
# Same records either way (ms and spool dirs aside).
strip() { grep -v '"type":"end"' "$1" | sed 's/"local":"[^"]*"//' ; }
if ! cmp -s <(strip "$work/hs.ndjson") <(strip "$work/hn.ndjson"); then
  echo "sandboxed and in-process --hash runs disagree" >&2; exit 1
fi
files=$(grep -c '"type":"file"' "$work/hs.ndjson")
echo "files: $files; load now $(cut -d' ' -f1-3 /proc/loadavg)"
for m in wall CPU; do
  if [[ $m == wall ]]; then a=$(median "${hs[@]}") b=$(median "${hn[@]}") c=$(median "${ss[@]}") d=$(median "${sn[@]}")
  else a=$(median "${chs[@]}") b=$(median "${chn[@]}") c=$(median "${css[@]}") d=$(median "${csn[@]}"); fi
  awk -v m="$m" -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="${#debs[@]}" 'BEGIN {
    printf "%s medians: --hash sandbox %.2f s, in-process %.2f s (ratio %.3f, %+.0f ms per source); spool sandbox %.2f s, in-process %.2f s (ratio %.3f, %+.0f ms per source)\n", m, a, b, a / b, (a - b) * 1000 / n, c, d, c / d, (c - d) * 1000 / n }'
done

# The fixed cost: many tiny sources.
small=testdata/extract/hello-gzip.deb
for i in $(seq 200); do printf '{"type":"source","uri":"%s","id":"small-%d"}\n' "$PWD/$small" "$i"; done >"$work/small.ndjson"
ts=() tn=() cs=() cn=()
for i in $(seq "$rounds"); do
  for mode in sandbox in-process; do
    flags=(); [[ $mode == in-process ]] && flags=(--no-sandbox)
    t=$(now)
    /usr/bin/time -f '%U %S' -o "$work/cpu" bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool" "${flags[@]}" \
      <"$work/small.ndjson" >/dev/null 2>&1
    w=$(elapsed "$t") c=$(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu")
    if [[ $mode == sandbox ]]; then ts+=("$w"); cs+=("$c"); else tn+=("$w"); cn+=("$c"); fi
  done
  echo "small round $i (wall/CPU s): sandbox ${ts[-1]}/${cs[-1]}, in-process ${tn[-1]}/${cn[-1]}"
done
awk -v a="$(median "${ts[@]}")" -v b="$(median "${tn[@]}")" -v c="$(median "${cs[@]}")" -v d="$(median "${cn[@]}")" 'BEGIN {
  printf "200 small sources, medians: wall sandbox %.2f s, in-process %.2f s (%+.1f ms per source); CPU sandbox %.2f s, in-process %.2f s (%+.1f ms per source)\n", a, b, (a - b) * 5, c, d, (c - d) * 5 }'
