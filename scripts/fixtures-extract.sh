#!/usr/bin/env bash
# Builds the fixtures of hashr-extract with the real tools that make each
# format (GNU tar, cpio, ar, dpkg-deb, rpmbuild, zip, 7zz, genisoimage,
# xorriso), so the readers are checked against what those tools write:
#
#   testdata/extract/   one small tree in every format and compression
#   testdata/hostile/   truncated, corrupt and hostile inputs
#
# Every fixture stays under 1 MiB. Rerunnable; contents and member mtimes
# are fixed (SOURCE_DATE_EPOCH), though rpmbuild and the ISO tools still
# stamp the time they ran into headers. The tests compare members with the
# tree below, which this script also writes out as testdata/extract/tree.sha256
# (sha256sum of every regular file, from the tree itself).
#
#   scripts/fixtures-extract.sh [--out DIR]
#
# The Debian packages it needs are in .ci/install-deps.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/testdata"
if [[ ${1:-} == --out ]]; then out=$2; fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export TZ=UTC LC_ALL=C
ext="$out/extract" hostile="$out/hostile"
# zip and ar add to an archive that exists: start from nothing
rm -rf "$ext" "$hostile"
mkdir -p "$ext" "$hostile"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarflags=(--sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner)

# The tree: regular files of every kind a reader must get right.
make_tree() {
  local t=$1
  mkdir -p "$t/bin" "$t/doc/deep/deeper" "$t/links"
  printf 'hello, world\n' >"$t/hello.txt"
  : >"$t/empty"
  # incompressible, yet the same on every run
  python3 -c 'import random, sys; random.seed(1); sys.stdout.buffer.write(random.randbytes(20000))' >"$t/bin/tool"
  chmod 4755 "$t/bin/tool"
  seq 1 15000 >"$t/doc/deep/deeper/numbers.txt" # over the 64 KiB extract peeks at
  printf 'café\n' >"$t/doc/café.txt"
  # A name over tar's 100 bytes (GNU long name, PAX path).
  printf 'long\n' >"$t/doc/$(printf 'n%.0s' {1..150}).txt"
  ln "$t/hello.txt" "$t/links/hard.txt"
  ln -s ../hello.txt "$t/links/soft.txt"
  find "$t" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# A nested archive for --max-depth: inner.zip holds a.txt and lib.jar,
# which holds b.txt; inner.tar.gz holds c.txt.
make_nested() {
  local d=$1
  mkdir -p "$d/n/lib" "$d/n/tgz"
  printf 'a\n' >"$d/n/a.txt"
  printf 'b\n' >"$d/n/lib/b.txt"
  printf 'c\n' >"$d/n/tgz/c.txt"
  find "$d/n" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$d/n/lib" && zip -qX ../lib.jar b.txt)
  (cd "$d/n" && zip -qX "$d/inner.zip" a.txt lib.jar)
  tar "${tarflags[@]}" -C "$d/n/tgz" -czf "$d/inner.tar.gz" c.txt
}

build_extract() {
  local t="$work/tree"
  make_tree "$t"
  (cd "$t" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum) >"$ext/tree.sha256"

  # tar, every format and compression
  tar "${tarflags[@]}" --format=gnu -C "$t" -cf "$ext/tree.tar" .
  tar "${tarflags[@]}" --format=pax --pax-option=delete=atime,delete=ctime -C "$t" -cf "$ext/tree-pax.tar" .
  tar "${tarflags[@]}" --format=ustar -C "$t" -cf "$ext/tree-ustar.tar" hello.txt bin doc/deep
  gzip -9n <"$ext/tree.tar" >"$ext/tree.tar.gz"
  bzip2 -9 <"$ext/tree.tar" >"$ext/tree.tar.bz2"
  xz -6 <"$ext/tree.tar" >"$ext/tree.tar.xz"
  zstd -q -19 <"$ext/tree.tar" >"$ext/tree.tar.zst"
  lz4 -q -9 <"$ext/tree.tar" >"$ext/tree.tar.lz4"
  xz --format=lzma <"$ext/tree.tar" >"$ext/tree.tar.lzma"

  # sparse files: a 4 MiB hole then data, in GNU and PAX 1.0 sparse formats
  mkdir -p "$work/sparse"
  truncate -s 4M "$work/sparse/disk.img"
  printf 'data after the hole\n' >>"$work/sparse/disk.img"
  printf 'head' | dd of="$work/sparse/disk.img" conv=notrunc status=none
  touch -d "@$SOURCE_DATE_EPOCH" "$work/sparse/disk.img"
  tar "${tarflags[@]}" --format=gnu --sparse -C "$work/sparse" -cf "$ext/sparse-gnu.tar" disk.img
  tar "${tarflags[@]}" --format=pax --sparse --sparse-version=1.0 --pax-option=delete=atime,delete=ctime \
    -C "$work/sparse" -cf "$ext/sparse-pax.tar" disk.img
  sha256sum "$work/sparse/disk.img" | sed 's|  .*/|  |' >"$ext/sparse.sha256"

  # cpio, every header format
  (cd "$t" && find . -mindepth 1 | sort | cpio --quiet -o -H newc >"$ext/tree.cpio")
  (cd "$t" && find . -mindepth 1 | sort | cpio --quiet -o -H crc >"$ext/tree-crc.cpio")
  (cd "$t" && find . -mindepth 1 | sort | cpio --quiet -o -H odc >"$ext/tree-odc.cpio")
  (cd "$t" && find . -mindepth 1 -not -name tool | sort | cpio --quiet -o -H bin >"$ext/tree-bin.cpio")
  gzip -9n <"$ext/tree.cpio" >"$ext/tree.cpio.gz"

  # ar (GNU long names: the last member's name is over 15 bytes)
  (cd "$t" && ar qcD "$ext/tree.a" hello.txt empty doc/deep/deeper/numbers.txt "doc/$(printf 'n%.0s' {1..150}).txt" 2>/dev/null)

  # zip family: deflate, stored, zip64, symlinks; a .jar and a .whl are zips
  (cd "$t" && zip -qrXy "$ext/tree.zip" .)
  (cd "$t" && zip -qrXy0 "$ext/tree-stored.zip" .)
  (cd "$t" && zip -qrXy -fz "$ext/tree-zip64.zip" .)
  (cd "$t" && zip -qrXy -Z bzip2 "$ext/tree-bzip2.zip" .)
  cp "$ext/tree.zip" "$ext/tree.jar"
  # an encrypted member and a PPMd one among plain ones
  rm -f "$ext/mixed.zip"
  (cd "$t" && zip -qX "$ext/mixed.zip" hello.txt &&
    7zz a -bso0 -bsp0 -tzip -pSECRET "$ext/mixed.zip" bin/tool >/dev/null &&
    7zz a -bso0 -bsp0 -tzip -mm=PPMd "$ext/mixed.zip" doc/deep/deeper/numbers.txt >/dev/null &&
    zip -qX "$ext/mixed.zip" empty)

  # 7z: solid LZMA2, and one with encrypted contents
  rm -f "$ext/tree.7z" "$ext/encrypted.7z"
  (cd "$t" && 7zz a -bso0 -bsp0 -snl "$ext/tree.7z" . >/dev/null)
  (cd "$t" && 7zz a -bso0 -bsp0 -pSECRET "$ext/encrypted.7z" hello.txt bin >/dev/null)

  # ISO 9660: Rock Ridge + Joliet, Joliet only, plain; and xorriso
  genisoimage -quiet -input-charset utf-8 -R -J -o "$ext/tree.iso" "$t"
  genisoimage -quiet -input-charset utf-8 -J -o "$ext/tree-joliet.iso" "$t"
  genisoimage -quiet -o "$ext/tree-plain.iso" "$t/doc/deep/deeper"
  xorriso -no_rc -outdev "$ext/tree-xorriso.iso" -map "$t" / -commit >/dev/null 2>&1
  # a file in two extents, the way files over 4 GiB are stored: the plain
  # image's NUMBERS.TXT record split in two (20 sectors, then the rest)
  python3 - "$ext/tree-plain.iso" "$ext/multiextent.iso" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
root_lba = struct.unpack_from("<I", b, 16*2048 + 156 + 2)[0]
off = root_lba * 2048
recs = []
while b[off]:
    recs.append(bytes(b[off:off + b[off]])); off += b[off]
out = bytearray()
for r in recs:
    if r[33:33 + r[32]] != b"NUMBERS.TXT;1":
        out += r; continue
    lba, size = struct.unpack_from("<I", r, 2)[0], struct.unpack_from("<I", r, 10)[0]
    first, second = bytearray(r), bytearray(r)
    struct.pack_into("<I", first, 10, 20 * 2048); struct.pack_into(">I", first, 14, 20 * 2048)
    first[25] |= 0x80  # not the final extent
    struct.pack_into("<I", second, 2, lba + 20); struct.pack_into(">I", second, 6, lba + 20)
    struct.pack_into("<I", second, 10, size - 20 * 2048); struct.pack_into(">I", second, 14, size - 20 * 2048)
    out += first + second
b[root_lba * 2048:root_lba * 2048 + len(out)] = out
open(sys.argv[2], "wb").write(b)
PY

  # nested archives
  make_nested "$work"
  mkdir -p "$work/nestsrc"
  cp "$work/inner.zip" "$work/inner.tar.gz" "$work/nestsrc/"
  printf 'top\n' >"$work/nestsrc/top.txt"
  find "$work/nestsrc" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  tar "${tarflags[@]}" -C "$work/nestsrc" -czf "$ext/nested.tar.gz" .
  # the wrapper rule: a tar.gz whose only file is an archive
  tar "${tarflags[@]}" -C "$work" -czf "$ext/wrapper.tar.gz" inner.zip
  # a compressed single file
  gzip -9n <"$t/doc/deep/deeper/numbers.txt" >"$ext/numbers.txt.gz"

  build_debs "$t"
  build_rpms "$t"
}

# Debian packages: dpkg-deb for gzip, xz, zstd and none; ar by hand for
# bzip2 and lzma, which dpkg-deb reads but no longer writes.
build_debs() {
  local t=$1 pkg="$work/pkg"
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/hello" "$pkg/usr/bin"
  cat >"$pkg/DEBIAN/control" <<EOF
Package: hashr-hello
Version: 1.0
Architecture: all
Maintainer: hashr <hashr@example.org>
Description: hashr test package
EOF
  cp -a "$t/hello.txt" "$t/doc/deep/deeper/numbers.txt" "$pkg/usr/share/hello/"
  cp -a "$t/bin/tool" "$pkg/usr/bin/"
  ln "$pkg/usr/share/hello/hello.txt" "$pkg/usr/share/hello/hardlink.txt"
  ln -s hello.txt "$pkg/usr/share/hello/symlink.txt"
  (cd "$pkg" && find usr -type f -printf '%P\0' | sort -z | sed -z 's|^|usr/|' | xargs -0 md5sum >DEBIAN/md5sums)
  find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  for z in xz gzip zstd none; do
    dpkg-deb --root-owner-group -Z"$z" --build "$pkg" "$ext/hello-$z.deb" >/dev/null
  done
  local d="$work/debparts"
  mkdir -p "$d" && (cd "$d" && ar x "$ext/hello-none.deb")
  bzip2 -9 <"$d/data.tar" >"$d/data.tar.bz2"
  xz --format=lzma <"$d/data.tar" >"$d/data.tar.lzma"
  (cd "$d" && rm -f "$ext/hello-bzip2.deb" "$ext/hello-lzma.deb" &&
    ar qcD "$ext/hello-bzip2.deb" debian-binary control.tar data.tar.bz2 &&
    ar qcD "$ext/hello-lzma.deb" debian-binary control.tar data.tar.lzma)
  head -c 3000 "$ext/hello-xz.deb" >"$hostile/truncated.deb"
}

# RPM packages from the same files, one per payload compression.
build_rpms() {
  local t=$1 top="$work/rpmbuild"
  mkdir -p "$top/SOURCES" "$top/SPECS"
  cp -a "$t/hello.txt" "$t/doc/deep/deeper/numbers.txt" "$t/bin/tool" "$top/SOURCES/"
  cat >"$top/SPECS/hello.spec" <<'EOF'
Name: hashr-hello
Version: 1.0
Release: 1
Summary: hashr test package
License: MIT
BuildArch: noarch
%description
hashr test package
%install
mkdir -p %{buildroot}/usr/share/hello %{buildroot}/usr/bin
cp -p %{_sourcedir}/hello.txt %{_sourcedir}/numbers.txt %{buildroot}/usr/share/hello/
cp -p %{_sourcedir}/tool %{buildroot}/usr/bin/
ln %{buildroot}/usr/share/hello/hello.txt %{buildroot}/usr/share/hello/hardlink.txt
ln -s hello.txt %{buildroot}/usr/share/hello/symlink.txt
%files
%attr(4755,root,root) /usr/bin/tool
/usr/share/hello
EOF
  local io
  for c in xz:w6.xzdio zstd:w19.zstdio gzip:w9.gzdio bzip2:w9.bzdio lzma:w6.lzdio; do
    io=${c#*:}
    rpmbuild --quiet -bb --define "_topdir $top" --define "_binary_payload $io" \
      --define "__os_install_post %{nil}" --define "_build_id_links none" \
      --define "use_source_date_epoch_as_buildtime 1" "$top/SPECS/hello.spec" >/dev/null 2>&1
    mv "$top/RPMS/noarch/"*.rpm "$ext/hello-${c%%:*}.rpm"
  done
  head -c 2500 "$ext/hello-xz.rpm" >"$hostile/truncated.rpm"
}

build_hostile() {
  # zip slip: names that climb out and absolute ones, among good ones
  python3 - "$hostile/zipslip.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, data in [("good.txt", b"good\n"), ("../../evil.txt", b"evil\n"),
                       ("/tmp/hashr-absolute-evil.txt", b"evil\n"), ("a/../../evil2.txt", b"evil\n"),
                       ("..\\..\\windows-evil.txt", b"evil\n"), ("also-good.txt", b"good too\n")]:
        info = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
        info.create_system = 0 if "\\" in name else 3
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
EOF
  # a symlink pointing out of the archive, then a file written through it,
  # and a hard link to itself
  python3 - "$hostile/symlink-escape.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    def add(name, kind, data=b"", target=""):
        i = tarfile.TarInfo(name); i.mtime = 1700000000; i.type = kind; i.linkname = target
        i.size = len(data) if kind == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if data else None)
    add("ok.txt", tarfile.REGTYPE, b"fine\n")
    add("escape", tarfile.SYMTYPE, target="/tmp")
    add("escape/hashr-pwned.txt", tarfile.REGTYPE, b"pwned\n")
    add("up", tarfile.SYMTYPE, target="../../..")
    add("up/etc/hashr-pwned", tarfile.REGTYPE, b"pwned\n")
    add("self", tarfile.LNKTYPE, target="self")
    add("after.txt", tarfile.REGTYPE, b"still read\n")
EOF
  # a gzip bomb: 512 MiB of zeros in half a MiB
  head -c 512M /dev/zero | gzip -9n >"$hostile/bomb.gz"
  # a zip whose member claims to be small but inflates to 256 MiB
  python3 - "$hostile/bomb.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr(zipfile.ZipInfo("zeros.bin", (2023, 11, 14, 22, 13, 20)), b"\0" * (256 << 20), zipfile.ZIP_DEFLATED)
EOF
  # an ISO 9660 image whose subdirectory loops back to the root
  mkdir -p "$work/loop/sub"
  printf 'x\n' >"$work/loop/sub/x.txt"
  genisoimage -quiet -o "$hostile/loop.iso" "$work/loop"
  python3 - "$hostile/loop.iso" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
root = b[16*2048+156:16*2048+156+34]
root_lba = struct.unpack_from("<I", root, 2)[0]
off = root_lba * 2048
while b[off]:
    n = b[off]; name = bytes(b[off+33:off+33+b[off+32]])
    if name == b"SUB":
        # point SUB at the root directory's extent
        struct.pack_into("<I", b, off+2, root_lba); struct.pack_into(">I", b, off+6, root_lba)
        struct.pack_into("<I", b, off+10, 2048); struct.pack_into(">I", b, off+14, 2048)
    off += n
open(p, "wb").write(b)
EOF
  # corrupt: a tar.gz with bytes flipped in its middle
  cp "$ext/tree.tar.gz" "$hostile/corrupt.tar.gz"
  printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$hostile/corrupt.tar.gz" bs=1 seek=2000 conv=notrunc status=none
  # nested 12 deep: each level a zip of the one below
  printf 'bottom\n' >"$work/level.txt"
  local cur="$work/level.txt"
  for i in $(seq 1 12); do
    (cd "$(dirname "$cur")" && zip -qX "$work/nest$i.zip" "$(basename "$cur")")
    cur="$work/nest$i.zip"
  done
  cp "$cur" "$hostile/nested12.zip"
}

build_extract
build_hostile
"$here/scripts/fixtures-hostile.sh" --out "$out" # the rest of the hostile corpus
find "$ext" "$hostile" -type f -size +1M -printf 'fixture over 1 MiB: %p\n' | { ! grep . ; }
echo "fixtures-extract: wrote $ext and $hostile"
