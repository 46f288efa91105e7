#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""mutants.py -- `make mutants': how many planted faults do our detectors kill?

Plants one small fault at a time in core/resize/*.c -- relational and
equality operator flips, && <-> ||, off-by-one integer constants, dropped
statements -- chosen from every candidate site with a fixed seed (comments,
strings and preprocessor lines are never touched).  Each mutant is built
out of tree: `make distdir' once into a private directory, configure once,
then per mutant patch one file and rebuild incrementally.  A mutant that
does not compile is 'stillborn' and not counted.  Three detectors judge
each mutant; each stops at its first failure:

  suite    make check: the C tests and the mutated format's own tests
           first, the rest of the suite only if those pass.  Each test
           runs under a time limit (MUTANT_TEST_TIMEOUT seconds, or 4x
           what it took in the baseline when that is longer), so a hung
           test costs about a minute, not the whole stage
  fuzz     make fuzz-resize for MUTANT_FUZZ_TIME seconds from the
           committed corpus (any crash/leak/timeout artifact kills), with
           a findings store of its own per mutant
  recipes  resize-diff --seed 42 and resize-consistency --seed 42 with the
           in-process engine (the mutant's extension: pre-inst-env sets
           INSTAR_EXTENSION_DIR to the mutant build); a new finding kills.
           A mutant in a format's own file (qcow2*.c, vhdx*.c, vhd*.c,
           vmdk*.c, raw.c: called only through that format's planner)
           cannot change another format's case, so the recipes draw
           every case as usual and run only that format's
           (--only-formats: the same seed, the same cases, the others
           skipped after the draw); a recipe without that format is not
           run.  Shared files (builder.c, request.c) run every case.

A detector that runs past its time limit counts as a kill ('timeout'): a
fault that hangs the engine is caught by anyone who waits.  Before any
mutant, the unmutated tree goes through the same detectors: a detector
that fails there cannot judge anything, so the run stops.

Equivalent mutants (no behaviour change) are listed by hand in
bench/mutants-equivalent.txt by file and exact line text; they appear in
the table as 'equivalent' and leave the denominator.

Environment (set by `make mutants'): MUTANTS, MUTANT_SEED, MUTANT_FUZZ_TIME,
MUTANT_DIFF_ITERATIONS, MUTANT_CONSISTENCY_ITERATIONS, MUTANT_TIMEOUT,
MUTANT_TEST_TIMEOUT,
MUTANT_JOBS, MUTANT_OUT, MUTANT_WORK, MUTANT_BASELINE, MUTANT_RESUME,
MUTANT_REJUDGE, MUTANT_FROM, MUTANT_KEEP, MUTANT_CONFIGURE_FLAGS,
MUTANT_SITES_FROM, MUTANT_DETECTORS,
srcdir, builddir, C_TESTS, ALL_TESTS, GUILE, MAKE.

  mutants.py               run (see above)
  mutants.py --list        print every candidate site, run nothing
  mutants.py --bench FILE  JSON lines for `make bench' from a saved run
  mutants.py --table FILE  the table of a saved (or still running) run
  mutants.py --merge OUT A B...  join runs of one sample (MUTANT_FROM); a later
                                 part's verdict wins (re-judging runs last).
                                 The sample is drawn from srcdir's tree: set
                                 srcdir to the tree the first part judged
"""

import datetime
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# ---- candidate sites -------------------------------------------------------


def code_mask(text):
    """A copy of TEXT where every character that is not code (comments,
    string and character literals, preprocessor lines) is a space; newlines
    are kept so lines still line up."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in ' \t':
            i += 1
            continue
        if line_start and c == '#':
            # The directive and its backslash continuations.
            while i < n and not (text[i] == '\n' and text[i - 1] != '\\'):
                out[i] = ' '
                i += 1
            continue
        line_start = False
        if c == '\n':
            line_start = True
            i += 1
        elif text.startswith('//', i):
            while i < n and text[i] != '\n':
                out[i] = ' '
                i += 1
        elif text.startswith('/*', i):
            end = text.find('*/', i + 2)
            end = n if end < 0 else end + 2
            for k in range(i, end):
                if text[k] != '\n':
                    out[k] = ' '
            i = end
        elif c in '"\'':
            k = i + 1
            while k < n and text[k] != c and text[k] != '\n':
                k += 2 if text[k] == '\\' else 1
            for j in range(i, min(k + 1, n)):
                out[j] = ' '
            i = k + 1
        else:
            i += 1
    return ''.join(out)


FLIP = {'==': '!=', '!=': '==', '<=': '<', '>=': '>', '<': '<=', '>': '>=',
        '&&': '||', '||': '&&'}
