#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-compare.py LOCAL MERGED -- does a campaign's merged output
# (MERGED: DIR/merged) report what one local run (LOCAL: its --out) of the
# same recipe, seed and iterations reported?  Compares the summaries
# (iterations run, verdicts, whitelist hits, refusals, and the findings
# in order: signature, shape, title, hits, first iteration) and the stores
# (the same finding IDs, each with the same hit files).  Prints each
# difference; exit 0 when there is none, 1 otherwise.
import json
import os
import sys


def load(d):
    with open(os.path.join(d, "summary.json")) as f:
        return json.load(f)


def store(d):
    root = os.path.join(d, "findings")
    if not os.path.isdir(root):
        return {}
    return {i: sorted(os.listdir(os.path.join(root, i, "hits")))
            for i in os.listdir(root)}


def main(local_dir, merged_dir):
    a, b = load(local_dir), load(merged_dir)
    diffs = []

    def same(what, x, y):
        if x != y:
            diffs.append("%s: local %r, merged %r" % (what, x, y))

    same("seed", a["seed"], b["seed"])
    same("iterations", a["iterations"], b["iterations"])
    same("iterations-run", a["iterations-run"], b["iterations-run"])
    for key in ("verdicts", "whitelist", "refusals", "inconclusive-reasons"):
        same(key, dict(a.get(key, {})), dict(b.get(key, {})))
    keys = ("signature", "shape", "title", "hits", "first-iteration")
    fa = [{k: f[k] for k in keys} for f in a["findings"]]
    fb = [{k: f[k] for k in keys} for f in b["findings"]]
    same("number of findings", len(fa), len(fb))
    for i, (x, y) in enumerate(zip(fa, fb)):
        same("finding %d" % (i + 1), x, y)
    same("stored findings and their hits", store(local_dir), store(merged_dir))
    for d in diffs:
        print(d)
    print("%d finding(s) compared, %d difference(s)" % (len(fa), len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: campaign-compare.py LOCAL MERGED")
    sys.exit(main(sys.argv[1], sys.argv[2]))
