#!/usr/bin/env bash
# Hash the files of container images, without docker or root.
#
#   examples/containers.sh registry ghcr.io/org/app [--flatten]   every tag
#   examples/containers.sh image docker.io/library/debian:12 [--flatten]
#   HASHR_PLATFORM=linux/arm64 examples/containers.sh image …   one platform (fetch and extract)
#   examples/containers.sh archive image.tar [--flatten]            "docker save" output
#   examples/containers.sh layout ./oci-dir [--flatten]             an OCI image layout
#
# Default: every file of every layer, as <layer-digest>/<path> (what
# HashR's GCR importer hashed). --flatten: only the files of the image's
# final file system. Registry credentials come from ~/.docker/config.json
# and its credential helpers, as for docker, crane and skopeo.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PATH=$here/bin:$PATH
db=${HASHR_DB:-sqlite:hashr.db}

load() {
  hashr-extract --hash md5,sha1,sha256 "$@" | hashr-dedup | hashr-load --db "$db"
}

what=${1:-}
src=${2:-}
shift 2 || { sed -n '2,8p' "$0" >&2; exit 2; }
case $what in
  registry) hashr-scan "oci://$src" | hashr-fetch | load "$@" ;;
  image) hashr-scan "oci://$src" | hashr-fetch | load "$@" ;;
  archive | layout) hashr-scan "$src" | hashr-fetch | load "$@" ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