OP_RE = re.compile(r'<<=?|>>=?|->|==|!=|<=|>=|&&|\|\||<|>')
INT_RE = re.compile(r'(?<![\w.])(0[xX][0-9a-fA-F]+|[0-9]+)([uUlL]*)(?![\w.])')
DECL_RE = re.compile(r'^(?:(?:const|static|struct|enum|union|unsigned|signed|volatile)\s+)*'
                     r'[A-Za-z_]\w*[\s*]+[A-Za-z_]\w*\s*(?:=|;|\[|,)')
NO_DROP = re.compile(r'^(?:return|case|default|else|do)\b|^;$')


def sites_of(path, rel):
    """Every mutation of file PATH (named REL in reports), in file order."""
    text = open(path, encoding='utf-8').read()
    lines = text.split('\n')
    masked = code_mask(text).split('\n')
    sites = []

    def add(lineno, kind, col, old, new):
        orig = lines[lineno]
        sites.append({'file': rel, 'line': lineno + 1, 'kind': kind,
                      'original': orig,
                      'mutated': orig[:col] + new + orig[col + len(old):],
                      'change': '%s -> %s' % (old, new)})

    prev_end = '{'
    depth = 0                 # open parentheses at the start of the line
    for ln, code in enumerate(masked):
        for m in OP_RE.finditer(code):
            op = m.group(0)
            if op in FLIP:
                kind = ('logical' if op in ('&&', '||') else
                        'equality' if op in ('==', '!=') else 'relational')
                add(ln, kind, m.start(), op, FLIP[op])
        for m in INT_RE.finditer(code):
            digits, suffix = m.group(1), m.group(2)
            v = int(digits, 16) if digits[:2].lower() == '0x' else int(digits, 10)
            if digits.startswith('0') and len(digits) > 1 and digits[1] not in 'xX':
                continue          # octal: leave alone
            fmt = (lambda x: '0x%X' % x) if digits[:2].lower() == '0x' else str
            for nv in (v + 1, v - 1):
                if nv >= 0:
                    add(ln, 'constant', m.start(), m.group(0), fmt(nv) + suffix)
        stmt = code.strip()
        # A whole statement on one line, starting a statement (so the
        # line before ended one, opened a block or was a bare if/else).
        if (stmt.endswith(';') and stmt.count(';') == 1 and '{' not in stmt
                and '}' not in stmt and prev_end in ';{}:)' and depth == 0
                and re.match(r'[A-Za-z_*(]|\+\+|--', stmt) and not NO_DROP.match(stmt)
                and not DECL_RE.match(stmt) and not stmt.startswith('for')):
            col = code.index(stmt[0])
            sites.append({'file': rel, 'line': ln + 1, 'kind': 'drop',
                          'original': lines[ln],
                          'mutated': lines[ln][:col] + ';',
                          'change': 'drop `%s`' % stmt})
        if stmt:
            prev_end = ')' if re.search(r'\belse$', stmt) else stmt[-1]
        depth += code.count('(') - code.count(')')
    return sites


def all_sites(srcdir):
    sites = []
    for path in sorted(glob.glob(os.path.join(srcdir, 'core', 'resize', '*.c'))):
        sites += sites_of(path, os.path.relpath(path, srcdir))
    return sites


def load_equivalents(path):
    """Records of FILE / original / mutated / reason, blank-line separated."""
    recs, cur = [], {}
    if not os.path.exists(path):
        return recs
    for raw in open(path, encoding='utf-8').read().split('\n') + ['']:
        if raw.startswith('#'):
            continue
        if not raw.strip():
            if cur:
                missing = {'file', 'original', 'mutated', 'reason'} - set(cur)
                if missing:
                    sys.exit('mutants: %s: record without %s: %r' % (path, ', '.join(sorted(missing)), cur))
                recs.append(cur)
            cur = {}
            continue
        key, sep, val = raw.partition(':')
        if not sep or key.strip() not in ('file', 'original', 'mutated', 'reason'):
            sys.exit('mutants: %s: bad line %r' % (path, raw))
        cur[key.strip()] = val.strip()
    return recs


def equivalent_reason(site, equivalents):
    for e in equivalents:
        if (e['file'] == site['file'] and e['original'] == site['original'].strip()
                and e['mutated'] == site['mutated'].strip()):
            e['used'] = True
            return e['reason']
    return None

# ---- running children ------------------------------------------------------


def clean_env(extra=None):
    """The environment for children: no make flags from the calling make
    (they would carry its command-line variables and jobserver along)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'TESTS')}
    env['GUILE_AUTO_COMPILE'] = '0'
    env.update(extra or {})
    return env


def run(cmd, cwd, log, timeout, watch=None, env=None):
    """Run CMD (a list); output to LOG.  Returns (status, rc) where status is
    'done' (rc set), 'timeout', or 'watch' (WATCH() returned true: stopped
    at a first failure)."""
    with open(log, 'ab') as out:
        out.write(('$ %s\n' % ' '.join(cmd)).encode())
        out.flush()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env or clean_env(),
                             start_new_session=True)
        t0 = time.time()
        status = None
        while True:
            try:
                rc = p.wait(timeout=1)
                return ('done', rc)
            except subprocess.TimeoutExpired:
                pass
            if time.time() - t0 > timeout:
                status = 'timeout'
            elif watch is not None and watch():
                status = 'watch'
            if status:
                stop(p)
                return (status, None)


def stop(p):
    """End the child's whole process group (its own session)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path, n=5):
    try:
        return ' | '.join(open(path, errors='replace').read().strip().split('\n')[-n:])
    except OSError:
        return ''

