#!/usr/bin/env bash
# Builds hashr's format fixtures with the real tools that make each format,
# so tests check our readers against what those tools write, not against
# our own output. Rerunnable; contents are fixed and every output gets the
# same mtime (SOURCE_DATE_EPOCH), though some tools (ISO, UDF, WIM, OCI
# creation times) still embed the time they ran.
#
#   scripts/mkfixtures.sh                  build every committed group into testdata/formats/
#   scripts/mkfixtures.sh GROUP...         build only these groups
#   scripts/mkfixtures.sh --out DIR GROUP  build into DIR instead
#   scripts/mkfixtures.sh --list           list the groups
#
# Each group is a function fx_<group>; to add fixtures, add a function, name
# it in committed_groups (or testtime_groups), and say what each new file is
# in testdata/formats/expected.tsv (tests fail for an unlisted file). Groups
# in testtime_groups make fixtures too big to commit (each committed fixture
# stays under 1 MiB): tests build them at run time with --out into a
# temporary directory. Which formats those are and why: NTFS (1 MiB minimum),
# exFAT (4 MiB), XFS (300 MiB, sparse), FAT16/FAT32 (cluster-count minimums),
# VHDX (8 MiB).
#
# The Debian packages the groups need are in .ci/install-deps.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/testdata/formats"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export TZ=UTC LC_ALL=C
# mke2fs stamps inodes and the superblock with this instead of the clock.
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH

committed_groups=(packages archives compressed optical disks vm windows squashfs containers negative)
testtime_groups=(bigdisks vhdx)

work=""
cleanup() { [[ -n $work ]] && rm -rf "$work"; }
trap cleanup EXIT

die() { echo "mkfixtures: $*" >&2; exit 1; }
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t is not installed (see .ci/install-deps.txt)"
  done
}

# stamp gives files (and the entries of directories) the fixed mtime.
stamp() { find "$@" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

# payload makes a small directory tree to put into archives and images.
payload() {
  local d=$1
  mkdir -p "$d/etc" "$d/usr/share/doc/hello"
  printf 'hello, hashr\n' >"$d/etc/hello.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
  seq 1 200 >"$d/usr/share/doc/hello/numbers.txt"
  stamp "$d"
}

# tarball writes DIR's contents as a reproducible tar on stdout.
tarball() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    --format="${2:-gnu}" -C "$1" -cf - .
}

fx_packages() {
  need dpkg-deb rpmbuild
  local d="$work/deb"
  payload "$d"
  mkdir -p "$d/DEBIAN"
  cat >"$d/DEBIAN/control" <<'EOF'
Package: hello-hashr
Version: 1.0-1
Architecture: all
Maintainer: hashr tests <tests@example.invalid>
Description: fixture package for hashr's tests
EOF
  stamp "$d"
  dpkg-deb --root-owner-group -Zxz --build "$d" "$out/hello_1.0-1_all.deb" >/dev/null

  local top="$work/rpmbuild"
  mkdir -p "$top"
  cat >"$work/hello.spec" <<'EOF'
Name: hello-hashr
Version: 1.0
Release: 1
Summary: fixture package for hashr's tests
License: MIT
BuildArch: noarch
%description
fixture package for hashr's tests
%install
mkdir -p %{buildroot}/etc %{buildroot}/usr/share/doc/hello
printf 'hello, hashr\n' > %{buildroot}/etc/hello.conf
seq 1 200 > %{buildroot}/usr/share/doc/hello/numbers.txt
%files
/etc/hello.conf
/usr/share/doc/hello/numbers.txt
EOF
  rpmbuild -bb --quiet --define "_topdir $top" \
    --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
    "$work/hello.spec" >/dev/null 2>&1 || die "rpmbuild failed"
  cp "$top"/RPMS/noarch/hello-hashr-1.0-1.noarch.rpm "$out/"
}

fx_archives() {
  need zip 7zz cpio ar gcab
  local d="$work/arch"
  payload "$d"
  (cd "$d" && zip -q -X -r "$out/sample.zip" .)
  cp "$out/sample.zip" "$out/sample.jar"
  tarball "$d" gnu >"$out/sample.tar"
  tarball "$d" ustar >"$out/sample-ustar.tar"
  tarball "$d" v7 >"$out/sample-v7.tar"
  (cd "$d" && 7zz a -bd -bso0 -bsp0 "$out/sample.7z" . >/dev/null)
  local f
  for f in newc odc crc bin; do
    (cd "$d" && find . -type f | sort | cpio --quiet -o -H "$f" --reproducible >"$out/sample-$f.cpio")
  done
  (cd "$d/etc" && ar rcD "$out/sample.a" hello.conf passwd)
  (cd "$d" && gcab -c -n "$out/sample.cab" etc/hello.conf etc/passwd)
}

