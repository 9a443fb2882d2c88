#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine to build, run and test hashr: the Debian
# tools hashr uses at run time (7zz and xz for its fast xz path, 7zz and the
# like as fallbacks) and those the tests drive for fixtures and ground truth,
# installs staticcheck for make lint, then builds bin/. Needs Go 1.26
# (https://go.dev/dl, or /usr/local/go) and, for apt-get, root or sudo.
# Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null; then
  echo "setup: Go is not installed; install Go 1.26 from https://go.dev/dl into /usr/local/go" >&2
  exit 1
fi
have=$(go env GOVERSION)
case $have in
  go1.2[6-9]* | go1.[3-9]*) ;;
  *) echo "setup: hashr needs Go 1.26 or later, found $have" >&2; exit 1 ;;
esac

sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo
mapfile -t pkgs < <(grep -v -e '^#' -e '^$' .ci/install-deps.txt | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

go mod download
make tools # staticcheck, for make lint
make build
echo "setup: done; the commands are in $(pwd)/bin"
