#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# watch-campaign.sh -- `instar-fuzz status', `instar-fuzz report' and the
# JUnit output on a real two-shard campaign (resize-diff against an
# engine that rounds sizes wrong, so there is a finding) plus a libFuzzer
# work directory in core/fuzz/run.sh's stats format.  The report must be
# well-formed XML with no outside reference, open in headless Chromium
# (a screenshot is taken and must not be blank), and its plots must hold
# one point per stats line.
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
XMLLINT=$(command -v xmllint); require "$XMLLINT" "xmllint (libxml2-utils)"
CHROMIUM=$(command -v chromium || command -v chromium-browser); require "$CHROMIUM" chromium
GNUPLOT=$(command -v gnuplot); require "$GNUPLOT" "gnuplot (gnuplot-nox)"
PY=${PYTHON3:-python3}; PY=$(command -v "$PY"); require "$PY" python3
fz() { "$abs_top_builddir/pre-inst-env" instar-fuzz "$@"; }
WRONG="$abs_top_srcdir/tests/wrong-engines/wrong-rounding"
C="$TMPD/camp"

# Two shards of one campaign (shard 2 meets the wrong rounding at
# iteration 13).
for k in 1 2; do
    fz run resize-diff --instar "$WRONG" --formats raw,qcow2 --ops resize,resize-shared \
        --seed 7 --iterations 16 --shard $k/2 --out "$C/s$k" --tmpdir "$TMPD" \
        --reduce-time 1 -q --junit "$TMPD/j$k.xml" >"$TMPD/run$k.log" 2>&1
    echo $? >"$TMPD/rc$k"
done
ok $([ "$(cat "$TMPD/rc1")" -eq 0 ] && [ "$(cat "$TMPD/rc2")" -eq 1 ]; echo $?) \
    "the campaign ran: shard 1 clean, shard 2 has the finding"

# A libFuzzer work directory, as core/fuzz/run.sh writes it (one object
# per status line; the last one final).
F="$TMPD/fuzz-work/fuzz_resize_planners"
mkdir -p "$F"
for i in 1 2 3 4 5 6; do
    fin=false; [ $i -eq 6 ] && fin=true
    printf '{"target": "fuzz_resize_planners", "mode": "plain", "elapsed_s": %d, "execs": %d, "exec_per_s": %d, "avg_exec_per_s": %d, "cov": %d, "ft": %d, "corpus": %d, "crashes": %d, "final": %s}\n' \
        $((i * 5)) $((i * 20000)) $((4000 - i * 100)) 3900 $((1300 + i * 17)) $((3300 + i * 40)) \
        $((400 + i * 9)) 0 $fin >>"$F/stats"
done

# --- status ---------------------------------------------------------------
fz status "$C" "$TMPD/fuzz-work" >"$TMPD/st.txt" 2>&1; rc=$?
ok $rc "status: exit 0"
grep -Eq "/s1 +resize-diff +1/2 +8/8 100% .* finished$" "$TMPD/st.txt" &&
    grep -Eq "/s2 +resize-diff +2/2 +8/8 100% .* finished$" "$TMPD/st.txt"
ok $? "status: a line per shard, 8 of 8 done, finished"
grep -Eq "^total \(2 runs\) +resize-diff +16/16 100%" "$TMPD/st.txt"
ok $? "status: the total, 16 of 16"
grep -Eq "fuzz_resize_planners +30s +120000 +3400 +3900 +1402 +3540 +454 +0  finished" "$TMPD/st.txt"
ok $? "status: the libFuzzer target's last figures (execs, exec/s, cov, ft, corpus, crashes)"
grep -q "^findings: 1 (1 open, 0 flaky, 0 fixed) in 2 stores" "$TMPD/st.txt"
ok $? "status: one open finding"

# The JSON agrees with stats.jsonl, verdict for verdict.
fz status --json "$C" >"$TMPD/st.json" 2>&1
"$PY" - "$TMPD/st.json" "$C/s1/stats.jsonl" "$C/s2/stats.jsonl" <<'EOF'
import json, sys, collections
st = json.load(open(sys.argv[1]))
lines = [json.loads(l) for f in sys.argv[2:] for l in open(f)]
want = collections.Counter(l["verdict"] for l in lines)
got = st["total"]["verdicts"]
assert all(got[v] == want.get(v, 0) for v in got), (got, want)
assert st["total"]["done"] == 16 and st["total"]["planned"] == 16
assert [s["latest"]["shard"] for s in st["stores"]] == ["1/2", "2/2"]
assert st["findings"]["open"] == 1
EOF
ok $? "status --json: verdict counts equal to the stats lines'"

