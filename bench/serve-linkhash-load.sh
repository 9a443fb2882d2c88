#!/usr/bin/env bash
# What a hash index on samples_sources(sample_sha256) would cost a load,
# were it a migration of the native schema (serve20d, issue 20: it saves
# a served bulk of 1,000 SHA-1s 3 of its 7 buffers a key; see
# bench/README.md). Builds this tree's hashr-load as it is and with one
# more migration that creates the index (in a copy of the tree, by an
# init function, so it follows whatever migrations the tree has), and
# times both with bench/load.sh -vs-copy, in turn, in the same run.
#   [ROUNDS=3] bench/serve-linkhash-load.sh [more bench/load.sh flags]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${WORK:-/var/tmp}/linkhash-load.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tree"
git ls-files -z | xargs -0 tar -c | tar -x -C "$work/tree"
cat > "$work/tree/internal/db/zz_link_hash.go" <<'GO'
package db

func init() {
	nativeMigrations = append(nativeMigrations, migration{
		version:  SchemaVersion + 1,
		postgres: []string{`CREATE INDEX samples_sources_sample_hash ON samples_sources USING hash (sample_sha256)`},
	})
	SchemaVersion = nativeMigrations[len(nativeMigrations)-1].version
}
GO
go build -o "$work/hashr-load-as-is" ./cmd/hashr-load
(cd "$work/tree" && go build -o "$work/hashr-load-link-hash" ./cmd/hashr-load)
bench/load.sh -sources 2000 -files 100 -vs-copy "${ROUNDS:-3}" \
  -binaries "as-is=$work/hashr-load-as-is,link-hash=$work/hashr-load-link-hash" "$@"