fx_compressed() {
  need gzip bzip2 xz zstd lz4 lzma
  local d="$work/comp"
  payload "$d"
  tarball "$d" >"$work/c.tar"
  gzip -n -9 <"$work/c.tar" >"$out/sample.tar.gz"
  bzip2 -9 <"$work/c.tar" >"$out/sample.tar.bz2"
  xz -9 <"$work/c.tar" >"$out/sample.tar.xz"
  zstd -q -19 <"$work/c.tar" >"$out/sample.tar.zst"
  lz4 -q -9 <"$work/c.tar" >"$out/sample.tar.lz4"
  lz4 -q -l -9 <"$work/c.tar" >"$out/sample-legacy.tar.lz4"
  lzma -9 <"$work/c.tar" >"$out/sample.tar.lzma"
  # A compressed stream that holds no tar: the format inside counts.
  need mke2fs
  truncate -s 256K "$work/inner.img"
  mke2fs -q -t ext2 -E root_owner=0:0 -d "$d" "$work/inner.img"
  gzip -n -9 <"$work/inner.img" >"$out/ext2.img.gz"
  zstd -q -19 <"$work/inner.img" >"$out/ext2.img.zst"
}

fx_optical() {
  need genisoimage xorriso mkudffs
  local d="$work/iso"
  payload "$d"
  genisoimage -quiet -R -J -V HASHR -o "$out/sample.iso" "$d"
  xorriso -as mkisofs -quiet -R -J -V HASHR --protective-msdos-label \
    -o "$out/sample-hybrid.iso" "$d" 2>/dev/null
  genisoimage -quiet -R -J -udf -V HASHR -o "$out/sample-bridge.iso" "$d"
  truncate -s 768K "$work/udf.img"
  mkudffs --media-type=hd --blocksize=512 --label=HASHR "$work/udf.img" >/dev/null
  cp "$work/udf.img" "$out/sample-udf.img"
}

fx_disks() {
  need sgdisk sfdisk mke2fs mkfs.vfat mcopy
  truncate -s 256K "$work/gpt.img"
  sgdisk -o -a 1 -U 11111111-2222-3333-4444-555555555555 \
    -n 1:34:-0 -t 1:8300 -u 1:66666666-7777-8888-9999-000000000000 "$work/gpt.img" >/dev/null 2>&1
  sgdisk -i 1 "$work/gpt.img" | grep -q 'Linux filesystem' || die "sgdisk made no partition"
  cp "$work/gpt.img" "$out/gpt.img"
  truncate -s 256K "$work/mbr.img"
  printf 'label: dos\nlabel-id: 0x12345678\nstart=1, size=511, type=83\n' |
    sfdisk -q "$work/mbr.img" >/dev/null
  cp "$work/mbr.img" "$out/mbr.img"

  local d="$work/fs"
  payload "$d"
  truncate -s 512K "$work/ext4.img"
  mke2fs -q -t ext4 -O ^has_journal -U 11111111-2222-3333-4444-555555555555 \
    -E root_owner=0:0,hash_seed=11111111-2222-3333-4444-555555555555 -d "$d" "$work/ext4.img"
  cp "$work/ext4.img" "$out/ext4.img"
  truncate -s 256K "$work/fat.img"
  mkfs.vfat --invariant -i 12345678 -n HASHR "$work/fat.img" >/dev/null
  MTOOLS_SKIP_CHECK=1 mcopy -m -i "$work/fat.img" "$d/etc/hello.conf" ::/HELLO.CNF
  cp "$work/fat.img" "$out/fat12.img"
}

fx_vm() {
  need qemu-img sfdisk
  # A tiny raw disk with a partition table, converted to each VM format.
  truncate -s 512K "$work/vm.raw"
  printf 'label: dos\nlabel-id: 0x12345678\nstart=1, type=83\n' | sfdisk -q "$work/vm.raw" >/dev/null
  printf 'hello, hashr' | dd of="$work/vm.raw" bs=1 seek=4096 conv=notrunc status=none
  qemu-img convert -O qcow2 "$work/vm.raw" "$out/sample.qcow2"
  qemu-img convert -O vmdk -o subformat=monolithicSparse "$work/vm.raw" "$out/sample-sparse.vmdk"
  qemu-img convert -O vmdk -o subformat=streamOptimized "$work/vm.raw" "$out/sample-stream.vmdk"
  # monolithicFlat: a text descriptor next to a raw extent of zeros (no format).
  qemu-img create -q -f vmdk -o subformat=monolithicFlat "$work/flat.vmdk" 64K
  cp "$work/flat.vmdk" "$out/sample-descriptor.vmdk"
  qemu-img convert -O vpc -o subformat=fixed "$work/vm.raw" "$out/sample-fixed.vhd"
  # A dynamic VHD allocates 2 MiB blocks: keep this one empty to stay small.
  qemu-img create -q -f vpc -o subformat=dynamic "$work/dyn.vhd" 512K
  cp "$work/dyn.vhd" "$out/sample-dynamic.vhd"
}

