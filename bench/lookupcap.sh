#!/usr/bin/env bash
# Times hashr-lookup on keys shared by many sources (issue 21): 1,000
# samples each in 5,000 sources (5M links, SQLite), looked up by sha256
# and by md5 with the default --max-sources (100) and with --max-sources 0
# (every source), one after the other; CPU (user+system) and peak RSS.
#
#   bench/lookupcap.sh          # database: $TMPDIR/hashr-bench-lookupcap.db, built once (~1 GB)
#
# Needs: go, sqlite3. Figures go to bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${HASHR_BENCH_LOOKUPCAP_DB:-${TMPDIR:-/tmp}/hashr-bench-lookupcap.db}
mkdir -p bin
go build -o bin/ ./cmd/hashr-hash ./cmd/hashr-lookup ./cmd/hashr-load
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ! -s $db ]]; then
	# The schema from hashr-load (one tiny source), the links with sqlite3.
	mkdir "$work/t" && echo hello >"$work/t/f"
	bin/hashr-hash -q "$work/t" | go run ./bench/lookupgen -id lookupcap | bin/hashr-load -q --db "sqlite:$db"
	sqlite3 "$db" <<'SQL'
PRAGMA synchronous = OFF;
CREATE TEMP TABLE s AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) SELECT sha3('sample ' || i, 256) AS sha256, i FROM n;
CREATE TEMP TABLE src AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999) SELECT sha3('source ' || i, 256) AS sha256, i FROM n;
INSERT INTO sources (sha256, ids, repo, uri, format) SELECT sha256, json_array('pkg-' || i || '.deb'), 'zipf', '/z/pkg-' || i || '.deb', 'deb' FROM src;
INSERT INTO samples (sha256, md5, sha1, size, mime) SELECT sha256, randomblob(16), randomblob(20), 100, 'text/plain' FROM s;
INSERT INTO samples_sources (sample_sha256, source_sha256, paths)
	SELECT s.sha256, src.sha256, json_array('usr/share/doc/pkg-' || src.i || '/copyright') FROM s, src ORDER BY 1, 2;
SQL
fi
sqlite3 "$db" "SELECT lower(hex(sha256)) FROM samples WHERE size = 100" >"$work/sha256"
sqlite3 "$db" "SELECT lower(hex(md5)) FROM samples WHERE size = 100" >"$work/md5"
printf 'machine: %s CPUs, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
for by in sha256 md5; do
	for max in 100 0; do
		/usr/bin/time -f '%e s wall, %U + %S CPU-s, peak RSS %M KB' -o "$work/time" \
			bin/hashr-lookup -q --max-sources "$max" --db "sqlite:$db" <"$work/$by" >"$work/out"
		printf '1,000 keys by %s, --max-sources %3s: %s, %d bytes out\n' "$by" "$max" "$(cat "$work/time")" "$(wc -c <"$work/out")"
	done
done
