#!/usr/bin/python3
"""Builds a UDF bridge disc laid out as Windows install media are.

    scripts/mkudfbridge.py OUT.iso MEDIA_DIR

The UDF tree holds every file and directory of MEDIA_DIR; the ISO 9660
tree (with Joliet) holds only a README.TXT saying that the disc needs UDF,
as on Microsoft's install ISOs (oscdimg -u2). genisoimage cannot make this
layout: its -hide hides a file from its UDF tree too, so pycdlib (Debian's
python3-pycdlib) writes it, with UDF 2.60.

The Debian interpreter is named in the first line, since pycdlib is a
Debian package and a python3 earlier on PATH (pyenv) may not have it.
"""

import io
import os
import sys

import pycdlib

STUB = (b"This disc contains a \"UDF\" file system and requires an operating "
        b"system that supports the ISO-13346 \"UDF\" file system "
        b"specification.\r\n")


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: mkudfbridge.py OUT.iso MEDIA_DIR")
    out, media = argv[1], argv[2]
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, udf="2.60", vol_ident="HASHR_WIN")
    iso.add_fp(io.BytesIO(STUB), len(STUB), iso_path="/README.TXT;1", joliet_path="/README.TXT")
    for root, dirs, files in os.walk(media):
        dirs.sort()
        rel = os.path.relpath(root, media)
        base = "" if rel == "." else "/" + rel.replace(os.sep, "/")
        for d in dirs:
            iso.add_directory(udf_path=base + "/" + d)
        for f in sorted(files):
            iso.add_file(os.path.join(root, f), udf_path=base + "/" + f)
    iso.write(out)
    iso.close()



if __name__ == "__main__":
    main(sys.argv)