# ---- detectors -------------------------------------------------------------


FORMAT_KEYS = (('qcow2', 'qcow2'), ('vhdx', 'vhdx'), ('vhd', 'vhd-'), ('vmdk', 'vmdk'),
               ('raw', 'raw-'))


def own_tests(rel, all_tests):
    base = os.path.basename(rel)
    for prefix, key in FORMAT_KEYS:
        if base.startswith(prefix):
            return [t for t in all_tests if key in os.path.basename(t) and t.endswith('.sh')]
    return []


def failed_tests(build, tests):
    bad = []
    for t in tests:
        trs = os.path.join(build, re.sub(r'(\.sh|\.scm)?$', '.trs', t, count=1))
        try:
            if re.search(r'^:test-result: (FAIL|ERROR)', open(trs).read(), re.M):
                bad.append(t)
        except OSError:
            bad.append(t + ' (no result)')
    return bad


# The per-test time limit: make check runs each test through this wrapper
# (LOG_COMPILER / SH_LOG_COMPILER).  timeout(1) kills the test's whole
# process group; the marker line lands in the test's .log.
TEST_WRAPPER = r'''#!/bin/sh
# mutants.py's per-test wrapper: a time limit, and the time each test took.
# Keyed by the path from tests/ on, so times carry over between work dirs.
t=$(printf '%s\n' "$1" | sed 's|^.*/tests/|tests/|')
limit=$(awk -v t="$t" '$1 == t { print $2 }' "$MUTANT_LIMITS" 2>/dev/null)
[ -n "$limit" ] || limit=$MUTANT_TEST_TIMEOUT
start=$(date +%s)
timeout -k 10 "$limit" "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "mutants: TEST TIMED OUT after ${limit}s" >&2
fi
[ -z "${MUTANT_TIMES:-}" ] || echo "$t $(( $(date +%s) - start ))" >>"$MUTANT_TIMES"
exit $rc
'''
TIMED_OUT = 'mutants: TEST TIMED OUT'


def test_limits(ctx):
    """Write the per-test limits file from the baseline's times: each test
    gets 4x its baseline time, at least MUTANT_TEST_TIMEOUT seconds."""
    times = {}
    try:
        for line in open(ctx['times_file']):
            t, sec = line.split()
            t = re.sub(r'^.*/tests/', 'tests/', t)    # as the wrapper keys it
            times[t] = max(times.get(t, 0), int(sec))
    except OSError:
        pass
    ctx['limits'] = {t: max(ctx['test_timeout'], 4 * sec) for t, sec in times.items()}
    with open(ctx['limits_file'], 'w') as f:
        for t, sec in sorted(ctx['limits'].items()):
            f.write('%s %d\n' % (t, sec))
    return times


def timed_out_tests(build, tests):
    out = []
    for t in tests:
        lg = os.path.join(build, re.sub(r'(\.sh|\.scm)?$', '.log', t, count=1))
        try:
            if TIMED_OUT in open(lg, errors='replace').read():
                out.append(t)
        except OSError:
            pass
    return out


def detect_suite(ctx, mutant, log):
    stage1 = ctx['c_tests'] + ['tests/fuzz-replay.sh', 'tests/fuzz-oracle.sh'] + (
        own_tests(mutant['file'], ctx['all_tests']) if mutant else [])
    stage1 = [t for i, t in enumerate(stage1) if t in ctx['all_tests'] and t not in stage1[:i]]
    stage2 = [t for t in ctx['all_tests'] if t not in stage1]
    for name, tests in (('fast', stage1), ('rest', stage2)):
        if not tests:
            continue
        wrap = ctx['wrapper']
        env = clean_env({'MUTANT_LIMITS': ctx['limits_file'],
                         'MUTANT_TEST_TIMEOUT': str(ctx['test_timeout'] if mutant else ctx['timeout'])})
        if not mutant:
            env['MUTANT_TIMES'] = ctx['times_file']
        # With per-test limits a hang is caught test by test; the stage's
        # own limit only bounds the whole, and must not be what a slow,
        # shared machine trips over: the sum of its tests' limits.
        limit = ctx['timeout']
        if mutant and ctx.get('limits'):
            limit = max(limit, sum(ctx['limits'].get(re.sub(r'^.*/tests/', 'tests/', t),
                                                     ctx['test_timeout']) for t in tests))
        st, rc = run([ctx['make'], '-j%d' % ctx['jobs'], 'check', 'TESTS=' + ' '.join(tests),
                      'LOG_COMPILER=' + wrap, 'SH_LOG_COMPILER=' + wrap],
                     ctx['build'], log, limit, env=env)
        if st == 'timeout':
            return 'timeout', '%s stage ran past %ds' % (name, limit)
        if rc != 0:
            hung = timed_out_tests(ctx['build'], tests)
            if hung:
                return 'timeout', '%s: %s past its limit' % (name, ', '.join(hung[:3]))
            bad = failed_tests(ctx['build'], tests)
            return 'killed', '%s: %s' % (name, ', '.join(bad[:3]) or 'make check failed')
    return 'survived', ''


