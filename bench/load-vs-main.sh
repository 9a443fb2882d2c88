#!/usr/bin/env bash
# Times this tree's hashr-load against another revision's (main by
# default) and a raw COPY of the same rows, in the same run, alternating
# in every round (bench/loadbench -vs-copy -binaries), and prints the
# table bench/README.md keeps: wall time, rate as a share of COPY's, and
# processor time of each hashr-load process and of the server.
#   bench/load-vs-main.sh [-base main] [-rounds 3] [loadbench flags: -sources 2000 -files 100 -bulk=false -preload 0.3]
set -euo pipefail
cd "$(dirname "$0")/.."
base=main rounds=3
while [ $# -gt 0 ]; do
	case "$1" in
	-base) base=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	*) break ;;
	esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The base's tree, not a git worktree: nothing is added to the repository.
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go build -o "$tmp/hashr-load-base" ./cmd/hashr-load)
go build -o "$tmp/hashr-load-new" ./cmd/hashr-load
go build -o "$tmp/loadbench" ./bench/loadbench
echo "base: $base at $(git rev-parse --short "$base"); new: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' with uncommitted changes')"
"$tmp/loadbench" -vs-copy "$rounds" -binaries "$base=$tmp/hashr-load-base,new=$tmp/hashr-load-new" "$@"
