#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmdk-descriptor.py IMAGE -- the text descriptor of a VMDK as JSON.

The descriptor says how big the disk is twice more than the sparse
header does: the extent lines' sector counts and the BIOS geometry
(ddb.geometry.cylinders, .heads, .sectors) that VMware's tools read.
qemu and the libvmdk reader use neither the geometry nor (for a sparse
extent) the extent line's count, so a resize that leaves them stale goes
unseen; (instar oracles) compares them with the virtual size.  Written
from the VMDK specification (a 512-byte "KDMV" header; the descriptor at
sector descriptorOffset, descriptorSize sectors long, NUL-padded), not
from any code of the engine.  A file that does not start with the magic
is read as a descriptor file (monolithicFlat and the split subformats).

Prints {"extents": [{"access", "sectors", "type"}], "geometry":
{"cylinders", "heads", "sectors"} (those present), "cid"} or {"error"}
(exit 1).
"""
import json
import re
import struct
import sys


def descriptor_text(path):
    with open(path, 'rb') as f:
        head = f.read(512)
        if head[:4] == b'KDMV':
            off, size = struct.unpack_from('<QQ', head, 28)
            if off == 0 or size == 0 or size > 2048:
                raise ValueError('no embedded descriptor (offset %d, %d sectors)' % (off, size))
            f.seek(off * 512)
            raw = f.read(size * 512)
        else:
            f.seek(0)
            raw = f.read(1 << 20)
    return raw.split(b'\0', 1)[0].decode('latin-1')


def parse(text):
    out = {'extents': [], 'geometry': {}, 'cid': None}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)', line)
        if m:
            out['extents'].append({'access': m.group(1), 'sectors': int(m.group(2)),
                                   'type': m.group(3)})
            continue
        m = re.match(r'^ddb\.geometry\.(cylinders|heads|sectors)\s*=\s*"(\d+)"', line)
        if m:
            out['geometry'][m.group(1)] = int(m.group(2))
            continue
        m = re.match(r'^CID\s*=\s*([0-9a-fA-F]+)', line)
        if m:
            out['cid'] = m.group(1).lower()
    return out


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: vmdk-descriptor.py IMAGE\n')
        return 2
    try:
        res = parse(descriptor_text(argv[1]))
    except (OSError, ValueError, struct.error) as e:
        print(json.dumps({'error': str(e)}))
        return 1
    print(json.dumps(res))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