def detect_fuzz(ctx, mutant, log):
    work = os.path.join(ctx['work'], 'fuzz-work')
    found = os.path.join(ctx['work'], 'fuzz-findings')
    store = os.path.join(ctx['work'], 'fuzz-store')
    for d in (work, found, store):
        shutil.rmtree(d, ignore_errors=True)
    arts = re.compile(r'^(crash|leak|timeout|oom)-')

    def artifact():
        for d in glob.glob(os.path.join(work, '*', 'artifacts')):
            for f in os.listdir(d):
                if arts.match(f):
                    artifact.name = '%s/%s' % (os.path.basename(os.path.dirname(d)), f.split('-')[0])
                    return True
        return False
    artifact.name = None
    t = ctx['fuzz_time']
    st, rc = run([ctx['make'], 'fuzz-resize', 'FUZZ_TIME=%d' % t, 'FUZZ_JOBS=1',
                  'FUZZ_WORK=' + work, 'FUZZ_FINDINGS=' + found,
                  # A store of its own: another mutant's findings are not
                  # this one's to replay.
                  'FUZZ_STORE=' + store],
                 ctx['build'], log, t + ctx['timeout'], watch=artifact)
    if st == 'watch':
        return 'killed', artifact.name
    if st == 'timeout':
        return 'timeout', 'ran past %ds' % (t + ctx['timeout'])
    if rc == 0:
        return 'survived', ''
    text = open(log, errors='replace').read()
    m = re.search(r'fuzz: NEW finding \S+: (.*)', text)
    if m:
        return 'killed', m.group(1)[:60]
    return 'error', tail(log, 3)


FINDINGS_RE = re.compile(r', ([1-9][0-9]*) findings?$', re.M)


# The recipe's format name of each format's own files (VHD is 'vpc').
RECIPE_FORMAT = (('qcow2', 'qcow2'), ('vhdx', 'vhdx'), ('vhd', 'vpc'), ('vmdk', 'vmdk'),
                 ('raw.', 'raw'))
RECIPE_FORMATS = {'resize-diff': ('raw', 'qcow2'),
                  'resize-consistency': ('vpc', 'vhdx', 'vmdk')}


def mutant_format(rel):
    """The one format whose cases a mutant of REL can change, or None (a
    shared file: every format)."""
    base = os.path.basename(rel)
    for prefix, fmt in RECIPE_FORMAT:
        if base.startswith(prefix):
            return fmt
    return None


def detect_recipes(ctx, mutant, log):
    base = os.path.basename(mutant['file']) if mutant else ''
    fmt = mutant_format(mutant['file']) if mutant else None
    recipes = [('resize-diff', ctx['diff_iterations']),
               ('resize-consistency', ctx['consistency_iterations'])]
    if base.startswith(('vhd', 'vmdk')):
        recipes.reverse()     # the recipe that reaches the mutated format first
    for name, iters in recipes:
        only = []
        if fmt:
            if fmt not in RECIPE_FORMATS[name]:
                continue      # no case of this recipe reaches the mutant
            only = ['--only-formats', fmt]
        out = os.path.join(ctx['work'], 'recipe-out')
        tmp = os.path.join(ctx['work'], 'recipe-tmp')
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        sublog = log + '.' + name
        open(sublog, 'w').close()

        def finding():
            try:
                return FINDINGS_RE.search(open(sublog, errors='replace').read()) is not None
            except OSError:
                return False
        st, rc = run([os.path.join(ctx['build'], 'pre-inst-env'), ctx['guile'],
                      '--no-auto-compile', '-s',
                      os.path.join(ctx['src'], 'recipes', name + '.scm'),
                      '--seed', '42', '--iterations', str(iters), '--out', out,
                      '--tmpdir', tmp, '--reduce-time', '0'] + only,
                     ctx['build'], sublog, ctx['timeout'], watch=finding)
        shutil.rmtree(tmp, ignore_errors=True)
        if st == 'watch':
            return 'killed', name + ': finding'
        if st == 'timeout':
            return 'timeout', '%s ran past %ds' % (name, ctx['timeout'])
        if rc == 1:
            return 'killed', name + ': finding'
        if rc < 0:
            return 'killed', '%s: engine crashed (signal %d)' % (name, -rc)
        if rc != 0:
            return 'error', '%s: exit %d: %s' % (name, rc, tail(sublog, 2))
    return 'survived', ('%s only' % fmt) if fmt else ''


