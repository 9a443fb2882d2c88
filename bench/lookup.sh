#!/usr/bin/env bash
# Times hashr-lookup against hashr-hash over the same tree of real files:
# lookup hashes every file as hash does, then asks the database whether it
# is known, so the ratio is what the lookups cost on top of the hashing.
#
#   bench/lookup.sh [TREE...]     default: a ~21,000-file slice of /usr
#
# The database (SQLite, $HASHR_BENCH_LOOKUP_DB, default
# $TMPDIR/hashr-bench-lookup.db) holds the tree's real files, loaded with
# hashr-hash | bench/lookupgen | hashr-load, plus SAMPLES (3,000,000)
# synthetic samples in 1,500 sources, written with sqlite3 straight into
# hashr's schema (hashr-load takes minutes for millions of rows on a busy
# machine; the rows are the same). It is built once and kept.
#
# Environment: REPS (5) timed runs of each, interleaved, best kept.
# BASELINE: another hashr-lookup binary (main's, built elsewhere), timed
# in the same runs, interleaved, for a before/after on the same load.
# Prints both times, their ratio (the target: lookup within 1.5x of hash)
# and the CPU a lookup costs alone, with no hashing.
# Needs: go, sqlite3, shuf. Figures go to bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-5}
samples=${SAMPLES:-3000000}
db=${HASHR_BENCH_LOOKUP_DB:-${TMPDIR:-/tmp}/hashr-bench-lookup.db}
if (($# == 0)); then
	set -- /usr/include /usr/share/doc /usr/lib/python3 /usr/share/locale /usr/lib/x86_64-linux-gnu
fi
for tool in go sqlite3; do
	command -v "$tool" >/dev/null || { echo "bench/lookup.sh: needs $tool" >&2; exit 1; }
done

mkdir -p bin
go build -o bin/ ./cmd/hashr-hash ./cmd/hashr-lookup ./cmd/hashr-load

# (a) The database: the tree's files (once per tree), the synthetic bulk
# (once).
tree_id="tree:$(printf '%s ' "$@" | sha256sum | cut -c1-16)"
if [[ ! -s $db ]] || [[ $(sqlite3 "$db" "SELECT count(*) FROM sources WHERE ids LIKE '%\"$tree_id\"%'") == 0 ]]; then
	bin/hashr-hash -q "$@" | go run ./bench/lookupgen -id "$tree_id" | bin/hashr-load -q --db "sqlite:$db"
fi
if [[ $(sqlite3 "$db" "SELECT count(*) FROM sources WHERE repo = 'synthetic'") == 0 ]]; then
	echo "bench/lookup.sh: writing $samples synthetic samples into $db (minutes)" >&2
	sqlite3 "$db" <<SQL
PRAGMA synchronous = OFF;
CREATE TEMP TABLE gen AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $samples - 1)
	SELECT randomblob(32) AS sha256, randomblob(16) AS md5, randomblob(20) AS sha1, 1000 + abs(random() % 100000) AS size, i FROM n;
INSERT INTO sources (sha256, ids, repo, uri, format) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1499)
	SELECT sha3('synthetic ' || i, 256), json_array('synthetic-' || i || '.tar'), 'synthetic', '/bench/synthetic-' || i || '.tar', 'tar' FROM n;
INSERT INTO samples (sha256, md5, sha1, size, mime) SELECT sha256, md5, sha1, size, 'application/octet-stream' FROM gen ORDER BY sha256;
INSERT INTO samples_sources (sample_sha256, source_sha256, paths)
	SELECT sha256, sha3('synthetic ' || (i % 1500), 256), json_array('usr/lib/synthetic/' || (i % 1500) || '/f' || i) FROM gen ORDER BY sha256;
SQL
fi
db_samples=$(sqlite3 "$db" "SELECT count(*) FROM samples")

# (b) Warm the page cache; check that lookup finds every file of the tree.
files=$(bin/hashr-hash -q "$@" | grep -c '"type":"file"')
known=$(bin/hashr-lookup -q --db "sqlite:$db" "$@" | grep -c '"known":true')
if [[ $files != "$known" ]]; then
	# The tree changed since it was loaded (a package was installed):
	# load it again, which adds the new files to its source.
	bin/hashr-hash -q "$@" | go run ./bench/lookupgen -id "$tree_id" | bin/hashr-load -q --db "sqlite:$db"
	files=$(bin/hashr-hash -q "$@" | grep -c '"type":"file"')
	known=$(bin/hashr-lookup -q --db "sqlite:$db" "$@" | grep -c '"known":true')
fi
if [[ $files != "$known" ]]; then
	echo "bench/lookup.sh: $files files, $known known" >&2
	exit 1
