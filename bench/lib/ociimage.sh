# Sourced by the benchmarks that need a container image (bench/oci.sh,
# bench/fetch-identity.sh): bench_oci_image DIR WORK builds, with umoci,
# an OCI layout at DIR tagged "bench", one layer per directory copied in
# (/usr/share/doc, then /usr/bin), unpacking into WORK/bundle.
bench_oci_image() {
  local img=$1 work=$2 src
  umoci init --layout "$img"
  umoci new --image "$img:bench"
  for src in /usr/share/doc /usr/bin; do
    umoci unpack --rootless --image "$img:bench" "$work/bundle" >/dev/null
    mkdir -p "$work/bundle/rootfs$(dirname "$src")"
    cp -a "$src" "$work/bundle/rootfs$src"
    umoci repack --image "$img:bench" "$work/bundle" >/dev/null
    chmod -R u+w "$work/bundle"; rm -rf "$work/bundle"
  done
}
