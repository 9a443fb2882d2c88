#!/usr/bin/env bash
# Times what verification costs on the real Debian packages of
# scripts/corpus.sh, laid out as a signed apt mirror (apt-ftparchive, and a
# throwaway gpg key clearsigning InRelease, all built here):
#
#   scan off      hashr-scan --verify off MIRROR
#   scan require  hashr-scan --verify require --keyring KEY MIRROR
#                 (InRelease's signature, Packages.xz against the Release)
#   extract       hashr-extract of the same sources (--hash md5,sha1,sha256)
#
# hashr-fetch hashes a local source's bytes whether or not a signed index
# gave it a sha256 to match, so verification's whole cost is the scan's
# difference. CPU time (user+sys) of each, alternating, ROUNDS rounds
# (default 3); prints every round, the medians and verification's cost as
# a share of extract's (target: under 5%).
#
# Usage: bench/verify.sh [ROUNDS]   (from the repository root; builds bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
corpus=$(scripts/corpus.sh deb | tail -1)
go build -o bin/ ./cmd/hashr-scan ./cmd/hashr-extract
work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
trap 'gpgconf --kill all 2>/dev/null; rm -rf "$work"' EXIT

# The mirror: pool/ links the corpus, dists/bench is what apt-ftparchive
# writes, InRelease clearsigned by a key made for this run.
mirror="$work/mirror" dist="$work/mirror/dists/bench"
mkdir -p "$mirror/pool/main" "$dist/main/binary-amd64" "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
for d in "$corpus"/*.deb; do ln -s "$d" "$mirror/pool/main/"; done
(cd "$mirror" && apt-ftparchive packages pool) >"$dist/main/binary-amd64/Packages"
xz -k "$dist/main/binary-amd64/Packages"
(cd "$dist" && apt-ftparchive -o APT::FTPArchive::Release::Suite=bench release .) >"$work/Release"
mv "$work/Release" "$dist/Release"
gpg --batch -q --passphrase '' --quick-gen-key 'bench <bench@example.invalid>' ed25519 sign never
gpg --batch -q --yes --export -o "$work/key.gpg"
gpg --batch -q --yes --pinentry-mode loopback --passphrase '' --clearsign -o "$dist/InRelease" "$dist/Release"

. bench/lib/cputime.sh
scan_off() { bench_cpu "$work/off.ndjson" /dev/null bin/hashr-scan --plan=false --verify off "$mirror"; }
scan_require() { bench_cpu "$work/require.ndjson" /dev/null bin/hashr-scan --plan=false --verify require --keyring "$work/key.gpg" "$mirror"; }
extract() { bench_cpu "$work/files.ndjson" "$work/off.ndjson" bin/hashr-extract --hash md5,sha1,sha256 --spool "$work/spool"; }

n=$(ls "$corpus"/*.deb | wc -l)
echo "corpus: $n packages, $(du -shL "$mirror/pool" | cut -f1), as a signed mirror in $mirror"
echo "machine: $(nproc) CPUs, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
scan_off >/dev/null; scan_require >/dev/null # warm the page cache
verified=$(grep -c '"ok":true,"by":"apt-release"' "$work/require.ndjson" || true)
if [[ $verified != "$n" ]]; then
  echo "verify.sh: $verified of $n packages verified; want all" >&2
  exit 1
fi
bench_rounds "$rounds" "scan off" scan_off "scan require" scan_require extract extract
mo=${BENCH_MEDIANS[0]} mr=${BENCH_MEDIANS[1]} mx=${BENCH_MEDIANS[2]}
awk -v o="$mo" -v r="$mr" -v x="$mx" 'BEGIN {
  printf "verification: %.3f s CPU, %.2f%% of extract (target < 5%%)\n", r - o, 100 * (r - o) / x }'
