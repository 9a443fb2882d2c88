#!/usr/bin/env bash
# PostgreSQL's capped lookups on keys shared by many sources (issue 21):
# a throwaway PostgreSQL 15 (shared_buffers 128MB) holding HOT samples
# (1,000) each in SOURCES sources (3,000) beside SINGLES samples
# (1,000,000) in one source each, so that the statistics look like a
# real set's. Prints EXPLAIN (ANALYZE, BUFFERS) of the capped sha256
# query before (a window ranking every link of a key: main's) and after
# (a LATERAL subquery with LIMIT 101: this branch's) for the HOT keys,
# and then times hashr-lookup by sha256 and by md5 over them, this
# branch's and BASELINE's (main's binary, if given), alternating, REPS
# (3) times each: wall, and the server's CPU (the postgres processes'
# utime+stime from /proc).
#
#   BASELINE=/tmp/main/hashr-lookup bench/lookupcap-pg.sh
#
# Needs: go, PostgreSQL 15 (/usr/lib/postgresql/15/bin), root or the
# postgres user. Figures go to bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
hot=${HOT:-1000} sources=${SOURCES:-3000} singles=${SINGLES:-1000000} reps=${REPS:-3}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
mkdir -p bin
go build -o bin/ ./cmd/hashr-hash ./cmd/hashr-lookup ./cmd/hashr-load
work=$(mktemp -d)
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
chmod 755 "$work"
[[ $(id -u) == 0 ]] && chown postgres "$work"
port=$((20000 + RANDOM % 20000))
as_pg "$pgbin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-p $port -k $work -c shared_buffers=128MB -c fsync=off" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null; rm -rf "$work"' EXIT
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
psql() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres postgres "$@"; }

# The schema from hashr-load (one tiny source), the rows by SQL.
mkdir "$work/t" && echo hello >"$work/t/f"
bin/hashr-hash -q "$work/t" | go run ./bench/lookupgen -id lookupcap | bin/hashr-load -q --db "$url"
psql <<SQL
INSERT INTO sources (sha256, ids, repo, uri, format)
	SELECT sha256(('source ' || i)::bytea), ARRAY['pkg-' || i || '.deb'], 'zipf', '/z/pkg-' || i || '.deb', 'deb'
	FROM generate_series(0, $sources - 1) i;
INSERT INTO samples (sha256, md5, sha1, size, mime)
	SELECT sha256(('sample ' || i)::bytea), decode(md5('sample ' || i), 'hex'), substr(sha256(('s1 ' || i)::bytea), 1, 20), 100, 'text/plain'
	FROM generate_series(0, $hot - 1) i;
INSERT INTO samples_sources (sample_sha256, source_sha256, paths)
	SELECT sha256(('sample ' || i)::bytea), sha256(('source ' || j)::bytea), ARRAY['usr/share/doc/pkg-' || j || '/copyright']
	FROM generate_series(0, $hot - 1) i, generate_series(0, $sources - 1) j;
INSERT INTO samples (sha256, md5, sha1, size, mime)
	SELECT sha256(('single ' || i)::bytea), decode(md5('single ' || i), 'hex'), substr(sha256(('s1 ' || i)::bytea), 1, 20), 200, 'text/plain'
	FROM generate_series(0, $singles - 1) i;
INSERT INTO samples_sources (sample_sha256, source_sha256, paths)
	SELECT sha256(('single ' || i)::bytea), sha256(('source ' || (i % $sources))::bytea), ARRAY['usr/lib/f' || i]
	FROM generate_series(0, $singles - 1) i;
VACUUM ANALYZE;
SQL
psql -At -c "SELECT encode(sha256, 'hex') FROM samples WHERE size = 100" >"$work/sha256"
psql -At -c "SELECT encode(md5, 'hex') FROM samples WHERE size = 100" >"$work/md5"
printf 'machine: %s CPUs, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'set: %s samples each in %s sources, %s in one source each; database %s\n' "$hot" "$sources" "$singles" \
	"$(psql -At -c "SELECT pg_size_pretty(pg_database_size('postgres'))")"

# (a) The plans, before and after, for the hot keys (warm: each run twice,
# the second shown).
trusted="NOT x.failed AND NOT x.source_sha256 IN (SELECT sha256 FROM sources WHERE status = 'failed')"
keys="'{$(sed 's/^/"\\\\x/; s/$/"/' "$work/sha256" | paste -sd,)}'::bytea[]" # as hashr-lookup binds them
window="SELECT sample_sha256, source_sha256, paths, failed FROM (SELECT x.sample_sha256, x.source_sha256,
	array_to_json(x.paths)::text AS paths, x.failed, row_number() OVER (PARTITION BY x.sample_sha256 ORDER BY x.source_sha256) AS link_rank
	FROM samples_sources x WHERE x.sample_sha256 = ANY($keys) AND $trusted) capped WHERE link_rank <= 101"
lateral="WITH keys(sample) AS (SELECT unnest($keys)) SELECT l.sample_sha256, l.source_sha256, array_to_json(l.paths)::text, l.failed
	FROM keys CROSS JOIN LATERAL (SELECT x.sample_sha256, x.source_sha256, x.paths, x.failed FROM samples_sources x
	WHERE x.sample_sha256 = keys.sample AND $trusted ORDER BY x.source_sha256 LIMIT 101) l"
for q in window lateral; do
	psql -c "EXPLAIN (ANALYZE, BUFFERS) ${!q}" >/dev/null
	echo "== $q (before: window; after: lateral)"
	psql -c "EXPLAIN (ANALYZE, BUFFERS) ${!q}" | sed 's/\(Cond: .\{40\}\).*/\1…/; s/\(Filter: .\{100\}\).*/\1…/'
done

# (b) hashr-lookup, alternating with BASELINE.
server_cpu() { # the server's CPU in clock ticks: the postmaster's own and its
	# exited children's (it waits for them), and its live children's
	local pm total pid
	pm=$(head -1 "$work/data/postmaster.pid")
	total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
	for pid in $(pgrep -P "$pm"); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
run() { # label binary by
	local before after
	before=$(server_cpu)
	/usr/bin/time -f '%e s wall, %U + %S client CPU-s' -o "$work/time" "$2" -q --db "$url" <"$work/$3" >"$work/out"
	sleep 0.5 # the backend exits, and the postmaster waits for it
	after=$(server_cpu)
	printf '%-9s by %-6s: %s, server %.2f CPU-s, %d bytes out\n' "$1" "$3" "$(cat "$work/time")" \
		"$(awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print d / hz }')" "$(wc -c <"$work/out")"
}
for ((i = 0; i < reps; i++)); do
	for by in sha256 md5; do
		run branch bin/hashr-lookup "$by"
		if [[ -n ${BASELINE:-} ]]; then
			run baseline "$BASELINE" "$by"
		fi
	done
done
