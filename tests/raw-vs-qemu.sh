#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# raw-vs-qemu.sh -- the raw engine side by side with qemu-img 7.2.
# Every case: the same start file twice, `qemu-img resize' on one copy and
# `instar-img resize' on the other; require the same exit class, the same
# file length and the same bytes (and, on refusal, the untouched original).
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

mkstart() {  # mkstart FILE SIZE: SIZE bytes, a recognisable head and tail
    : > "$1"
    if [ "$2" -gt 0 ]; then
        truncate -s "$2" "$1"
        printf 'HEAD-OF-IMAGE' | head -c "$2" | dd of="$1" conv=notrunc status=none
        if [ "$2" -gt 64 ]; then
            printf 'TAIL' | dd of="$1" bs=1 seek=$(($2 - 4)) conv=notrunc status=none
        fi
    fi
}

run_case() {  # run_case START END FLAGS...
    start=$1 end=$2; shift 2
    mkstart "$TMPD/orig" "$start"
    cp --sparse=always "$TMPD/orig" "$TMPD/q"
    cp --sparse=always "$TMPD/orig" "$TMPD/i"
    "$QEMU_IMG" resize -q -f raw "$@" "$TMPD/q" "$end" >/dev/null 2>"$TMPD/q.err"; qrc=$?
    "$INSTAR_IMG" resize -q -f raw "$@" "$TMPD/i" "$end" >/dev/null 2>"$TMPD/i.err"; irc=$?
    qsz=$(stat -c %s "$TMPD/q"); isz=$(stat -c %s "$TMPD/i")
    [ $qrc -eq 0 ] && qc=ok || qc=fail
    [ $irc -eq 0 ] && ic=ok || ic=fail
    desc="raw $start -> $end $*: qemu $qc/$qsz, instar $ic/$isz"
    same=1
    if [ "$qc" = "$ic" ] && [ "$qsz" = "$isz" ]; then
        # Compare the bytes only where that is cheap (sparse 2T files are
        # compared by length and the head/tail markers).
        if [ "$qsz" -le 67108864 ]; then
            cmp -s "$TMPD/q" "$TMPD/i" && same=0
        else
            [ "$(head -c 13 "$TMPD/q")" = "$(head -c 13 "$TMPD/i")" ] && same=0
        fi
    fi
    if [ $ic = fail ]; then
        cmp -s "$TMPD/orig" "$TMPD/i" || same=1
        desc="$desc (file untouched)"
    fi
    ok $same "$desc"
    if [ $same -ne 0 ]; then
        diag "qemu: $(cat "$TMPD/q.err")" "instar: $(cat "$TMPD/i.err")"
    fi
}

small_ends="1 100 511 512 513 4095 4096 5000 1M +0 -0 +1 +513 -1 -513 +1M -1M 1.5M 0x2000 -+1K 0 16M"
big_ends="2T 8E 16E 9223372036854775807 9223372035781033984 +9223372036854775807 junk 1e6 +-1M"

for start in 0 1 513 4096 1048576; do
    for end in $small_ends; do
        for flags in "" "--shrink" "--preallocation=falloc" "--preallocation=full" \
                     "--preallocation=metadata" "--shrink --preallocation=falloc"; do
            # shellcheck disable=SC2086
            run_case "$start" "$end" $flags
        done
    done
    for end in $big_ends; do
        run_case "$start" "$end"
        run_case "$start" "$end" --shrink
    done
done

done_testing
