#!/usr/bin/env bash
# Compares internal/digest/md5x16's Go benchmarks at two commits (default:
# before and after issue 19 split Engine.run into steps), on the same
# machine in the same sitting: both test binaries are built first, then run
# alternately, COUNT (default 6) times each, one -count 1 run at a time.
# Prints each benchmark's median ns/op for both and after/before, and the
# CPU time (user+sys) of each binary's runs together, with the load average.
# ns/op is wall time, which a loaded machine skews (BenchmarkEngine most:
# its goroutines wait for the CPU); so it also runs BenchmarkEngine alone a
# fixed number of times (-benchtime 40x, the same work on both sides),
# alternately, and prints the median CPU time of those runs.
#
#   bench/md5x16-split.sh [BEFORE [AFTER]]     (defaults: split19's base and HEAD)
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:-$(git log --format=%H -1 --grep='^md5x16: BenchmarkEngine')}
after=${2:-HEAD}
count=${COUNT:-6}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for side in before after; do
	rev=${!side}
	mkdir "$work/$side-src"
	git archive "$rev" | tar -x -C "$work/$side-src"
	(cd "$work/$side-src" && go test -c -o "$work/$side.test" ./internal/digest/md5x16/)
done
cd internal/digest/md5x16 # the binaries read testdata from here
for i in $(seq "$count"); do
	for side in before after; do
		/usr/bin/time -a -o "$work/$side.cpu" -f '%U %S' \
			"$work/$side.test" -test.run X -test.bench . -test.count 1 >>"$work/$side.out"
	done
done
for i in $(seq "$count"); do
	for side in before after; do
		/usr/bin/time -a -o "$work/$side.engine" -f '%U %S' \
			"$work/$side.test" -test.run X -test.bench Engine -test.benchtime 40x -test.count 1 >/dev/null
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-40s %14s %14s %8s\n" "benchmark (median ns/op)" before after ratio
awk '
	FNR == 1 { side = (FILENAME ~ /before/) ? "before" : "after" }
	/^Benchmark/ { ns[side, $1] = ns[side, $1] " " $3; names[$1] = 1 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (b in names) {
			x = median(ns["before", b]); y = median(ns["after", b])
			printf "%-40s %14.0f %14.0f %8.3f\n", b, x, y, y / x
		}
	}' "$work/before.out" "$work/after.out" | sort
for side in before after; do
	awk -v side="$side" '{ cpu += $1 + $2 } END { printf "%s: CPU %.2f s (user+sys, all runs)\n", side, cpu }' "$work/$side.cpu"
done
for side in before after; do
	awk '{ print $1 + $2 }' "$work/$side.engine" | sort -n |
		awk -v side="$side" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s: BenchmarkEngine -benchtime 40x, median CPU %.3f s (user+sys) of %d runs\n", side, m, NR }'
done
