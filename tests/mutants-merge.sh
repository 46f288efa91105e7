#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# mutants-merge.sh -- bench/mutants.py --merge joins the parts of one
# sample: a re-judging run's verdict replaces the first, the copies a
# resumed run carries replace nothing, a re-indented line is the same
# mutant, and the equivalents list leaves the denominator in --merge,
# --table and --bench alike.  Synthetic runs over the real sample.
. "$abs_top_srcdir/tests/lib.sh"
require "$PYTHON3" python3
M="$abs_top_srcdir/bench/mutants.py"
export srcdir="$abs_top_srcdir"

"$PYTHON3" - "$M" "$TMPD" <<'PY' || exit 99
import json, random, sys, importlib.util
spec = importlib.util.spec_from_file_location('m', sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
import os
src = os.environ['srcdir']
eq = m.load_equivalents(os.path.join(src, 'bench', 'mutants-equivalent.txt'))
sites = [s for s in m.all_sites(src) if not m.equivalent_reason(s, eq)]
chosen = random.Random(1).sample(m.all_sites(src), 4)
def rec(s, commit, verdicts):
    r = dict(s, status='judged', commit=commit,
             detectors={d: {'verdict': v, 'detail': '', 'seconds': 0}
                        for d, v in zip(('suite', 'fuzz', 'recipes'), verdicts)})
    return r
budgets = {'fuzz_time': 60, 'diff_iterations': 200, 'consistency_iterations': 200, 'timeout': 900}
def run(commit, recs):
    return {'date': 'x', 'commit': commit, 'seed': 1, 'requested': 4, 'budgets': budgets,
            'seconds': 1, 'mutants': recs}
S = 'survived'; K = 'killed'
first = [rec(c, 'old', [S, S, S]) for c in chosen]
# A re-judging run: mutant 1 re-judged (killed by the suite), the line of
# mutant 2 re-indented on the newer tree; the rest copies of the first run.
again = [dict(r) for r in first]
again[0] = rec(chosen[0], 'new', [K, S, S])
again[1] = rec(dict(chosen[1], original='  ' + chosen[1]['original'],
                    mutated='  ' + chosen[1]['mutated']), 'new', [K, K, S])
json.dump(run('old', first), open(sys.argv[2] + '/a.json', 'w'))
json.dump(run('new', again), open(sys.argv[2] + '/b.json', 'w'))
# The copies in b.json must not undo a verdict of a third, later part.
third = [rec(chosen[2], 'newer', [K, K, K])]
json.dump(run('newer', third), open(sys.argv[2] + '/c.json', 'w'))
PY

"$PYTHON3" "$M" --merge "$TMPD/m.json" "$TMPD/a.json" "$TMPD/c.json" "$TMPD/b.json" >"$TMPD/table"
ok $? "--merge runs"
"$PYTHON3" - "$TMPD/m.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ms = r['mutants']
v = [[m['detectors'][d]['verdict'] for d in ('suite', 'fuzz', 'recipes')] for m in ms]
assert r['complete'] and len(ms) == 4, 'all four mutants, in sample order'
assert v[0] == ['killed', 'survived', 'survived'] and ms[0]['commit'] == 'new', 'a re-judged verdict wins'
assert v[1] == ['killed', 'killed', 'survived'], 'a re-indented line is the same mutant'
assert v[2] == ['killed', 'killed', 'killed'] and ms[2]['commit'] == 'newer', 'a copy replaces nothing'
assert v[3] == ['survived'] * 3 and ms[3]['commit'] == 'old'
assert r['scores']['suite']['killed'] == 3 and r['scores']['counted'] == 4
PY
ok $? "later verdicts win, copies and re-indented lines do not confuse the merge"
grep -q " tree" "$TMPD/table"
ok $? "a merge of several trees names the tree of each row"

# The equivalents list: an equivalent mutant leaves the denominator of
# --table and --bench, even in a run judged before it was listed.
"$PYTHON3" - "$abs_top_srcdir/bench/mutants-equivalent.txt" "$TMPD" <<'PY' || exit 99
import json, sys
recs = open(sys.argv[1]).read().split('\n\n')
e = [r for r in recs if 'original:' in r][-1]
f = {l.split(':', 1)[0]: l.split(':', 1)[1].strip() for l in e.splitlines() if ':' in l}
m = {'file': f['file'], 'line': 1, 'kind': 'x', 'change': 'x', 'original': f['original'],
     'mutated': f['mutated'], 'status': 'judged', 'commit': 'old',
     'detectors': {d: {'verdict': 'survived', 'detail': '', 'seconds': 0}
                   for d in ('suite', 'fuzz', 'recipes')}}
k = dict(m, original='x = 1;', mutated='x = 2;',
         detectors={d: {'verdict': 'killed', 'detail': '', 'seconds': 0}
                    for d in ('suite', 'fuzz', 'recipes')})
json.dump({'date': 'x', 'commit': 'old', 'seed': 1, 'requested': 2, 'complete': True,
           'budgets': {'fuzz_time': 60, 'diff_iterations': 1, 'consistency_iterations': 1,
                       'timeout': 1},
           'scores': {}, 'mutants': [m, k]}, open(sys.argv[2] + '/e.json', 'w'))
PY
"$PYTHON3" "$M" --bench "$TMPD/e.json" >"$TMPD/bench"
grep -q '"mutation-score-suite".*"value": 1.0, "killed": 1, "counted": 1' "$TMPD/bench"
ok $? "--bench leaves a listed equivalent mutant out of the denominator"
"$PYTHON3" "$M" --table "$TMPD/e.json" | grep -q "1 counted.*1 equivalent"
ok $? "--table does the same"
done_testing