DETECTORS = (('suite', detect_suite), ('fuzz', detect_fuzz), ('recipes', detect_recipes))
KILLS = ('killed', 'timeout')

# ---- the run ---------------------------------------------------------------


def prepare(ctx):
    work, src, build = ctx['work'], ctx['src'], ctx['build']
    log = os.path.join(work, 'prepare.log')
    print('mutants: source copy and build in %s' % work, flush=True)
    steps = [([ctx['make'], 'distdir', 'distdir=' + src, 'top_distdir=' + src], ctx['top_build']),
             ([os.path.join(src, 'configure'), '-q'] + ctx['configure_flags'], build),
             ([ctx['make'], '-j%d' % ctx['jobs']], build),
             ([ctx['make'], '-j%d' % ctx['jobs'], 'check', 'TESTS='], build)]
    os.makedirs(build, exist_ok=True)
    for cmd, cwd in steps:
        st, rc = run(cmd, cwd, log, 3600)
        if st != 'done' or rc != 0:
            sys.exit('mutants: preparing failed (%s); see %s: %s' % (' '.join(cmd[:2]), log, tail(log)))


def judge(ctx, mutant, tag, only=None):
    res = {}
    for name, fn in DETECTORS:
        if only is not None and name not in only:
            continue
        if mutant and name not in ctx['detectors']:
            res[name] = {'verdict': 'not-run', 'detail': 'MUTANT_DETECTORS', 'seconds': 0}
            continue
        log = os.path.join(ctx['work'], 'logs', '%s-%s.log' % (tag, name))
        open(log, 'w').close()
        t0 = time.time()
        verdict, detail = fn(ctx, mutant, log)
        res[name] = {'verdict': verdict, 'detail': detail, 'seconds': round(time.time() - t0, 1)}
        print('mutants:   %-8s %-9s %5.0fs %s' % (name, verdict, time.time() - t0, detail), flush=True)
    return res


def short(s, n):
    s = ' '.join(s.split())
    return s if len(s) <= n else s[:n - 1] + '~'


def scores(mutants):
    counted = [m for m in mutants if m['status'] == 'judged']
    n = len(counted)
    out = {'sample': len(mutants), 'counted': n,
           'stillborn': sum(m['status'] == 'stillborn' for m in mutants),
           'equivalent': sum(m['status'] == 'equivalent' for m in mutants),
           'errors': sum(m['status'] == 'error' for m in mutants)}
    for name, _ in DETECTORS:
        k = sum(m['detectors'][name]['verdict'] in KILLS for m in counted)
        out[name] = {'killed': k, 'score': round(k / n, 3) if n else None}
    k = sum(any(m['detectors'][d]['verdict'] in KILLS for d, _ in DETECTORS) for m in counted)
    out['any'] = {'killed': k, 'score': round(k / n, 3) if n else None}
    return out


def table(mutants, sc):
    # A merged run may hold verdicts of several trees (a re-judged
    # survivor): then each row says which tree judged it.
    trees = {m.get('commit') for m in mutants if m['status'] == 'judged'}
    lines = ['%-3s %-30s %-44s %-9s %-9s %-9s%s' % ('#', 'file:line', 'mutation', 'suite', 'fuzz',
                                                   'recipes', ' tree' if len(trees) > 1 else '')]
    for i, m in enumerate(mutants, 1):
        where = '%s:%d' % (m['file'].replace('core/resize/', ''), m['line'])
        what = short('%s: %s' % (m['kind'], m['change']), 44)
        if 'detectors' in m and m['status'] != 'equivalent':
            v = [m['detectors'][d]['verdict'] for d, _ in DETECTORS]
        else:
            v = [m['status'], '', '']
        lines.append('%-3d %-30s %-44s %-9s %-9s %-9s%s' % (
            i, where, what, v[0], v[1], v[2],
            ' ' + (m.get('commit') or '?') if len(trees) > 1 and m['status'] == 'judged' else ''))
        if m['status'] == 'equivalent':
            lines.append('    equivalent: %s' % m['reason'])
        elif m['status'] == 'error':
            lines.append('    not counted: a detector could not run (see its log)')
    lines.append('')
    n = sc['counted']
    lines.append('mutants: %d sampled, %d counted, %d stillborn, %d equivalent, %d errors'
                 % (sc['sample'], n, sc['stillborn'], sc['equivalent'], sc['errors']))
    for d in ('suite', 'fuzz', 'recipes', 'any'):
        s = sc[d]
        lines.append('score %-8s %2d/%-2d killed  %s' % (
            d, s['killed'], n, '%.0f%%' % (100 * s['score']) if s['score'] is not None else '-'))
    return '\n'.join(lines)


