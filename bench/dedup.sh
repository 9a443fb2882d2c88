#!/usr/bin/env bash
# Benchmarks hashr-dedup against what a user would otherwise run, in the
# same run, and prints the figures for bench/README.md:
#
#   1. throughput: a stream of 2M file records (~215 bytes each, 30%
#      repeats) through hashr-dedup on a fresh store, against the shell
#      user's in-memory awk dedup; each run alternates, the median counts;
#   2. seed: 20M hex SHA-256 lines through "hashr-dedup seed", against
#      "sort -u" on the same file (C locale, its fastest, and the default);
#   3. memory: peak RSS of hashr-dedup on a 2M stream of new digests
#      against a store of 200k keys and one of 20M keys;
#   4. HashR's approach: peak RSS of a Go map of hex strings to entries
#      holding the same 20M digests.
#
# Needs Go, GNU time (/usr/bin/time, Debian package "time"), mawk or gawk,
# and about 6 GB of free disk in $WORK (default: a directory in /var/tmp,
# removed at the end). Sizes can be changed: N_STREAM, N_SEED, N_SMALL,
# ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."

N_STREAM=${N_STREAM:-2000000}
N_SEED=${N_SEED:-20000000}
N_SMALL=${N_SMALL:-200000}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-$(mktemp -d /var/tmp/hashr-dedup-bench.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/dedup.sh: needs GNU time: apt-get install time" >&2; exit 1; }

mkdir -p "$WORK/bin"
CGO_ENABLED=0 go build -o "$WORK/bin/" ./cmd/hashr-dedup ./bench/dedupgen
DEDUP=$WORK/bin/hashr-dedup
GEN=$WORK/bin/dedupgen

# measure NAME CMD...: runs CMD and appends "NAME wall_s peak_rss_kb cpu_s".
measure() {
	local name=$1
	shift
	"$TIME" -f "%e %M %U %S" -o "$WORK/time" "$@"
	awk -v n="$name" '{ printf "%s %.2f %d %.2f\n", n, $1, $2, $3 + $4 }' "$WORK/time" >> "$WORK/results"
}
median() { grep "^$1 " "$WORK/results" | awk '{ print $2 }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxrss() { grep "^$1 " "$WORK/results" | awk '{ print $3 }' | sort -n | tail -1; }
: > "$WORK/results"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(go version | cut -d' ' -f3), awk: $(awk -W version 2>&1 | head -1 || true)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

"$GEN" stream "$N_STREAM" > "$WORK/stream.ndjson"
"$GEN" stream "$N_STREAM" 1000000000 > "$WORK/stream-new.ndjson" # digests no store below holds
"$GEN" hashes "$N_SEED" > "$WORK/hashes.txt"
head -n "$N_SMALL" "$WORK/hashes.txt" > "$WORK/hashes-small.txt"
# The shell user's dedup, as the issue gives it.
cat > "$WORK/awk-dedup.sh" <<'AWK'
awk -F'"sha256":"' '!seen[substr($2,1,64)]++' "$1"
AWK

# 1. Throughput against awk, alternating, same input from the page cache.
for _ in $(seq "$ROUNDS"); do
	measure awk sh -c "sh '$WORK/awk-dedup.sh' '$WORK/stream.ndjson' > /dev/null"
	rm -rf "$WORK/store-fresh"
	measure dedup-fresh sh -c "'$DEDUP' --store '$WORK/store-fresh' < '$WORK/stream.ndjson' > /dev/null"
done
# Both agree on the number of distinct digests.
distinct=$(sh "$WORK/awk-dedup.sh" "$WORK/stream.ndjson" | wc -l)
fresh_keys=$("$DEDUP" stats --store "$WORK/store-fresh" | sed -E 's/.*"keys":([0-9]+).*/\1/')

# 2. Seed of N_SEED digests against sort -u.
measure sort-C sh -c "LC_ALL=C sort -u '$WORK/hashes.txt' > /dev/null"
measure sort-default sh -c "sort -u '$WORK/hashes.txt' > /dev/null"
rm -rf "$WORK/store-big"
measure seed "$DEDUP" --quiet seed --store "$WORK/store-big" "$WORK/hashes.txt"
big_keys=$("$DEDUP" stats --store "$WORK/store-big" | sed -E 's/.*"keys":([0-9]+).*/\1/')

# 3. Memory with a small and a big store, on the same stream of new digests.
rm -rf "$WORK/store-small"
"$DEDUP" --quiet seed --store "$WORK/store-small" "$WORK/hashes-small.txt"
small_keys=$("$DEDUP" stats --store "$WORK/store-small" | sed -E 's/.*"keys":([0-9]+).*/\1/')
measure dedup-small sh -c "'$DEDUP' --store '$WORK/store-small' < '$WORK/stream-new.ndjson' > /dev/null"
measure dedup-big sh -c "'$DEDUP' --store '$WORK/store-big' < '$WORK/stream-new.ndjson' > /dev/null"
big_disk=$(du -sm "$WORK/store-big" | cut -f1)

# 4. HashR's in-memory map of the same N_SEED digests.
measure hashr-map "$GEN" hashrmap "$N_SEED"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "all runs (name wall_s peak_rss_KiB cpu_s):"
cat "$WORK/results"
echo
awk_s=$(median awk)
dedup_s=$(median dedup-fresh)
echo "throughput, $N_STREAM records ($(du -m "$WORK/stream.ndjson" | cut -f1) MiB; distinct digests: awk $distinct, store $fresh_keys), median of $ROUNDS:"
echo "  awk ${awk_s} s, $(($(maxrss awk) / 1024)) MiB; hashr-dedup (fresh store) ${dedup_s} s, $(($(maxrss dedup-fresh) / 1024)) MiB; ratio $(awk -v a="$awk_s" -v d="$dedup_s" 'BEGIN { printf "%.2f", d / a }')x"
sort_c=$(median sort-C)
sort_d=$(median sort-default)
seed_s=$(median seed)
echo "seed of $N_SEED digests ($big_keys keys, $big_disk MiB on disk):"
echo "  sort -u (LC_ALL=C) ${sort_c} s, $(($(maxrss sort-C) / 1024)) MiB; sort -u (default locale) ${sort_d} s; hashr-dedup seed ${seed_s} s, $(($(maxrss seed) / 1024)) MiB; ratio to LC_ALL=C sort $(awk -v a="$sort_c" -v d="$seed_s" 'BEGIN { printf "%.2f", d / a }')x"
rss_small=$(maxrss dedup-small)
rss_big=$(maxrss dedup-big)
echo "peak RSS on $N_STREAM new records:"
echo "  store of $small_keys keys $((rss_small / 1024)) MiB ($(median dedup-small) s); store of $big_keys keys $((rss_big / 1024)) MiB ($(median dedup-big) s); ratio $(awk -v a="$rss_small" -v b="$rss_big" 'BEGIN { printf "%.2f", b / a }')x"
echo "  HashR's map of $N_SEED hex digests: $(($(maxrss hashr-map) / 1024)) MiB ($(median hashr-map) s to build)"
