#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-vs-qemu.sh -- wall time and peak memory of `instar-img resize' and
# `qemu-img resize' on the same qcow2 images, as JSON lines with ratios
# (qemu / instar: above 1 means instar is faster or smaller), then qcow2
# creates per second in memory (tests/tools/create-rate).
#
# Environment: INSTAR_IMG, QEMU_IMG, QEMU_IO, CREATE_RATE (paths).
# Wall time from the nanosecond clock around each run; peak RSS from GNU
# time's %M.  Each resize runs on a fresh copy of the same start image;
# the cheap grows take the fastest of 5 runs, the slow shrinks run once.
set -u
I=${INSTAR_IMG:?INSTAR_IMG must name instar-img}
Q=${QEMU_IMG:-qemu-img}
QIO=${QEMU_IO:-qemu-io}
GNU_TIME=/usr/bin/time

say() { printf '{"bench": "qcow2-vs-qemu", %s}\n' "$1"; }

if ! [ -x "$GNU_TIME" ]; then
    say '"error": "GNU time (/usr/bin/time, Debian package time) is missing"'
    exit 0
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/instar-bench.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT

# measure CMD...: sets secs, kb and mrc for one run of CMD.
measure() {
    t0=$(date +%s%N)
    "$GNU_TIME" -f '%M' -o "$D/time.out" "$@" >/dev/null 2>"$D/cmd.err"
    mrc=$?
    t1=$(date +%s%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
    kb=$(tail -n 1 "$D/time.out")
}

# best TOOL END REPS FLAGS...: the fastest of REPS runs of TOOL's resize on
# fresh copies of $D/start into $D/out; sets bs, bkb, brc, berr.
best() {
    tool=$1 bend=$2 left=$3; shift 3
    bs= bkb=0 brc=0
    while [ "$left" -gt 0 ]; do
        cp --sparse=always "$D/start" "$D/out"
        measure "$tool" resize -q -f qcow2 "$@" "$D/out" "$bend"
        [ "$mrc" -ne 0 ] && brc=$mrc
        if [ -z "$bs" ] || awk -v a="$secs" -v b="$bs" 'BEGIN { exit !(a < b) }'; then bs=$secs; fi
        [ "$kb" -gt "$bkb" ] && bkb=$kb
        left=$((left - 1))
    done
    berr=$(head -n 1 "$D/cmd.err" | tr -d '"\\')
}

# bench_case NAME END REPS FLAGS...: both tools on copies of $D/start
# (fastest of REPS runs each; peak memory the largest seen).
bench_case() {
    name=$1 end=$2 reps=$3; shift 3
    best "$Q" "$end" "$reps" "$@"
    qs=$bs qkb=$bkb qrc=$brc qerr=$berr
    mv "$D/out" "$D/q"
    best "$I" "$end" "$reps" "$@"
    is=$bs ikb=$bkb irc=$brc ierr=$berr
    mv "$D/out" "$D/i"
    if [ "$qrc" -ne 0 ] || [ "$irc" -ne 0 ]; then
        say "\"case\": \"$name\", \"qemu_rc\": $qrc, \"instar_rc\": $irc, \"qemu_error\": \"$qerr\", \"instar_error\": \"$ierr\""
        return
    fi
    if "$Q" check -q -f qcow2 "$D/i" >/dev/null 2>&1; then chk=clean; else chk=NOT-CLEAN; fi
    awk -v n="$name" -v qs="$qs" -v is="$is" -v qk="$qkb" -v ik="$ikb" -v c="$chk" \
        -v qf="$(stat -c %s "$D/q")" -v if_="$(stat -c %s "$D/i")" 'BEGIN {
        printf "{\"bench\": \"qcow2-vs-qemu\", \"case\": \"%s\", \"instar_s\": %.4f, " \
               "\"qemu_s\": %.4f, \"time_ratio\": %.1f, \"instar_kb\": %d, \"qemu_kb\": %d, " \
               "\"mem_ratio\": %.2f, \"instar_file\": %d, \"qemu_file\": %d, \"instar_check\": \"%s\"}\n",
               n, is, qs, (is > 0 ? qs / is : 0), ik, qk, (ik > 0 ? qk / ik : 0), if_, qf, c }'
}

"$Q" create -q -f qcow2 "$D/start" 16M
bench_case grow-16M-to-1G 1G 5

"$Q" create -q -f qcow2 "$D/start" 1T
bench_case grow-1T-to-2T 2T 5

# 1 TiB with data spread over it (head, middle, end), shrunk to 1 GiB.
"$Q" create -q -f qcow2 "$D/start" 1T
for off in 0 16M 100G 512G 1073741758464; do
    "$QIO" -f qcow2 -c "write -q -P 0xa5 $off 64k" "$D/start" >/dev/null 2>&1
done
bench_case shrink-1T-data-to-1G 1G 1 --shrink

"$Q" create -q -f qcow2 "$D/start" 2T
bench_case shrink-2T-to-1G 1G 1 --shrink

rm -f "$D/start" "$D/q" "$D/i"
if [ -n "${CREATE_RATE:-}" ] && [ -x "$CREATE_RATE" ]; then
    "$CREATE_RATE"
fi