def env_int(name, default):
    v = os.environ.get(name, '') or str(default)
    if not re.fullmatch(r'[0-9]+', v):
        sys.exit('mutants: %s wants a non-negative integer, not %r' % (name, v))
    return int(v)


def with_equivalents(mutants, srcdir):
    """MUTANTS re-judged with today's equivalents list: a mutant found
    equivalent after its run leaves the denominator, visibly."""
    equivalents = load_equivalents(os.path.join(srcdir, 'bench', 'mutants-equivalent.txt'))
    for m in mutants:
        reason = equivalent_reason(m, equivalents)
        if reason and m['status'] != 'equivalent':
            m.update(status='equivalent', reason=reason)
    return mutants


def bench_lines(path, srcdir):
    if not os.path.exists(path):
        print(json.dumps({'bench': 'mutation-score', 'skipped': 'no %s (run make mutants)' % path}))
        return
    r = json.load(open(path))
    r['scores'] = scores(with_equivalents(r['mutants'], srcdir))
    for d in ('suite', 'fuzz', 'recipes', 'any'):
        print(json.dumps({'bench': 'mutation-score-' + d, 'unit': 'fraction of mutants killed',
                          'value': r['scores'][d]['score'], 'killed': r['scores'][d]['killed'],
                          'counted': r['scores']['counted'], 'date': r['date'],
                          'seed': r['seed'], 'fuzz_time': r['budgets']['fuzz_time'],
                          'complete': r.get('complete', False)}))