# A shard still running: no summary yet, 5 of 8 lines, and a line being
# written.
mkdir -p "$TMPD/live/s3"
head -5 "$C/s1/stats.jsonl" >"$TMPD/live/s3/stats.jsonl"
printf '{"run":"2026-12-03T' >>"$TMPD/live/s3/stats.jsonl"
fz status "$TMPD/live/s3" >"$TMPD/st3.txt" 2>&1
grep -Eq "/s3 +resize-diff +1/2 +5/8 62% .*running or stopped" "$TMPD/st3.txt"
ok $? "status: a running shard: 5/8, running (the half-written line skipped)"

fz status "$TMPD/nonexistent" >/dev/null 2>&1; rc=$?
ok $([ $rc -eq 2 ]; echo $?) "status: a missing directory is a usage error (exit $rc)"

# --- report ---------------------------------------------------------------
R="$TMPD/report.html"
fz report "$C" "$TMPD/fuzz-work" --html "$R" >"$TMPD/rep.log" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && [ -s "$R" ]; echo $?) "report: written (exit $rc)"
"$XMLLINT" --noout "$R" 2>"$TMPD/xmllint.err"
ok $? "report: well-formed XML (xmllint)"
"$PY" - "$R" <<'EOF'
import sys, re
import xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1])
bad = []
for e in t.iter():
    tag = e.tag.split('}')[-1]
    if tag in ('script', 'link', 'img', 'iframe', 'object', 'embed'):
        bad.append(tag)
    for k, v in e.attrib.items():
        if k.endswith('href') and not v.startswith('#'):
            bad.append((tag, k, v))
        if k == 'src':
            bad.append((tag, k, v))
    if tag == 'style' and re.search(r'@import|url\(', e.text or ''):
        bad.append('style')
assert not bad, bad
EOF
ok $? "report: no script, no outside reference (every href is a fragment)"

# Points per series: each gnuplot series group holds one <use> per point
# and one for the key's sample.
count_points() {  # count_points PLOT-ID SERIES-TITLE
    "$XMLLINT" --xpath "count(//*[@id='$1']//*[local-name()='g'][*[local-name()='title']='$2']//*[local-name()='use'])" "$R"
}
n1=$(grep -c . "$C/s1/stats.jsonl"); n2=$(grep -c . "$C/s2/stats.jsonl")
for plot in findings rate; do
    p1=$(count_points $plot "resize-diff 1/2 (s1)"); p2=$(count_points $plot "resize-diff 2/2 (s2)")
    ok $([ "$p1" = $((n1 + 1)) ] && [ "$p2" = $((n2 + 1)) ]; echo $?) \
        "report: $plot plot has a point per stats line ($p1, $p2 = $n1+1, $n2+1)"
done
p=$(count_points coverage "fuzz_resize_planners (fuzz-work)")
ok $([ "$p" = 7 ]; echo $?) "report: coverage plot has the 6 status lines ($p = 6+1)"
p=$(count_points execs "fuzz_resize_planners (fuzz-work)")
ok $([ "$p" = 6 ]; echo $?) "report: exec/s plot has the 5 interval lines, not the final average ($p = 5+1)"
# The points' shape: x grows with the iterations; shard 2's findings curve
# climbs to its finding (SVG y points down), shard 1's stays flat.
"$PY" - "$R" <<'EOF'
import sys, re
import xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1])
def pts(plot, title):
    for svg in t.iter('{http://www.w3.org/2000/svg}svg'):
        if svg.get('id') != plot: continue
        for g in svg.iter('{http://www.w3.org/2000/svg}g'):
            ti = g.find('{http://www.w3.org/2000/svg}title')
            if ti is not None and ti.text == title:
                out = []
                for u in g.iter('{http://www.w3.org/2000/svg}use'):
                    m = re.match(r'translate\(([-0-9.]+),([-0-9.]+)\)', u.get('transform'))
                    out.append((float(m.group(1)), float(m.group(2))))
                return out[:-1]   # the last is the key's sample
s1 = pts('findings', 'resize-diff 1/2 (s1)'); s2 = pts('findings', 'resize-diff 2/2 (s2)')
assert all(a[0] < b[0] for a, b in zip(s2, s2[1:])), s2
assert all(a[1] >= b[1] for a, b in zip(s2, s2[1:])) and s2[0][1] > s2[-1][1], s2
assert len(set(y for x, y in s1)) == 1, s1
EOF
ok $? "report: the findings curves follow the stats (x increasing; shard 2 climbs, shard 1 flat)"
v2=$(grep -c '"verdict":"match"' "$C/s2/stats.jsonl")
grep -q "s2 2/2: $v2 match, " "$R"
ok $? "report: the verdict mix carries shard 2's $v2 matches"
grep -q "raw .*: info.virtual-size differs" "$R" && grep -q "instar-fuzz replay [0-9a-f]\{32\} --out $C/s2" "$R"
ok $? "report: the findings table has the title and the replay command"