fx_windows() {
  need wimlib-imagex
  local d="$work/win"
  payload "$d"
  wimlib-imagex capture "$d" "$out/sample.wim" HASHR --compress=lzx >/dev/null
  # An ESD is a WIM with solid LZMS compression.
  wimlib-imagex capture "$d" "$out/sample.esd" HASHR --solid >/dev/null
  # A Windows Installer package with an embedded cabinet (wixl, of
  # msitools), and other OLE structured storage (gsf, of libgsf-bin).
  need wixl gsf
  cat >"$work/sample.wxs" <<'WXS'
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-0000-0000-0000-000000000001" Name="Hashr Sample" Language="1033" Version="1.0.0" Manufacturer="hashr" UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package Id="12345678-0000-0000-0000-000000000002" InstallerVersion="200" Compressed="yes"/>
    <Media Id="1" Cabinet="sample.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Component Id="C1" Guid="11111111-2222-3333-4444-555555555555">
          <File Id="hello.conf" Name="hello.conf" Source="etc/hello.conf" KeyPath="yes"/>
        </Component>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="C1"/></Feature>
  </Product>
</Wix>
WXS
  (cd "$d" && wixl -o "$out/sample.msi" "$work/sample.wxs")
  (cd "$d/etc" && gsf createole "$out/sample.ole" hello.conf passwd >/dev/null)
}

fx_squashfs() {
  need mksquashfs
  local d="$work/sq"
  payload "$d"
  mksquashfs "$d" "$out/sample-gzip.squashfs" -comp gzip -all-root -noappend -quiet -no-progress >/dev/null
  mksquashfs "$d" "$out/sample-xz.squashfs" -comp xz -all-root -noappend -quiet -no-progress >/dev/null
}

fx_containers() {
  need umoci skopeo
  local layout="$work/oci-image" d="$work/rootfs"
  mkdir -p "$d/etc"
  printf 'hello, hashr\n' >"$d/etc/hello.conf"
  stamp "$d"
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci insert --rootless --image "$layout:latest" "$d/etc/hello.conf" /etc/hello.conf
  umoci gc --layout "$layout"
  rm -rf "$out/oci-image"
  cp -r "$layout" "$out/oci-image"
  chmod -R a+rX "$out/oci-image"
  tarball "$layout" >"$out/oci-image.tar"
  skopeo --insecure-policy copy -q "oci:$layout:latest" \
    "docker-archive:$work/docker.tar:example/hello:1.0" >/dev/null
  cp "$work/docker.tar" "$out/docker-archive.tar"
  gzip -n -9 <"$work/docker.tar" >"$out/docker-archive.tar.gz"
}

fx_negative() {
  # Files that are not sources: text, a gzip of text, zeros.
  printf 'just some text, not a source\n' >"$out/notes.txt"
  printf 'compressed text, still not a source\n' | gzip -n >"$out/notes.txt.gz"
  head -c 4096 /dev/zero >"$out/zeros.bin"
}

# Test-time groups: too big to commit, built into a temporary directory.
fx_bigdisks() {
  need mkntfs mkfs.xfs mkfs.exfat mkfs.vfat
  truncate -s 1100K "$out/ntfs.img"
  mkntfs -F -q -L HASHR "$out/ntfs.img" >/dev/null 2>&1 || die "mkntfs failed"
  truncate -s 300M "$out/xfs.img"
  mkfs.xfs -q -f "$out/xfs.img"
  truncate -s 4M "$out/exfat.img"
  mkfs.exfat -L HASHR "$out/exfat.img" >/dev/null
  truncate -s 4M "$out/fat16.img"
  mkfs.vfat -F 16 -s 1 "$out/fat16.img" >/dev/null
  truncate -s 40M "$out/fat32.img"
  mkfs.vfat -F 32 -s 1 "$out/fat32.img" >/dev/null
}

fx_vhdx() {
  need qemu-img
  qemu-img create -q -f vhdx "$out/sample.vhdx" 1M
}

main() {
  local groups=()
  while (($#)); do
    case $1 in
      --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
      --list) printf '%s\n' "${committed_groups[@]}" "${testtime_groups[@]}"; return ;;
      -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; return ;;
      *) groups+=("$1"); shift ;;
    esac
  done
  ((${#groups[@]})) || groups=("${committed_groups[@]}")
  mkdir -p "$out"
  work=$(mktemp -d)
  local g
  for g in "${groups[@]}"; do
    declare -F "fx_$g" >/dev/null || die "no fixture group $g (see --list)"
    "fx_$g"
  done
  stamp "$out"
}

main "$@"