def main(argv):
    srcdir = os.path.abspath(os.environ.get('srcdir') or
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    if argv[1:2] == ['--bench']:
        bench_lines(argv[2], srcdir)
        return 0
    if argv[1:2] == ['--table']:
        # A saved run, re-judged with today's equivalents list (a mutant
        # found equivalent after the run leaves the denominator, visibly).
        r = json.load(open(argv[2]))
        with_equivalents(r['mutants'], srcdir)
        print('mutants: run of %s, seed %s, %s; fuzz %ss, recipes %s+%s iterations'
              % (r['date'], r['seed'], 'complete' if r.get('complete') else 'INCOMPLETE',
                 r['budgets']['fuzz_time'], r['budgets']['diff_iterations'],
                 r['budgets']['consistency_iterations']))
        print(table(r['mutants'], scores(r['mutants'])))
        return 0
    if argv[1:2] == ['--merge'] and len(argv) >= 5:
        # --merge OUT A B...: one run from parts of the same seed and
        # budgets, in sample order; complete when every sampled mutant is in.
        parts = [json.load(open(f)) for f in argv[3:]]
        base = parts[0]
        for p in parts[1:]:
            if p['seed'] != base['seed'] or p['budgets'] != base['budgets']:
                sys.exit('mutants: --merge: %s is of another seed or budget' % p)
        # A judged record of a later part replaces an earlier one: a
        # re-judging run (MUTANT_SITES_FROM + MUTANT_REJUDGE on a newer
        # tree) goes last.  A resumed run carries copies of the records it
        # did not judge again; a copy of a record already seen is not a
        # new verdict and replaces nothing.  Each record keeps the commit
        # that judged it; mutants match by file and trimmed line text, so
        # a line re-indented on the newer tree is still the same mutant.
        def key_of(m):
            return (m['file'], m['original'].strip(), m['mutated'].strip())
        got, seen = {}, {}
        for p in parts:
            for m in p['mutants']:
                k = key_of(m)
                m.setdefault('commit', p.get('commit'))
                rec = json.dumps({x: m.get(x) for x in ('status', 'commit', 'detectors')},
                                 sort_keys=True)
                if rec in seen.setdefault(k, set()):
                    continue
                seen[k].add(rec)
                if k not in got or m['status'] in ('judged', 'stillborn'):
                    got[k] = m
        sites = all_sites(srcdir)
        chosen = random.Random(base['seed']).sample(sites, base['requested'])
        merged = [got[k] for k in (key_of(c) for c in chosen) if k in got]
        with_equivalents(merged, srcdir)
        base.update(mutants=merged, scores=scores(merged),
                    complete=len(merged) == len(chosen),
                    seconds=sum(p['seconds'] for p in parts),
                    merged_from=len(parts))
        with open(argv[2], 'w') as f:
            json.dump(base, f, indent=1)
        print(table(merged, scores(merged)))
        return 0
    if argv[1:2] == ['--list']:
        for s in all_sites(srcdir):
            print('%s:%d\t%s\t%s' % (s['file'], s['line'], s['kind'], s['change']))
        return 0
    if argv[1:]:
        sys.exit('usage: mutants.py [--list | --bench FILE | --table FILE | --merge OUT A B...]')

    n = env_int('MUTANTS', 24)
    seed = env_int('MUTANT_SEED', 1)
    top_build = os.path.abspath(os.environ.get('builddir') or '.')
    work = os.environ.get('MUTANT_WORK') or tempfile.mkdtemp(prefix='instar-mutants.')
    work = os.path.abspath(work)
    ctx = {
        'work': work, 'src': os.path.join(work, 'src'), 'build': os.path.join(work, 'build'),
        'top_build': top_build, 'make': os.environ.get('MAKE') or 'make',
        'guile': os.environ.get('GUILE') or 'guile',
        'jobs': env_int('MUTANT_JOBS', 2),
        'fuzz_time': env_int('MUTANT_FUZZ_TIME', 60),
        'diff_iterations': env_int('MUTANT_DIFF_ITERATIONS', 200),
        'consistency_iterations': env_int('MUTANT_CONSISTENCY_ITERATIONS', 200),
        'timeout': env_int('MUTANT_TIMEOUT', 900),
        'test_timeout': env_int('MUTANT_TEST_TIMEOUT', 60),
        'c_tests': os.environ.get('C_TESTS', '').split(),
        'all_tests': os.environ.get('ALL_TESTS', '').split(),
        'configure_flags': os.environ.get('MUTANT_CONFIGURE_FLAGS', '').split(),
        # MUTANT_DETECTORS=recipes: run only these (timing one detector);
        # the others are 'not-run' and the run's scores are partial.
        'detectors': (os.environ.get('MUTANT_DETECTORS') or 'suite,fuzz,recipes').split(','),
    }
    if not ctx['all_tests']:
        sys.exit('mutants: ALL_TESTS is empty (run me through `make mutants\')')
    out_json = os.path.abspath(os.environ.get('MUTANT_OUT') or 'mutants.json')
    equivalents_file = os.path.join(srcdir, 'bench', 'mutants-equivalent.txt')
    equivalents = load_equivalents(equivalents_file)

    sites = all_sites(srcdir)
    chosen = random.Random(seed).sample(sites, min(n, len(sites)))
    # Judged in sample order, so a run stopped early is still a random sample.
    print('mutants: %d candidate sites in core/resize/*.c, %d sampled with seed %d'
          % (len(sites), len(chosen), seed), flush=True)
    # MUTANT_SITES_FROM=FILE: judge the mutants of a saved run instead (by
    # file and exact line text, so line drift does not matter) -- to
    # re-judge an earlier sample's survivors with today's detectors, or to
    # time detectors on known mutants.  Not a random sample: the scores of
    # such a run measure those mutants only.
    sites_from = os.environ.get('MUTANT_SITES_FROM')
    if sites_from:
        want = [(m['file'], m['original'].strip(), m['mutated'].strip())
                for m in json.load(open(sites_from))['mutants']]
        by_key = {(c['file'], c['original'].strip(), c['mutated'].strip()): c for c in sites}
        chosen = [by_key[k] for k in want if k in by_key]
        print('mutants: %d of the %d mutants of %s still apply (MUTANT_SITES_FROM)'
              % (len(chosen), len(want), sites_from), flush=True)
    os.makedirs(os.path.join(work, 'logs'), exist_ok=True)
    ctx['wrapper'] = os.path.join(work, 'test-wrapper.sh')
    ctx['times_file'] = os.path.join(work, 'test-times.txt')
    ctx['limits_file'] = os.path.join(work, 'test-limits.txt')
    with open(ctx['wrapper'], 'w') as f:
        f.write(TEST_WRAPPER)
    os.chmod(ctx['wrapper'], 0o755)
    t_start = time.time()
    # The tree the source copy is made of (before prepare copies it).
    commit = subprocess.run(['git', '-C', srcdir, 'describe', '--always', '--dirty'],
                            capture_output=True, text=True).stdout.strip() or None
    prepare(ctx)

    # MUTANT_BASELINE: 1 (every detector), 0 (none) or a list like fuzz,recipes.
    which = os.environ.get('MUTANT_BASELINE', '1')
    which = ([d for d, _ in DETECTORS] if which == '1' else [] if which == '0'
             else which.split(','))
    if which:
        print('mutants: baseline: the unmutated tree must survive %s' % ', '.join(which), flush=True)
        if 'suite' in which and os.path.exists(ctx['times_file']):
            os.remove(ctx['times_file'])
        base = judge(ctx, None, 'baseline', which)
        bad = [d for d, r in base.items() if r['verdict'] != 'survived']
        if bad:
            sys.exit('mutants: the unmutated tree fails %s; no score is possible (logs in %s/logs)'
                     % (', '.join(bad), work))
    # Per-test limits from the baseline's times (or an earlier baseline's
    # in the same MUTANT_WORK); without any, each stage keeps MUTANT_TIMEOUT.
    times = test_limits(ctx)
    if not times:
        ctx['test_timeout'] = ctx['timeout']
        print('mutants: no baseline test times: no per-test limit', flush=True)
    else:
        print('mutants: per-test limits from %d baseline times (at least %ds)'
              % (len(times), ctx['test_timeout']), flush=True)


    def save(mutants, complete):
        """Write the JSON after every mutant: a stopped run keeps its part."""
        result = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                  'commit': commit, 'seed': seed, 'candidates': len(sites),
                  'requested': len(chosen), 'complete': complete,
                  'budgets': budgets,
                  'seconds': round(time.time() - t_start), 'scores': scores(mutants),
                  'sites_from': sites_from or None, 'detectors': ctx['detectors'],
                  'mutants': mutants}
        with open(out_json + '.tmp', 'w') as f:
            json.dump(result, f, indent=1)
        os.replace(out_json + '.tmp', out_json)

    # MUTANT_RESUME=1: keep the mutants a stopped run of the same seed and
    # budgets already judged (MUTANT_OUT), and judge only the rest.
    done = {}
    budgets = {'fuzz_time': ctx['fuzz_time'], 'diff_iterations': ctx['diff_iterations'],
               'consistency_iterations': ctx['consistency_iterations'], 'timeout': ctx['timeout']}
    if os.environ.get('MUTANT_RESUME') == '1' and os.path.exists(out_json):
        prev = json.load(open(out_json))
        if prev.get('seed') == seed and prev.get('budgets') == budgets:
            done = {(m['file'], m['original'], m['mutated']): m for m in prev['mutants']
                    if m['status'] in ('judged', 'stillborn')}
            # Which tree judged each: a resumed run may mix detector versions.
            for m in done.values():
                m.setdefault('commit', prev.get('commit'))
        else:
            print('mutants: %s is of another seed or budget; not resumed' % out_json)

    # MUTANT_REJUDGE=3,7: with MUTANT_RESUME, judge these sample numbers
    # again (after a test or oracle change meant to kill them).
    rejudge = {int(x) for x in os.environ.get('MUTANT_REJUDGE', '').split(',')
               if x.strip().isdigit()}
    # MUTANT_FROM=13: start at sample number 13 (a second run judging the
    # rest of the sample in parallel; --merge joins the two).
    first = env_int('MUTANT_FROM', 1)
    mutants = []
    for i, s in enumerate(chosen, 1):
        if i < first:
            continue
        m = dict(s)
        print('mutants: [%d/%d] %s:%d %s' % (i, len(chosen), m['file'], m['line'], m['change']),
              flush=True)
        key = (m['file'], m['original'], m['mutated'])
        if key in done and i in rejudge:
            print('mutants:   judged again (MUTANT_REJUDGE)', flush=True)
        elif key in done and not equivalent_reason(m, equivalents):
            mutants.append(done[key])
            print('mutants:   %s in the resumed run' % done[key]['status'], flush=True)
            continue
        reason = equivalent_reason(m, equivalents)
        if reason:
            m.update(status='equivalent', reason=reason)
            mutants.append(m)
            save(mutants, False)
            continue
        path = os.path.join(ctx['src'], m['file'])
        orig = open(path, encoding='utf-8').read()
        lines = orig.split('\n')
        assert lines[m['line'] - 1] == m['original']
        lines[m['line'] - 1] = m['mutated']
        try:
            with open(path, 'w', encoding='utf-8') as f:
                f.write('\n'.join(lines))
            log = os.path.join(work, 'logs', 'm%02d-build.log' % i)
            st, rc = run([ctx['make'], '-j%d' % ctx['jobs']], ctx['build'], log, ctx['timeout'])
            if st != 'done' or rc != 0:
                m['status'] = 'stillborn'
                print('mutants:   stillborn (does not build)', flush=True)
            else:
                m['detectors'] = judge(ctx, m, 'm%02d' % i)
                m['commit'] = commit
                errs = [d for d, r in m['detectors'].items() if r['verdict'] == 'error']
                m['status'] = 'error' if errs else 'judged'
        finally:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(orig)
        mutants.append(m)
        save(mutants, False)

    # Leave the build matching the source again (and prove it still builds).
    run([ctx['make'], '-j%d' % ctx['jobs']], ctx['build'], os.path.join(work, 'prepare.log'), 3600)
    save(mutants, True)
    print()
    print(table(mutants, scores(mutants)))
    stale = [e for e in equivalents if not e.get('used')]
    if stale:
        print('mutants: %d listed equivalent mutant(s) not in this sample' % len(stale))

    print('mutants: wrote %s; logs and build in %s' % (out_json, work))
    if not os.environ.get('MUTANT_WORK') and not os.environ.get('MUTANT_KEEP'):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
