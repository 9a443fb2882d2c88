#!/usr/bin/env python3
# The calls of CIRCL's client, PyHashlookup, against a hashr-serve, for
# pyhashlookup_test.go to record (HASHR_CAPTURE_PYHASHLOOKUP=SRC go test
# -run TestCapturePyHashlookup ./internal/serve/) and then replay byte for
# byte. Usage: exchanges.py PYHASHLOOKUP_SRC ROOT_URL MD5 SHA1 SHA256 SOURCE
import json
import sys

sys.path.insert(0, sys.argv[1])
from pyhashlookup import Hashlookup  # noqa: E402

root, md5, sha1, sha256, source = sys.argv[2:7]
# The user agent PyHashlookup 1.2.8 sends when installed (from source it
# cannot read its own version).
h = Hashlookup(root_url=root, useragent='PyHashlookup / 1.2.8')
out = {
    'info': h.info(),
    'md5': h.md5_lookup(md5),
    'sha1': h.sha1_lookup(sha1.upper()),
    'sha256': h.sha256_lookup(sha256),
    'unknown': h.md5_lookup('0' * 32),
    'bad': h.sha1_lookup('xyz'),
    'bulk_md5': h.lookup([md5, 'f' * 32]),
    'bulk_sha1': h.lookup([sha1, 'f' * 40]),
}
first = h.sha1_parents(sha1, count=1, cursor='0')
out['parents'] = [first, h.sha1_parents(sha1, count=1, cursor=str(first['cursor']))]
out['children'] = h.sha1_children(source, count=50, cursor='0')
out['top'] = h.top()
json.dump(out, sys.stdout, indent=1, sort_keys=True)
