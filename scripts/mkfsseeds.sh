#!/usr/bin/env bash
# Builds the small seed images of the file-system readers' fuzz targets and
# hostile-input tests (internal/formats/{squashfs,ntfs,fat,exfat,udf}/testdata)
# with the real tools of each file system, from a tiny fixed tree. The
# ground-truth tests build their big images at run time instead.
#
#   scripts/mkfsseeds.sh [squashfs|ntfs|fat|exfat|udf]...   (default all)
#
# The Debian packages it needs are in .ci/install-deps.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} TZ=UTC LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The tree: a few small files, a nested directory, a hard link, a file of
# several blocks, a symlink.
tree="$tmp/tree"
mkdir -p "$tree/dir/sub"
printf 'hello\n' >"$tree/hello.txt"
printf 'nested file\n' >"$tree/dir/sub/nested.txt"
: >"$tree/dir/empty"
seq 1 20000 >"$tree/dir/numbers.txt"
ln "$tree/hello.txt" "$tree/dir/hello-link.txt"
ln -s ../hello.txt "$tree/dir/symlink"
find "$tree" -exec touch -h -d @"$SOURCE_DATE_EPOCH" {} +

seeds_squashfs() {
  local d="$here/internal/formats/squashfs/testdata"
  mkdir -p "$d"
  for c in gzip xz lzo lz4 zstd lzma; do
    mksquashfs "$tree" "$d/tree-$c.squashfs" -noappend -no-progress -quiet -comp "$c" -b 4096 >/dev/null
  done
  # A loop: the root's only entry, a directory, made to point at the
  # root's own inode (metadata uncompressed so it can be patched).
  mkdir -p "$tmp/loop/loopdir"
  mksquashfs "$tmp/loop" "$d/loop.squashfs" -noappend -no-progress -quiet -noI -noD >/dev/null
  python3 - "$d/loop.squashfs" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
root = struct.unpack_from('<Q', b, 32)[0]
dirtab = struct.unpack_from('<Q', b, 72)[0]
i = b.index(b'loopdir', dirtab)
ent = i - 8          # offset u16, inode_offset i16, type u16, name_size u16
hdr = ent - 12       # count u32, start u32, inode_number u32
struct.pack_into('<I', b, hdr + 4, root >> 16)
struct.pack_into('<H', b, ent, root & 0xffff)
open(p, 'wb').write(b)
PY
}

seeds_ntfs() {
  local d="$here/internal/formats/ntfs/testdata"
  mkdir -p "$d"
  # A smaller tree than the others: fuzzing wants a small seed.
  local t="$tmp/ntree"
  rm -rf "$t" && mkdir -p "$t/dir/sub"
  cp "$tree/hello.txt" "$t/" && cp "$tree/dir/sub/nested.txt" "$t/dir/sub/"
  seq 1 2000 >"$t/dir/numbers.txt" && ln "$t/hello.txt" "$t/dir/hello-link.txt"
  find "$t" -exec touch -h -d @"$SOURCE_DATE_EPOCH" {} +
  truncate -s 0 "$tmp/n.img" && truncate -s 2M "$tmp/n.img"
  mkntfs -q -F -f -c 1024 -T "$tmp/n.img" >/dev/null 2>&1
  wimcapture "$t" "$tmp/t.wim" --compress=none >/dev/null
  wimapply "$tmp/t.wim" 1 "$tmp/n.img" >/dev/null
  printf 'stream\n' >"$tmp/ads"
  ntfscp -q -N ads "$tmp/n.img" "$tmp/ads" /hello.txt
  # Zero what the reader never interprets ($MFTMirr, $LogFile, $UpCase and
  # the backup boot sector), then cut the trailing zeros: the fuzz target
  # reads past the end of its input as zeros, up to the volume's size.
  python3 - "$tmp/n.img" "$d/tree.ntfs" <<'PY'
import subprocess, sys, re
src, dst = sys.argv[1], sys.argv[2]
b = bytearray(open(src, 'rb').read())
for inode in (1, 2, 9, 10):
    out = subprocess.run(['ntfsinfo', '-i', str(inode), '-v', src], capture_output=True, text=True).stdout
    for vcn, lcn, n in re.findall(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s*$', out, re.M):
        b[int(lcn, 16) * 1024:(int(lcn, 16) + int(n, 16)) * 1024] = bytes(int(n, 16) * 1024)
b[-512:] = bytes(512)
open(dst, 'wb').write(bytes(b).rstrip(b'\0'))
PY
  gzip -9nf "$d/tree.ntfs" # 1.3 MiB of mostly zeros: 40 KiB
}

# FAT: the tree without its symlink (FAT has none), on a FAT12 floppy and
# a small FAT16 volume.
seeds_fat() {
  local d="$here/internal/formats/fat/testdata"
  mkdir -p "$d"
  rm -f "$tmp"/f12.img "$tmp"/f16.img
  mkfs.vfat -C -F 12 -i 12345678 "$tmp/f12.img" 360 >/dev/null
  mkfs.vfat -C -F 16 -s 1 -i 12345678 "$tmp/f16.img" 4200 >/dev/null
  for img in f12 f16; do
    MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$tmp/$img.img" "$tree/hello.txt" ::/
    MTOOLS_SKIP_CHECK=1 mmd -i "$tmp/$img.img" ::/DIR ::/DIR/SUB
    MTOOLS_SKIP_CHECK=1 mcopy -Q -i "$tmp/$img.img" "$tree/dir/numbers.txt" "$tree/dir/empty" ::/DIR/
    MTOOLS_SKIP_CHECK=1 mcopy -Q -i "$tmp/$img.img" "$tree/dir/sub/nested.txt" "::/DIR/SUB/A long name, in Unicode — ß.txt"
  done
  cp "$tmp/f12.img" "$d/tree-fat12.img"
  # FAT16's 4 MiB are mostly zeros: only its used part goes in the seed.
  head -c 300k "$tmp/f16.img" >"$d/tree-fat16.img"
}

# exFAT: no Debian tool writes files into exFAT without a mount, so the
# package's own test builder fills what mkfs.exfat made (fsck.exfat checks it).
seeds_exfat() {
  rm -f "$tmp/e.img" && truncate -s 1M "$tmp/e.img"
  mkfs.exfat -b 4096 -c 512 -L seed "$tmp/e.img" >/dev/null
  rm -rf "$tmp/etree" && cp -r "$tree" "$tmp/etree" && find "$tmp/etree" -type l -delete
  (cd "$here" && HASHR_EXFAT_SEED="$tmp/e.img:$tmp/etree" go test -count=1 -run TestMakeSeed ./internal/formats/exfat >/dev/null)
}

# UDF: genisoimage -udf of the tree (UDF 1.02 with an ISO 9660 bridge),
# and an empty UDF 2.50 DVD-R volume (a virtual partition) from mkudffs.
seeds_udf() {
  local d="$here/internal/formats/udf/testdata"
  mkdir -p "$d"
  genisoimage -quiet -udf -R -o "$d/tree.udf" "$tree"
  rm -f "$d"/empty-*.udf && truncate -s 700k "$d/empty-2.50-vat.udf"
  mkudffs -m dvdr -r 2.50 --uuid=0123456789abcdef "$d/empty-2.50-vat.udf" >/dev/null
}

for g in "${@:-squashfs ntfs fat exfat udf}"; do
  for one in $g; do
    if declare -F "seeds_$one" >/dev/null; then "seeds_$one"; fi
  done
done
