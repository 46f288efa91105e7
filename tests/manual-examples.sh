#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# manual-examples.sh -- the worked examples of the manual's "Writing
# recipes" chapter (doc/writing-recipes.texi, each between
# `@c example-begin FILE' and `@c example-end') are extracted from the
# Texinfo source and run as recipes, a few iterations each, so they
# cannot rot.
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
export QEMU_IMG QEMU_IO
texi="$abs_top_srcdir/doc/writing-recipes.texi"

# Lines between the markers, without @example / @end example, with the
# Texinfo escapes @@ @{ @} undone.
awk -v dir="$TMPD" '
    /^@c example-begin / { out = dir "/" $3; n++; next }
    /^@c example-end/ { close(out); out = ""; next }
    out != "" && !/^@(end )?example$/ {
        gsub(/@@/, "\001"); gsub(/@\{/, "{"); gsub(/@\}/, "}"); gsub(/\001/, "@")
        print > out
    }
    END { print n > (dir "/count") }' "$texi"
ok $([ "$(cat "$TMPD/count")" -eq 3 ]; echo $?) "three examples in the chapter"

run() {  # run FILE ARGS...: the recipe through instar-fuzz run
    f=$1; shift
    "$abs_top_builddir/pre-inst-env" instar-fuzz run "$TMPD/$f" --seed 5 --iterations 4 \
        --out "$TMPD/out-$f" --tmpdir "$TMPD" --reduce-time 0 -q "$@" >"$TMPD/$f.log" 2>&1
}
show() { sed 's/^/# /' "$TMPD/$1.log" | head -20; }
check() {  # check STATUS DESCRIPTION LOG: ok, and the log on failure
    ok "$1" "$2"
    [ "$1" -eq 0 ] || show "$3"
}

run small-clusters.scm
check $? "small-clusters.scm: runs, no finding" small-clusters.scm
grep -q 'verdicts: 4 match, 0 divergence' "$TMPD/small-clusters.scm.log"
ok $? "small-clusters.scm: every small-cluster grow matches qemu-img"

run shrink-rule.scm
check $? "shrink-rule.scm: runs, no finding" shrink-rule.scm
grep -q 'verdicts: 0 match, 0 divergence, 0 known, 0 inconclusive, 4 refused' \
    "$TMPD/shrink-rule.scm.log" &&
    grep -q 'whitelist refuses-raw-shrink-without-flag: 4 hits' "$TMPD/shrink-rule.scm.log"
ok $? "shrink-rule.scm: each refusal counted under the rule"

run kept-oracle.scm
check $? "kept-oracle.scm: runs, no finding" kept-oracle.scm
grep -q 'verdicts: .* 0 divergence' "$TMPD/kept-oracle.scm.log"
ok $? "kept-oracle.scm: no divergence against qemu-img"

# The extra oracle is live: an engine that zeroes the first 4 KiB after
# every resize loses the pattern, and the kept oracle names it.
cat > "$TMPD/zeroing" <<EOS
#!/bin/sh
"$QEMU_IMG" "\$@" || exit \$?
[ "\$1" = resize ] || exit 0
fmt=raw p= prev= last=
for a in "\$@"; do [ "\$p" = -f ] && fmt=\$a; p=\$a; prev=\$last; last=\$a; done
"$QEMU_IO" -f "\$fmt" -c 'write -z 0 4096' "\$prev" >/dev/null
EOS
chmod +x "$TMPD/zeroing"
run kept-oracle.scm --instar "$TMPD/zeroing"
ok $([ $? -eq 1 ]; echo $?) "kept-oracle.scm: an engine that loses data is a finding"
grep -q 'kept:engine' "$TMPD/kept-oracle.scm.log"
check $? "kept-oracle.scm: the finding is the kept oracle's" kept-oracle.scm

done_testing
