#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-recipes.sh -- create-diff and resize-consistency run end to end.
# qemu-img as the "engine": create-diff must match itself; qemu-img
# refuses every vpc/vhdx/vmdk resize, and resize-consistency must call
# that what it is: an engine refusing cases the manual lists as
# supported (a refusal is a verdict, not a pass).  A wrong engine that does
# resize must be caught by the reader oracle; a child that times out
# makes its iteration inconclusive, never a finding.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup

"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/create-diff.scm" --instar "$QEMU_IMG" --seed 3 \
    --iterations 10 --out "$TMPD/c" --tmpdir "$TMPD" -q >"$TMPD/c.log" 2>&1
ok $? "create-diff: qemu-img against itself exits 0"
grep -q 'verdicts: 10 match, 0 divergence' "$TMPD/c.log"
ok $? "create-diff: 10 matches over raw, qcow2, vpc, vhdx, vmdk"

"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/resize-consistency.scm" --instar "$QEMU_IMG" --seed 3 \
    --iterations 6 --out "$TMPD/r" --tmpdir "$TMPD" -q >"$TMPD/r.log" 2>&1
ok $([ $? -eq 1 ]; echo $?) "resize-consistency: an engine refusing supported resizes is a finding (exit 1)"
grep -q 'verdicts: 0 match, 6 divergence' "$TMPD/r.log"
ok $? "resize-consistency: every refusal judged"
grep -q 'op=resize|refusal:supported' "$TMPD/r.log" && grep -q 'unexpected refusal of a supported case' "$TMPD/r.log"
ok $? "resize-consistency: one finding, titled as an unexpected refusal"

# A resizer that resizes vpc/vhdx/vmdk (by converting through raw) but
# zeroes the first 4 KiB: the reader oracle must see lost data.
cat > "$TMPD/via-raw" <<'EOS'
#!/bin/sh
# Resize any format by converting to raw, resizing, converting back;
# then zero the first 4 KiB (the deliberate bug).
cmd=$1 fmt= file= last= prev=
for a in "$@"; do [ "$prev" = -f ] && fmt=$a; file=$last last=$a prev=$a; done
[ "$cmd" = resize ] || exec "$QEMU_IMG" "$@"
t=$(mktemp -d) || exit 1
"$QEMU_IMG" convert -f "$fmt" -O raw "$file" "$t/r" &&
"$QEMU_IMG" resize -q -f raw --shrink "$t/r" "$last" &&
"$QEMU_IO" -f raw -c "write -z 0 4k" "$t/r" >/dev/null &&
"$QEMU_IMG" convert -f raw -O "$fmt" "$t/r" "$file"; rc=$?
rm -rf "$t"; exit $rc
EOS
chmod +x "$TMPD/via-raw"
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/resize-consistency.scm" --instar "$TMPD/via-raw" \
    --seed 3 --iterations 4 --formats vhdx,vmdk --out "$TMPD/w" --tmpdir "$TMPD" \
    --reduce-time 2 -q >"$TMPD/w.log" 2>&1
ok $([ $? -eq 1 ]; echo $?) "resize-consistency: lost data is a finding (exit 1)"
grep -q 'data:kept-and-zero' "$TMPD/w.log"
ok $? "resize-consistency: the data oracle names it"

# A child that outlives --timeout is killed and its iteration is
# inconclusive: never a finding.
cat > "$TMPD/slow" <<'EOS'
#!/bin/sh
[ "$1" = resize ] && sleep 5
exec "$QEMU_IMG" "$@"
EOS
chmod +x "$TMPD/slow"
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/resize-diff.scm" \
    --instar "$TMPD/slow" --timeout 1 --seed 3 --iterations 2 --formats raw \
    --out "$TMPD/t" --tmpdir "$TMPD" -q >"$TMPD/t.log" 2>&1
ok $? "timeouts: exit 0, no finding"
grep -q 'verdicts: 0 match, 0 divergence, 0 known, 2 inconclusive' "$TMPD/t.log"
ok $? "timeouts: both iterations inconclusive"
grep -q 'inconclusive: 2 x resize on engine: timeout' "$TMPD/t.log"
ok $? "timeouts: the reason is reported"

done_testing
