#!/usr/bin/env bash
# Builds the seed corpora of the Windows format readers' fuzz targets
# (internal/formats/{wim,cab,ole}/testdata/fuzz/FuzzWalker) with the real
# tools: wimlib-imagex (wimtools), gcab, wixl (msitools) and gsf
# (libgsf-bin). Rerunnable; the seeds are small (a few KiB each).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} TZ=UTC LC_ALL=C

mkdir -p "$work/d/etc"
printf 'hello, hashr\n' >"$work/d/etc/hello.conf"
seq 1 300 >"$work/d/etc/numbers"
touch -d "@$SOURCE_DATE_EPOCH" "$work/d/etc/"*

# seed FILE DIR: writes FILE as a go test fuzz v1 corpus entry in DIR.
seed() {
  mkdir -p "$2"
  python3 - "$1" "$2/$(basename "$1")" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
lit = ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else '\\x%02x' % b for b in data)
open(sys.argv[2], 'w').write('go test fuzz v1\n[]byte("%s")\n' % lit)
PY
}

wimdir="$here/internal/formats/wim/testdata/fuzz/FuzzWalker"
for c in none XPRESS LZX; do
  wimlib-imagex capture "$work/d" "$work/$c.wim" seed --compress=$c >/dev/null
  seed "$work/$c.wim" "$wimdir"
done
wimlib-imagex capture "$work/d" "$work/solid-xpress.wim" seed --compress=XPRESS --solid --solid-compress=XPRESS >/dev/null
seed "$work/solid-xpress.wim" "$wimdir"

cabdir="$here/internal/formats/cab/testdata/fuzz/FuzzWalker"
(cd "$work/d" && gcab -c "$work/stored.cab" etc/hello.conf etc/numbers && gcab -cz "$work/mszip.cab" etc/hello.conf etc/numbers)
seed "$work/stored.cab" "$cabdir"
seed "$work/mszip.cab" "$cabdir"

oledir="$here/internal/formats/ole/testdata/fuzz/FuzzWalker"
seed "$here/testdata/formats/sample.msi" "$oledir"
seed "$here/testdata/formats/sample.ole" "$oledir"

# FuzzSplit: the two parts of a split WIM (wimlib-imagex split into parts
# of about half the WIM's size), as one corpus entry of two []byte
# arguments.
splitdir="$here/internal/formats/wim/testdata/fuzz/FuzzSplit"
mkdir -p "$splitdir" "$work/s"
# Two files of 2 KiB that do not compress (fixed pseudo-random bytes), so
# that the WIM splits between their resources.
python3 -c 'import random, sys; random.seed(1); [open(sys.argv[1] + "/" + n, "wb").write(random.randbytes(2048)) for n in ("a", "b")]' "$work/s"
touch -d "@$SOURCE_DATE_EPOCH" "$work/s/"*
wimlib-imagex capture "$work/s" "$work/s.wim" seed --compress=LZX >/dev/null
wimlib-imagex split "$work/s.wim" "$work/seed.swm" 0.003 >/dev/null
if [[ ! -e $work/seed2.swm || -e $work/seed3.swm ]]; then
  echo "mkfuzzseeds-windows.sh: wimlib-imagex split did not make two parts" >&2
  exit 1
fi
python3 - "$work/seed.swm" "$work/seed2.swm" "$splitdir/LZX-2-parts" <<'PY'
import sys
def lit(data):
    return ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else '\\x%02x' % b for b in data)
a, b = (open(p, 'rb').read() for p in sys.argv[1:3])
open(sys.argv[3], 'w').write('go test fuzz v1\n[]byte("%s")\n[]byte("%s")\n' % (lit(a), lit(b)))
PY
