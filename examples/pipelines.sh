#!/usr/bin/env bash
# Runnable pipelines for hashr's common jobs. Each job works in a scratch
# directory and prints what it made. Run all: examples/pipelines.sh
# One job: examples/pipelines.sh hash-tree
# Needs bin/ (make build); uses Debian packages from apt's cache or
# scripts/corpus.sh deb.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PATH=$here/bin:$PATH
work=${HASHR_EXAMPLES_WORK:-$(mktemp -d)}
trap '[[ -n ${HASHR_EXAMPLES_WORK:-} ]] || rm -rf "$work"' EXIT

debs() {
  # A directory of real Debian packages: the corpus of scripts/corpus.sh when fetched,
  # else a few downloaded into the scratch directory.
  local corpus=${HASHR_CORPUS:-$HOME/.cache/hashr-corpus}/deb
  if compgen -G "$corpus/*.deb" >/dev/null; then
    echo "$corpus"
  else
    mkdir -p "$work/debs"
    (cd "$work/debs" && apt-get download -qq gzip sed grep 2>/dev/null)
    echo "$work/debs"
  fi
}

# Hash a tree the way hashdeep or sha256sum would: one file record a file.
hash_tree() {
  hashr-hash --algos md5,sha1,sha256 /usr/share/doc/bash | sed -n 1,3p
}

# What is in a repository: each source's format and name.
scan_repo() {
  hashr-scan "$(debs)" | sed -n 1,3p
}

# Make sources local and identify them by their full SHA-256.
fetch_sources() {
  hashr-scan "$(debs)" | hashr-fetch | sed -n 1,2p
}

# Debian packages to file records with digests, spooled then deleted.
extract_and_hash() {
  hashr-scan "$(debs)" | hashr-fetch | hashr-extract --spool "$work/spool" \
    | hashr-hash --delete | grep '"type":"file"' | sed -n 1,3p
}

# The whole job: a hash set in SQLite, new files marked by the store.
full_pipeline() {
  hashr-scan "$(debs)" | hashr-fetch | hashr-extract --spool "$work/spool" \
    | hashr-hash --delete | hashr-dedup --store "$work/store" \
    | hashr-load --db "sqlite:$work/hashr.db"
  ls -l "$work/hashr.db"
}

jobs=(hash_tree scan_repo fetch_sources extract_and_hash full_pipeline)
if (($#)); then jobs=("${@//-/_}"); fi
for job in "${jobs[@]}"; do
  echo "== ${job//_/-}"
  "$job"
done
