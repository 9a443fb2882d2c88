#!/usr/bin/env bash
# hashr-serve against CIRCL hashlookup's own architecture, on the same
# machine, in the same run, over the same set: hashlookup-server's
# bin/server.py (Flask, its lookup path unchanged; flask_restx's routing
# shimmed, bench/serve/flask_restx.py, as Debian has no package of it) on
# redis-server loaded as hashlookup's importers load it
# (bench/serve/redis_import.py), and hashr-serve over SQLite and over
# PostgreSQL. Measures with ab (apache2-utils):
#   single: GET /lookup/sha1/KNOWN, 8 concurrent clients, requests/s
#   bulk:   POST /bulk/sha1 of 1,000 hashes (all known), 8 clients, hashes/s
# Needs: python3-flask python3-redis redis-server apache2-utils postgresql,
# and a checkout of github.com/adulau/hashlookup-server in $HASHLOOKUP_SERVER.
# Usage: HASHLOOKUP_SERVER=DIR bench/serve.sh [TREE]   (TREE: /usr/share/doc)
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-/usr/share/doc}
: "${HASHLOOKUP_SERVER:?set HASHLOOKUP_SERVER to a checkout of github.com/adulau/hashlookup-server}"
PY=${PYTHON:-/usr/bin/python3} # with python3-flask and python3-redis
N=${N:-20000}      # single lookups per run
NBULK=${NBULK:-200} # bulk requests per run
work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL runs as the postgres user
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/bin/" ./cmd/hashr-scan ./cmd/hashr-fetch ./cmd/hashr-extract ./cmd/hashr-load ./cmd/hashr-export ./cmd/hashr-serve
PATH=$work/bin:$PATH

# The set: the tree as two tar sources (names a-m and the rest), through
# the real pipeline.
mkdir -p "$work/repo"
(cd "$tree" && ls | awk '$0 < "n"' | tar -cf "$work/repo/first.tar" -T -)
(cd "$tree" && ls | awk '$0 >= "n"' | tar -cf "$work/repo/second.tar" -T -)
hashr-scan --quiet --repo bench "$work/repo" | hashr-fetch --quiet --work "$work/fetch" |
  hashr-extract --quiet --hash md5,sha1,sha256 > "$work/set.ndjson"
hashr-load --quiet --db "sqlite:$work/set.db" < "$work/set.ndjson"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir "$work/pg" && chown postgres "$work/pg" 2>/dev/null || true
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -o "-p 55432 -k $work/pg -c listen_addresses=127.0.0.1" -l "$work/pg/log" -w start >/dev/null
trap 'runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null; cleanup' EXIT
pg=postgres://postgres@127.0.0.1:55432/postgres
hashr-load --quiet --db "$pg" < "$work/set.ndjson"
hashr-export --quiet --db "sqlite:$work/set.db" --format csv > "$work/set.csv"

# CIRCL's side: redis on its port (6666, as server.py has it), loaded.
redis-server --port 6666 --save '' --appendonly no --daemonize no >/dev/null & pids+=($!)
sleep 1
"$PY" bench/serve/redis_import.py 6666 < "$work/set.csv"
mkdir -p "$work/circl/bin" "$work/circl/etc"
cp "$HASHLOOKUP_SERVER/bin/server.py" bench/serve/flask_restx.py "$work/circl/bin/"
printf '[global]\nstats = no\nstats_pubsub = no\nstats_public = no\n[session]\nenable = no\nttl = 86400\n' > "$work/circl/etc/server.conf"
(cd "$work/circl/bin" && exec "$PY" -c 'import server; server.app.run(host="127.0.0.1", port=5000, threaded=True)' 2>"$work/circl.log") & pids+=($!)

hashr-serve --quiet --db "sqlite:$work/set.db" --listen 127.0.0.1:8081 & pids+=($!)
hashr-serve --quiet --db "$pg" --listen 127.0.0.1:8082 & pids+=($!)
sleep 2

# The known hash, and a bulk body of 1,000 known SHA-1s.
known=$(awk -F, 'NR == 2 {print toupper($2)}' "$work/set.csv")
awk -F, 'NR > 1 && $2 != "" {print toupper($2)}' "$work/set.csv" | sort -u > "$work/sha1s"
head -1000 "$work/sha1s" | "$PY" -c 'import json, sys; print(json.dumps({"hashes": sys.stdin.read().split()}))' > "$work/bulk.json"
nbulk=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["hashes"]))' "$work/bulk.json")
for url in http://127.0.0.1:5000 http://127.0.0.1:8081 http://127.0.0.1:8082; do
  curl -sf "$url/lookup/sha1/$known" | grep -q '"SHA-1"' || { echo "serve.sh: $url does not know $known" >&2; exit 1; }
done

rps() { ab -q -k -c 8 "$@" 2>/dev/null | awk '/Requests per second/ {print $4} /Failed requests/ && $3 != 0 {print "FAILED " $3 > "/dev/stderr"}'; }
printf "set: %s rows (sample x source x path) from %s in 2 sources; bulk of %s hashes\n" "$(($(wc -l < "$work/set.csv") - 1))" "$tree" "$nbulk"
printf '%-34s %14s %16s\n' server 'single req/s' 'bulk hashes/s'
declare -A single bulk
for name in circl:5000 sqlite:8081 postgres:8082; do
  port=${name#*:}
  single[$name]=$(rps -n "$N" "http://127.0.0.1:$port/lookup/sha1/$known")
  b=$(rps -n "$NBULK" -p "$work/bulk.json" -T application/json "http://127.0.0.1:$port/bulk/sha1")
  bulk[$name]=$("$PY" -c "print(round($b * $nbulk))")
done
printf '%-34s %14s %16s\n' 'hashlookup-server (Flask+redis)' "${single[circl:5000]}" "${bulk[circl:5000]}"
for name in sqlite:8081 postgres:8082; do
  printf '%-34s %14s %16s   (%sx, %sx)\n' "hashr-serve (${name%:*})" "${single[$name]}" "${bulk[$name]}" \
    "$("$PY" -c "print(round(${single[$name]} / ${single[circl:5000]}, 1))")" \
    "$("$PY" -c "print(round(${bulk[$name]} / ${bulk[circl:5000]}, 1))")"
done
