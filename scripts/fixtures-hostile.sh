#!/usr/bin/env bash
# Builds the hostile-input corpus of hashr-extract in testdata/hostile/
# (beside the few that scripts/fixtures-extract.sh writes there, and which
# calls this script last): archives made to write outside an extraction
# directory, to exhaust memory, disk or time, to loop, and to trip name
# handling. Each is small (the whole set is under 1 MiB per file), built
# with python3's tarfile/zipfile/zlib, xz and GNU tar, and rerunnable with
# the same bytes. internal/extract's TestHostileCorpus runs hashr-extract
# over every file here.
#
#   scripts/fixtures-hostile.sh [--out TESTDATA_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/testdata"
if [[ ${1:-} == --out ]]; then out=$2; fi
h="$out/hostile"
mkdir -p "$h"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} TZ=UTC LC_ALL=C
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$h" <<'EOF'
import io, os, struct, sys, tarfile, zipfile, zlib
h = sys.argv[1]
T = 1700000000
DT = (2023, 11, 14, 22, 13, 20)

def tar(name, members, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(os.path.join(h, name), "w", format=fmt) as t:
        for m in members:
            i = tarfile.TarInfo(m[0]); i.mtime = T; i.type = m[1]
            data = m[2] if len(m) > 2 else b""
            if len(m) > 3: i.linkname = m[3]
            if i.type in (tarfile.CHRTYPE, tarfile.BLKTYPE): i.devmajor, i.devminor = 8, 0
            i.size = len(data) if i.type == tarfile.REGTYPE else 0
            t.addfile(i, io.BytesIO(data) if data else None)

def zipf(name, members):
    with zipfile.ZipFile(os.path.join(h, name), "w") as z:
        for n, data in members:
            info = zipfile.ZipInfo(n, DT); info.create_system = 3; info.external_attr = 0o644 << 16
            z.writestr(info, data)

R, L, S = tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE
good = ("good.txt", R, b"good\n")

# Tar slip: climbing and absolute names.
tar("tar-slip.tar", [good, ("../hashr-tar-evil.txt", R, b"evil\n"),
    ("/tmp/hashr-tar-absolute-evil.txt", R, b"evil\n"), ("a/../../hashr-tar-evil2.txt", R, b"evil\n"),
    ("./../hashr-tar-evil3.txt", R, b"evil\n")])

# Hard links to outside the archive, to an absolute path, to nothing.
tar("hardlink-outside.tar", [good, ("passwd", L, b"", "../../../../etc/passwd"),
    ("shadow", L, b"", "/etc/shadow"), ("ghost", L, b"", "not-in-the-archive")])

# Device nodes and a fifo, then a hard link that would open the disk.
tar("devices.tar", [good, ("dev/sda", tarfile.BLKTYPE), ("dev/null2", tarfile.CHRTYPE),
    ("fifo", tarfile.FIFOTYPE), ("disk", L, b"", "dev/sda"), ("dev/sda/through-device.txt", R, b"x\n")])

# Cycles of links: symlinks to each other with a file through them,
# hard links to each other.
tar("link-cycle.tar", [good, ("a", S, b"", "b"), ("b", S, b"", "a"), ("a/x.txt", R, b"x\n"),
    ("c", L, b"", "d"), ("d", L, b"", "c")])

# Deep directories: 1500 levels, more than hashr-extract allows (1024).
tar("deep-dirs.tar", [good, ("d/" * 1500 + "bottom.txt", R, b"bottom\n")])

# Names: newline, invalid UTF-8, a component over NAME_MAX, NUL inside
# a PAX path, nothing but slashes, empty.
with tarfile.open(os.path.join(h, "names.tar"), "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    for n in ["new\nline.txt", b"bad-\xff\xfe-utf8.txt".decode("utf-8", "surrogateescape"),
              "x" * 300 + ".txt", "///", ""]:
        i = tarfile.TarInfo(n); i.mtime = T; i.size = 3
        t.addfile(i, io.BytesIO(b"n\n\n"))
with tarfile.open(os.path.join(h, "names-pax-nul.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("plain.txt"); i.mtime = T; i.size = 2; i.pax_headers = {"path": "nul\x00inside.txt"}
    t.addfile(i, io.BytesIO(b"n\n"))
    i = tarfile.TarInfo("after.txt"); i.mtime = T; i.size = 2
    t.addfile(i, io.BytesIO(b"a\n"))

# The same in a zip: the name bytes as stored.
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for n in ["new\nline.txt", "nulXinside.txt", "y" * 300 + ".txt", "good.txt"]:
        info = zipfile.ZipInfo(n, DT); info.create_system = 3; info.external_attr = 0o644 << 16
        z.writestr(info, b"z\n")
# zipfile cuts names at NUL: put it (and invalid UTF-8) in the bytes.
data = buf.getvalue().replace(b"nulXinside", b"nul\x00insid\xff")
open(os.path.join(h, "names.zip"), "wb").write(data)

# Huge declared sizes: a tar member of 1 TiB (base-256 size) with 1 KiB
# of data; a cpio (newc) member of 4 GiB - 1 with 3 bytes.
i = tarfile.TarInfo("huge.bin"); i.mtime = T; i.size = 1 << 40
hdr = i.tobuf(format=tarfile.GNU_FORMAT)
open(os.path.join(h, "huge-size.tar"), "wb").write(hdr + b"\0" * 1024)
def newc(name, mode, size, data):
    n = name.encode() + b"\0"
    hd = b"070701" + b"".join(b"%08X" % v for v in [1, mode, 0, 0, 1, T, size, 0, 0, 0, 0, len(n), 0])
    rec = hd + n
    rec += b"\0" * (-len(rec) % 4)
    return rec + data + b"\0" * (-len(data) % 4)
open(os.path.join(h, "huge-size.cpio"), "wb").write(newc("huge.bin", 0o100644, 0xFFFFFFFF, b"abc") + newc("TRAILER!!!", 0, 0, b""))

# A zip whose central directory says a member inflates to 2^62 bytes
# (zip64), holding 4 bytes.
zipf("huge-size.zip", [("tiny.txt", b"tiny")])
p = os.path.join(h, "huge-size.zip")
b = bytearray(open(p, "rb").read())
cd = b.rfind(b"PK\x01\x02")
struct.pack_into("<I", b, cd + 24, 0xFFFFFFFF)  # uncompressed size: see zip64 extra
extra = struct.pack("<HHQ", 1, 8, 1 << 62)
nlen, xlen = struct.unpack_from("<HH", b, cd + 28)
b[cd + 46 + nlen:cd + 46 + nlen] = extra
struct.pack_into("<H", b, cd + 30, xlen + len(extra))
eocd = b.rfind(b"PK\x05\x06")
struct.pack_into("<I", b, eocd + 12, struct.unpack_from("<I", b, eocd + 12)[0] + len(extra))
open(p, "wb").write(b)

# A nested bomb (42.zip's idea): zips of zips of 128 MiB of zeros, 16
# per level, 3 levels: 512 GiB from a few KiB.
level = zlib.compress(b"", 9)
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr(zipfile.ZipInfo("zeros.bin", DT), b"\0" * (128 << 20), zipfile.ZIP_DEFLATED)
cur = inner.getvalue()
for depth in range(1, 4):
    nxt = io.BytesIO()
    with zipfile.ZipFile(nxt, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for k in range(16):
            z.writestr(zipfile.ZipInfo("l%d-%02d.zip" % (depth, k), DT), cur, zipfile.ZIP_DEFLATED)
    cur = nxt.getvalue()
open(os.path.join(h, "bomb-nested.zip"), "wb").write(cur)
EOF

# A flat bomb in another codec: a tar.xz of one 2 GiB file of zeros.
truncate -s 2G "$work/zeros.bin"
touch -d "@$SOURCE_DATE_EPOCH" "$work/zeros.bin"
tar -C "$work" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf - zeros.bin |
  xz -9 -T1 >"$h/bomb.tar.xz"
rm -f "$work/zeros.bin"

# A cyclic archive: a gzip quine, a .gz that decompresses to itself (Russ
# Cox's, as Go's net/http tests carry it: read from this machine's GOROOT).
python3 - "$(go env GOROOT)/src/net/http/transport_test.go" "$h/quine.gz" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
m = re.search(r"var rgz = \[\]byte\{(.*?)\}", src, re.S)
data = bytes(int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]{2}", m.group(1)))
import gzip
assert gzip.decompress(data) == data, "not a quine"
open(sys.argv[2], "wb").write(data)
EOF

# A sparse bomb: GNU tar -S stores a 10 GiB file of holes in a few KiB,
# in the old GNU format and in PAX's sparse format 1.0 (issue 18).
truncate -s 10G "$work/holes.bin"
printf 'data' | dd of="$work/holes.bin" bs=1 seek=$((5 << 30)) conv=notrunc status=none
touch -d "@$SOURCE_DATE_EPOCH" "$work/holes.bin"
tarflags=(--mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -S -C "$work")
tar "${tarflags[@]}" --format=gnu -cf "$h/sparse-bomb.tar" holes.bin
tar "${tarflags[@]}" --format=posix --sparse-version=1.0 --pax-option=delete=atime,delete=ctime,exthdr.name=%f.pax \
  -cf "$h/sparse-bomb-pax.tar" holes.bin
rm -f "$work/holes.bin"

python3 - "$h" "$out/extract/hello-gzip.rpm" <<'EOF'
import io, os, random, struct, subprocess, sys, tarfile, zipfile, zlib
h, rpm = sys.argv[1:3]

# Members named as the root (".", "/", "./") that hold bytes, and a zip
# directory entry that holds bytes: they vanished with exit 0.
with tarfile.open(os.path.join(h, "root-names.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    for n in ["good.txt", ".", "/", "./"]:
        data = ("content of " + n + "\n").encode()
        i = tarfile.TarInfo(n); i.size = len(data); i.mtime = 1700000000
        t.addfile(i, io.BytesIO(data))
with zipfile.ZipFile(os.path.join(h, "root-names.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for n in ["good.txt", ".", "/", "./", "d/"]:
        i = zipfile.ZipInfo(n, (2023, 11, 14, 22, 13, 20)); i.create_system = 3; i.external_attr = 0o100644 << 16
        i.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(i, ("content of " + n + "\n").encode())

# An RPM whose main header index entries are all garbage (rpm -qp
# rejects it).
b = bytearray(open(rpm, "rb").read())
off = 96
nindex, size = struct.unpack_from(">II", b, off + 8)
off += 16 + nindex * 16 + size
off += -off % 8
nindex, = struct.unpack_from(">I", b, off + 8)
rng = random.Random(18)
for p in range(off + 16, off + 16 + nindex * 16):
    b[p] = rng.randrange(256)
open(os.path.join(h, "garbage-index.rpm"), "wb").write(b)

# A tar.xz whose block asks for a 3 GiB dictionary (xz decodes it, given
# the memory; hashr's limit is 512 MiB).
tb = io.BytesIO()
with tarfile.open(fileobj=tb, mode="w", format=tarfile.GNU_FORMAT) as t:
    i = tarfile.TarInfo("a.txt"); i.size = 2; i.mtime = 1700000000
    t.addfile(i, io.BytesIO(b"a\n"))
x = bytearray(subprocess.run(["xz", "-T1", "--check=crc64"], input=tb.getvalue(), capture_output=True, check=True).stdout)
hs = (x[12] + 1) * 4
assert x[14] == 0x21 and x[15] == 1, "one LZMA2 filter"
x[16] = 39
struct.pack_into("<I", x, 12 + hs - 4, zlib.crc32(bytes(x[12:12 + hs - 4])))
open(os.path.join(h, "xz-dict-over-limit.tar.xz"), "wb").write(x)
EOF

find "$h" -type f -size +1M -printf 'fixture over 1 MiB: %p\n' | { ! grep . ; }
echo "fixtures-hostile: wrote $h"
