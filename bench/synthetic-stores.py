#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# synthetic-stores.py DIR STORES FINDINGS -- write STORES findings stores
# DIR/1 .. DIR/STORES holding FINDINGS distinct findings between them, in
# the layout and schema of (instar store): findings/ID/finding.json and
# one hits/SEED-ITERATION.json per hit.  Every tenth finding is in two
# stores (with hits of its own in each), as a bug several shards hit.
# Deterministic; for `make bench' (the merge time).
import json
import os
import random
import sys


def write(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def main(root, stores, findings):
    rnd = random.Random(42)
    ops = ["resize", "resize-shared", "shrink-regrow", "create"]
    fmts = ["raw", "qcow2", "vpc", "vhdx", "vmdk"]
    for n in range(findings):
        fid = "%032x" % rnd.getrandbits(128)
        homes = [n % stores + 1]
        if n % 10 == 0:
            homes.append((n + 3) % stores + 1)
        op, fmt = ops[n % len(ops)], fmts[n % len(fmts)]
        for s in homes:
            d = os.path.join(root, str(s), "findings", fid)
            os.makedirs(os.path.join(d, "hits"))
            hits = []
            for h in range(1 + rnd.randrange(3)):
                it = rnd.randrange(1_000_000)
                t = "2026-12-03T%02d:%02d:%02dZ" % (rnd.randrange(24), rnd.randrange(60),
                                                    rnd.randrange(60))
                hits.append(t)
                write(os.path.join(d, "hits", "%d-%d.json" % (s, it)),
                      {"seed": s, "iteration": it, "time": t})
            hits.sort()
            write(os.path.join(d, "finding.json"), {
                "schema": 2, "id": fid, "kind": "divergence",
                "title": "%s %s: synthetic finding %d differs" % (fmt, op, n),
                "shape": "op=%s|info:virtual-size|n%d" % (op, n),
                "status": "open", "first-seen": hits[0], "last-seen": hits[-1],
                "hits": len(hits), "recipe": "resize-diff",
                "seed": s, "iteration": 0, "replay": "%d:0" % s,
                "engine": {"name": "synthetic", "kind": "external",
                           "program": "/usr/bin/qemu-img"},
                "reference-version": "qemu-img version 7.2.0",
                "case": {"op": op, "format": fmt, "size": "64M",
                         "end": "+%dK" % (n % 4096), "shrink": n % 2 == 0},
            })


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: synthetic-stores.py DIR STORES FINDINGS")
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
