#!/usr/bin/env bash
# Fetches a corpus of real software packages, for the README's main job,
# the tests and the benchmarks, into $HASHR_CORPUS (default
# ~/.cache/hashr-corpus), and prints the directory it filled:
#   deb/   real Debian packages (xz, gzip data members; see corpus/debs.txt),
#          with apt-get download
#   npm/   real npm package tarballs (.tgz = tar.gz; corpus/npm.txt), with npm pack
#   gomod/ real Go module zips from the module proxy (corpus/gomod.txt)
# Usage: scripts/corpus.sh [deb|npm|gomod|all]   (default all)
# Prints $HASHR_CORPUS/<kind> for one kind, $HASHR_CORPUS for all.
# Safe to rerun; the lists name what is fetched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)/corpus
root=${HASHR_CORPUS:-$HOME/.cache/hashr-corpus}
what=${1:-all}

# names prints a list's entries, without comments and blank lines.
names() { grep -v -e '^#' -e '^[[:space:]]*$' "$here/$1"; }

fetch_deb() {
  mkdir -p "$root/deb"
  cd "$root/deb"
  # apt-get download needs the package lists once per machine.
  if ! apt-get download --print-uris bash >/dev/null 2>&1; then
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
  fi
  # As root apt-get warns that it downloads unsandboxed: not news here.
  mapfile -t debs < <(names debs.txt)
  apt-get download -qq "${debs[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true
  if ! compgen -G "$root/deb/*.deb" >/dev/null; then
    echo "corpus: apt-get download left no .deb in $root/deb" >&2
    echo "corpus: hint: check the network and 'apt-get download bash' by hand" >&2
    exit 1
  fi
}

fetch_npm() {
  mkdir -p "$root/npm"
  cd "$root/npm"
  mapfile -t pkgs < <(names npm.txt)
  npm pack --silent "${pkgs[@]}" >/dev/null
}

fetch_gomod() {
  mkdir -p "$root/gomod"
  local tmp m z
  tmp=$(mktemp -d)
  (cd "$tmp" && go mod init corpus >/dev/null 2>&1 &&
    while read -r m; do
      z=$(GOFLAGS=-mod=mod go mod download -json "$m" | sed -n 's/.*"Zip": "\(.*\)".*/\1/p')
      [[ -n $z ]] && cp -f "$z" "$root/gomod/$(echo "$m" | tr '/@' '__').zip"
    done < <(names gomod.txt))
  rm -rf "$tmp"
}

case $what in
  deb | npm | gomod) "fetch_$what"; echo "$root/$what" ;;
  all) (fetch_deb); (fetch_npm); (fetch_gomod); echo "$root" ;;
  *) echo "usage: $0 [deb|npm|gomod|all]" >&2; exit 2 ;;
esac