fi

# (c) Both, interleaved; wall and CPU time (user+system) of each run.
calc() { awk "BEGIN { print $1 }"; }
measure() {
	local TIMEFORMAT='%R %U %S' out
	out=$({ time "$@" >/dev/null 2>&1; } 2>&1)
	awk -v o="$out" 'BEGIN { split(o, t, " "); print t[1], t[2] + t[3] }'
}
best() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $0} END {print v[int((NR + 1) / 2)]}'; }
# The lookups alone: the tree's sha256 digests on stdin, in random order,
# no hashing: what a key costs the database side.
keys=$(mktemp)
trap 'rm -f "$keys"' EXIT
bin/hashr-hash -q --algos sha256 "$@" | grep -o '"sha256":"[0-9a-f]*"' | cut -d'"' -f4 | shuf >"$keys"
hash_runs=() lookup_runs=() alone_runs=() baseline_runs=()
for ((i = 0; i < reps; i++)); do
	hash_runs+=("$(measure bin/hashr-hash -q "$@")")
	lookup_runs+=("$(measure bin/hashr-lookup -q --db "sqlite:$db" "$@")")
	alone_runs+=("$(measure sh -c 'exec bin/hashr-lookup -q --db "sqlite:$1" <"$2"' sh "$db" "$keys")")
	if [[ -n ${BASELINE:-} ]]; then
		baseline_runs+=("$(measure "$BASELINE" -q --db "sqlite:$db" "$@")")
	fi
done
read -r hash hash_cpu <<<"$(best "${hash_runs[@]}")"
read -r lookup lookup_cpu <<<"$(best "${lookup_runs[@]}")"
alone_cpu=$(printf '%s\n' "${alone_runs[@]}" | cut -d' ' -f2 | sort -g | head -1)
hash_median=$(median "${hash_runs[@]}" | cut -d' ' -f1)
lookup_median=$(median "${lookup_runs[@]}" | cut -d' ' -f1)
cpu_median() { printf '%s\n' "$@" | cut -d' ' -f2 | sort -g | awk '{v[NR] = $0} END {print v[int((NR + 1) / 2)]}'; }
hash_cpu_median=$(cpu_median "${hash_runs[@]}")
lookup_cpu_median=$(cpu_median "${lookup_runs[@]}")
printf 'tree:         %s (%d files)\n' "$*" "$files"
printf 'database:     %s (%d samples)\n' "$db" "$db_samples"
printf 'machine:      %s CPUs, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'hashr-hash:   %6.3f s best, %6.3f s median of %d, %6.3f CPU-s  (bin/hashr-hash TREE)\n' "$hash" "$hash_median" "$reps" "$hash_cpu"
printf 'hashr-lookup: %6.3f s best, %6.3f s median of %d, %6.3f CPU-s  (bin/hashr-lookup --db sqlite:DB TREE)\n' "$lookup" "$lookup_median" "$reps" "$lookup_cpu"
printf 'lookups alone: %.1f µs of CPU a key, least of %d  (bin/hashr-lookup --db sqlite:DB < the tree'"'"'s %d sha256, shuffled)\n' \
	"$(calc "$alone_cpu * 1000000 / $files")" "$reps" "$files"
printf 'CPU medians:  hashr-hash %.3f CPU-s, hashr-lookup %.3f CPU-s of %d\n' "$hash_cpu_median" "$lookup_cpu_median" "$reps"
printf 'ratio:        hashr-lookup takes %.2fx the time of hashr-hash (target <= 1.5), %.2fx median, %.2fx the CPU time (%.2fx median)\n' \
	"$(calc "$lookup / $hash")" "$(calc "$lookup_median / $hash_median")" "$(calc "$lookup_cpu / $hash_cpu")" \
	"$(calc "$lookup_cpu_median / $hash_cpu_median")"
if [[ -n ${BASELINE:-} ]]; then
	read -r base base_cpu <<<"$(best "${baseline_runs[@]}")"
	base_cpu=$(printf '%s\n' "${baseline_runs[@]}" | cut -d' ' -f2 | sort -g | head -1)
	base_cpu_median=$(cpu_median "${baseline_runs[@]}")
	printf 'baseline:     %6.3f s best, %6.3f CPU-s least, %6.3f CPU-s median of %d  (%s)\n' "$base" "$base_cpu" "$base_cpu_median" "$reps" "$BASELINE"
	printf 'baseline ratio: %.2fx the CPU time of hashr-hash (%.2fx median)\n' \
		"$(calc "$base_cpu / $hash_cpu")" "$(calc "$base_cpu_median / $hash_cpu_median")"
fi
