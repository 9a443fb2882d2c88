#!/usr/bin/env python3
# Loads a hashr set, as `hashr-export --format csv` writes it, into a
# Redis-protocol store the way hashlookup's importers do (adulau/
# hashlookup-server bin/import.py and doc/DATABASE.md): l:<MD5> and
# l:<SHA-256> -> SHA-1, h:<SHA-1> a hash of the record's fields, p:<SHA-1>
# the set of its parents, c:<parent> the set of the parent's children, and
# h:<parent> the parent's own fields. Keys are upper-case hex, as there.
# Usage: redis_import.py PORT < export.csv
import csv
import sys

import redis

rdb = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), decode_responses=True)
pipe = rdb.pipeline(transaction=False)
n = 0
for rec in csv.DictReader(sys.stdin):
    if not rec['sha1'] or not rec['md5']:
        continue
    sha1, md5, sha256 = rec['sha1'].upper(), rec['md5'].upper(), rec['sha256'].upper()
    parent = rec['source'].upper()
    pipe.set('l:' + md5, sha1)
    pipe.set('l:' + sha256, sha1)
    pipe.hset('h:' + sha1, mapping={'SHA-1': sha1, 'MD5': md5, 'SHA-256': sha256,
                                    'FileName': rec['path'].rsplit('/', 1)[-1], 'FileSize': rec['size']})
    pipe.sadd('p:' + sha1, parent)
    pipe.sadd('c:' + parent, sha1)
    pipe.hset('h:' + parent, mapping={'SHA-256': parent, 'FileName': rec['source_id']})
    n += 1
    if n % 5000 == 0:
        pipe.execute()
pipe.execute()
print(n, 'rows loaded', file=sys.stderr)