# Headless Chromium opens it (CI runs as root: --no-sandbox; a private
# profile).
prof="$TMPD/chromium-profile"; mkdir -p "$prof"
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$prof" \
    --screenshot="$TMPD/shot.png" --window-size=1200,2000 "file://$R" >"$TMPD/chromium.log" 2>&1
"$PY" - "$TMPD/shot.png" <<'EOF'
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, w = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
assert (w, h) == (1200, 2000) and depth == 8 and ctype in (2, 6), (w, h, depth, ctype)
# Not blank: a blank page compresses to a few distinct runs of bytes; the
# report's text and plots to thousands.
raw = zlib.decompress(idat)
chunks = len(set(raw[i:i + 48] for i in range(0, len(raw), 48)))
assert chunks > 2000, chunks
print(chunks)
EOF
ok $? "report: headless Chromium renders it; the 1200x2000 screenshot is not blank"
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$prof" \
    --dump-dom "file://$R" >"$TMPD/dom.html" 2>>"$TMPD/chromium.log"
nsvg=$(grep -o '<svg ' "$TMPD/dom.html" | wc -l)
ok $([ "$nsvg" -eq 6 ] && grep -q 'id="findings-table"' "$TMPD/dom.html"; echo $?) \
    "report: Chromium's DOM has the 6 plots and the findings table ($nsvg)"

fz report "$C" >/dev/null 2>&1; rc=$?
ok $([ $rc -eq 2 ]; echo $?) "report: without --html, a usage error (exit $rc)"
cp "$R" "$TMPD/before.html"
GNUPLOT=/nonexistent/gnuplot fz report "$C" --html "$R" >/dev/null 2>"$TMPD/nognuplot.err"; rc=$?
ok $([ $rc -eq 3 ] && grep -q gnuplot "$TMPD/nognuplot.err" && cmp -s "$R" "$TMPD/before.html"; echo $?) \
    "report: no gnuplot is an environment error (exit $rc), the old page left as it was"

# --- JUnit ------------------------------------------------------------------
"$XMLLINT" --noout "$TMPD/j1.xml" "$TMPD/j2.xml"
ok $? "JUnit: well-formed (xmllint)"
x() { "$XMLLINT" --xpath "$1" "$2"; }
ok $([ "$(x 'count(//testcase)' "$TMPD/j2.xml")" = 8 ] &&
     [ "$(x 'count(//testcase[@time and @timestamp and @classname])' "$TMPD/j2.xml")" = 8 ]; echo $?) \
    "JUnit: a test case per iteration, each with time and timestamp"
ok $([ "$(x 'string(/testsuite/properties/property[@name="seed"]/@value)' "$TMPD/j2.xml")" = 7 ] &&
     x 'string(/testsuite/properties/property[@name="reference-version"]/@value)' "$TMPD/j2.xml" | grep -q '^qemu-img version' &&
     x 'string(/testsuite/properties/property[@name="engine"]/@value)' "$TMPD/j2.xml" | grep -q 'wrong-rounding' &&
     [ "$(x 'string(/testsuite/@errors)' "$TMPD/j2.xml")" = 0 ]; echo $?) \
    "JUnit: suite properties (seed, engine, reference version) and errors"
nd=$(grep -c '"verdict":"divergence"' "$C/s2/stats.jsonl")
f=$(x 'count(//testcase/failure)' "$TMPD/j2.xml")
x 'string(//testcase/failure)' "$TMPD/j2.xml" >"$TMPD/failure.txt"
ok $([ "$f" = "$nd" ] && grep -q '^raw .*differs' "$TMPD/failure.txt" &&
     grep -q '^  resize info virtual-size: engine [0-9]*, reference [0-9]*$' "$TMPD/failure.txt" &&
     grep -q '^replay: instar-fuzz replay [0-9a-f]\{32\} --out ' "$TMPD/failure.txt"; echo $?) \
    "JUnit: a failure per divergence ($f) with title, differing fields and replay command"
nr=$(grep -c '"verdict":"refused"' "$C/s2/stats.jsonl")
s=$(x 'count(//testcase[properties/property[@name="verdict"]/@value="refused"]/skipped[starts-with(@message,"refused: ")])' "$TMPD/j2.xml")
ok $([ "$nr" -gt 0 ] && [ "$s" = "$nr" ] &&
     [ "$(x 'count(//testcase/skipped[starts-with(@message,"refused: ")][not(../properties/property[@name="whitelist"])])' "$TMPD/j2.xml")" = 0 ]; echo $?) \
    "JUnit: refused iterations skipped with their reason and whitelist rule ($s of $nr)"

done_testing
