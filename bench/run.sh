#!/usr/bin/env bash
# Times hashr-hash against hashdeep on a tree of real files: the files of
# ~30 real Debian packages (scripts/corpus.sh deb), extracted. Both
# compute md5, sha1 and sha256 of every regular file with all CPUs, from a
# warm page cache. It also measures the ceiling Go's md5+sha1+sha256 kernels
# set on this machine (bench/kernels) and prints hashr-hash's throughput as
# a share of it.
#
#   bench/run.sh            (or: make bench)
#
# Environment: REPS (default 5) timed runs of each, interleaved, best kept;
# HASHR_BENCH_TREE (default $TMPDIR/hashr-bench-tree) where the tree goes;
# HASHR_BENCH_DEBS a directory of .deb files to extract instead of the
# corpus (bench/README.md names a tree of 30,000 files made this way).
# Needs: go, dpkg-deb, hashdeep. Figures go to bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-5}
tree=${HASHR_BENCH_TREE:-${TMPDIR:-/tmp}/hashr-bench-tree}

for tool in go dpkg-deb hashdeep; do
	command -v "$tool" >/dev/null || { echo "bench/run.sh: needs $tool" >&2; exit 1; }
done

# (a) Build.
mkdir -p bin
go build -o bin/ ./cmd/hashr-hash
go build -o bin/hashr-bench-kernels ./bench/kernels

# (b) The corpus, extracted once.
corpus=${HASHR_BENCH_DEBS:-$(scripts/corpus.sh deb | tail -1)}
mkdir -p "$tree"
for deb in "$corpus"/*.deb; do
	dir="$tree/$(basename "$deb" .deb)"
	if [[ ! -e $dir/.extracted ]]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		touch "$dir/.extracted"
	fi
done
files=$(find "$tree" -type f ! -name .extracted | wc -l)
bytes=$(find "$tree" -type f ! -name .extracted -printf '%s\n' | awk '{s += $1} END {print s}')

# (c) Warm the page cache, and check both tools see the same files.
find "$tree" -type f -exec cat {} + >/dev/null
n_hashr=$(bin/hashr-hash --algos md5,sha1,sha256 "$tree" | grep -c '"type":"file"')
n_hashdeep=$(hashdeep -o f -c md5,sha1,sha256 -r "$tree" | grep -vc '^[%#]')
if [[ $n_hashr != "$n_hashdeep" ]]; then
	echo "bench/run.sh: hashr-hash hashed $n_hashr files, hashdeep $n_hashdeep" >&2
	exit 1
fi

# (d) Time both, interleaved so that a busy moment hurts both alike. Each
# run gives its wall time and its CPU time (user+system); the run with the
# best wall time is kept, and the median is shown too.
calc() { awk "BEGIN { print $1 }"; }
measure() { # prints "WALL CPU" in seconds for running "$@"
	local TIMEFORMAT='%R %U %S' out
	out=$({ time "$@" >/dev/null 2>&1; } 2>&1)
	awk -v o="$out" 'BEGIN { split(o, t, " "); print t[1], t[2] + t[3] }'
}
best() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $0} END {print v[int((NR + 1) / 2)]}'; }
# (e) The kernels' ceiling (bench/kernels) is measured in the same rounds,
# best kept.
hashr_runs=() hashdeep_runs=()
kernel=0 kernel_cpu=0
for ((i = 0; i < reps; i++)); do
	hashr_runs+=("$(measure bin/hashr-hash --algos md5,sha1,sha256 "$tree")")
	# -o f: regular files only, as hashr-hash (hashdeep would follow links).
	hashdeep_runs+=("$(measure hashdeep -o f -c md5,sha1,sha256 -r "$tree")")
	read -r wall cpu <<<"$(bin/hashr-bench-kernels -seconds 2 | head -1)"
	kernel=$(calc "($wall > $kernel) ? $wall : $kernel")
	kernel_cpu=$(calc "($cpu > $kernel_cpu) ? $cpu : $kernel_cpu")
done
read -r hashr hashr_cpu <<<"$(best "${hashr_runs[@]}")"
read -r hashdeep hashdeep_cpu <<<"$(best "${hashdeep_runs[@]}")"
hashr_median=$(median "${hashr_runs[@]}" | cut -d' ' -f1)
hashdeep_median=$(median "${hashdeep_runs[@]}" | cut -d' ' -f1)


rate=$(calc "$bytes / $hashr")
printf 'tree:        %s (%d files, %.0f MB)\n' "$tree" "$files" "$(calc "$bytes / 1000000")"
printf 'machine:     %s CPUs, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'hashr-hash:  %6.3f s best, %6.3f s median of %d, %6.3f CPU-s  (bin/hashr-hash --algos md5,sha1,sha256 DIR)\n' "$hashr" "$hashr_median" "$reps" "$hashr_cpu"
printf 'hashdeep:    %6.3f s best, %6.3f s median of %d, %6.3f CPU-s  (hashdeep -o f -c md5,sha1,sha256 -r DIR)\n' "$hashdeep" "$hashdeep_median" "$reps" "$hashdeep_cpu"
printf 'ratio:       hashr-hash is %.2fx faster than hashdeep (target >= 3); %.2fx less CPU time\n' "$(calc "$hashdeep / $hashr")" "$(calc "$hashdeep_cpu / $hashr_cpu")"
printf 'kernels:     %.0f MB/s on %s CPUs; %.0f MB per CPU-second  (md5+sha1+sha256 in memory, bench/kernels)\n' "$(calc "$kernel / 1000000")" "$(nproc)" "$(calc "$kernel_cpu / 1000000")"
printf 'hashr-hash:  %.0f MB/s = %.0f%% of the kernels'"'"' limit (target >= 80%%); %.0f MB per CPU-second = %.0f%%\n' \
	"$(calc "$rate / 1000000")" "$(calc "100 * $rate / $kernel")" "$(calc "$bytes / $hashr_cpu / 1000000")" "$(calc "100 * $bytes / $hashr_cpu / $kernel_cpu")"
