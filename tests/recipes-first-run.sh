#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# recipes-first-run.sh -- a new user's first run of every recipe, as the
# README types it (recipes/resize-diff.scm --seed 42), in a fresh HOME and
# cache: no Guile auto-compilation notes, nothing compiled, because the
# recipes load only modules make compiled and run with --no-auto-compile.
# With `guile -s RECIPE' Guile itself compiles the recipe file before
# reading it (no file can prevent that); even then no module may be
# compiled.
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
export QEMU_IMG QEMU_IO

# In the source tree the recipes find the compiled modules themselves; in
# a separate build tree (distcheck) only pre-inst-env knows where they are.
if [ "$(cd "$abs_top_srcdir" && pwd -P)" = "$(cd "$abs_top_builddir" && pwd -P)" ]; then
    via=
else
    via="$abs_top_builddir/pre-inst-env"
fi

fresh() {  # fresh NAME: a new HOME with an empty cache
    mkdir -p "$TMPD/$1/home" "$TMPD/$1/cache"
}

for f in "$abs_top_srcdir"/recipes/*.scm; do
    r=$(basename "$f" .scm)
    case $r in load-paths|warm-cache) continue ;; esac
    fresh "$r"
    # From another directory, with no load path of ours in the environment.
    (cd "$TMPD" && env -u GUILE_AUTO_COMPILE -u GUILE_LOAD_PATH -u GUILE_LOAD_COMPILED_PATH \
        HOME="$TMPD/$r/home" XDG_CACHE_HOME="$TMPD/$r/cache" \
        $via "$f" --seed 42 --iterations 1 --out "$TMPD/$r/out" --tmpdir "$TMPD" -q \
        >"$TMPD/$r.log" 2>&1)
    rc=$?
    ok $([ $rc -eq 0 ] || [ $rc -eq 1 ]; echo $?) "$r runs as a program (exit $rc)"
    ! grep -q '^;;;' "$TMPD/$r.log"
    ok $? "$r: no Guile notes on a first run"
    [ -z "$(find "$TMPD/$r/cache" "$TMPD/$r/home" -name '*.go' 2>/dev/null)" ]
    ok $? "$r: nothing compiled on a first run"
    grep '^;;;' "$TMPD/$r.log" | head -3 | while read -r l; do diag "$l"; done
done

# guile -s, as the README types it: Guile looks for the recipe's compiled
# copy in its own cache, which make fills (recipes/warm-cache.scm).  In a
# fresh cache without it Guile compiles the recipe file, and nothing else.
fresh guile-s
run_guile_s() {  # run_guile_s NAME: guile -s resize-diff.scm --help in cache NAME
    (cd "$TMPD" && env -u GUILE_AUTO_COMPILE -u GUILE_LOAD_PATH -u GUILE_LOAD_COMPILED_PATH \
        HOME="$TMPD/$1/home" XDG_CACHE_HOME="$TMPD/$1/cache" \
        $via "${GUILE:-guile}" -s "$abs_top_srcdir/recipes/resize-diff.scm" --help \
        >"$TMPD/$1.log" 2>&1)
}
run_guile_s guile-s
ok $? "guile -s resize-diff.scm --help, cold cache"
gos=$(find "$TMPD/guile-s/cache" -name '*.go' | sed 's|.*/||')
[ "$gos" = resize-diff.scm.go ]
ok $? "guile -s, cold cache: no module compiled, only the recipe file (got: $(echo $gos))"

fresh warm
(env XDG_CACHE_HOME="$TMPD/warm/cache" HOME="$TMPD/warm/home" \
    "$abs_top_builddir/pre-inst-env" "${GUILE:-guile}" --no-auto-compile \
    "$abs_top_srcdir/recipes/warm-cache.scm" "$abs_top_srcdir/recipes/resize-diff.scm" \
    >"$TMPD/warm-make.log" 2>&1)
ok $? "warm-cache.scm compiles the recipe into the cache"
run_guile_s warm
ok $? "guile -s resize-diff.scm --help, cache warmed as make does"
! grep -q '^;;;' "$TMPD/warm.log"
ok $? "guile -s, warmed cache: no Guile notes"
grep '^;;;' "$TMPD/warm.log" | head -3 | while read -r l; do diag "$l"; done

done_testing
