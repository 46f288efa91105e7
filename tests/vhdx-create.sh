#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhdx-create.sh -- `instar-img create -f vhdx' against `qemu-img create -f
# vhdx' (7.2): the same exit class and message, the same `qemu-img info'
# (normalised: no filename, no actual-size), both `qemu-img check' clean,
# the same file length, and byte-identical region tables, log, BAT and
# metadata (everything but the random GUIDs, sequence numbers and creator).
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

norm_info() {  # the JSON without filename and actual-size lines
    "$QEMU_IMG" info --output=json "$1" | grep -v -e '"filename"' -e '"actual-size"'
}

u64_at() {  # u64_at FILE OFFSET: a little-endian u64 (od reads host order: x86)
    od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '
}

same_range() {  # same_range A B OFFSET LENGTH
    [ "$4" -le 0 ] && return 0
    dd if="$1" of="$TMPD/ra" iflag=skip_bytes,count_bytes skip="$3" count="$4" bs=1M status=none
    dd if="$2" of="$TMPD/rb" iflag=skip_bytes,count_bytes skip="$3" count="$4" bs=1M status=none
    cmp -s "$TMPD/ra" "$TMPD/rb"
}

case_create() {  # case_create SIZE OPTIONS
    size=$1 opts=$2
    rm -f "$TMPD/q.vhdx" "$TMPD/i.vhdx"
    if [ -n "$opts" ]; then set -- -o "$opts"; else set --; fi
    "$QEMU_IMG" create -q -f vhdx "$@" "$TMPD/q.vhdx" "$size" >/dev/null 2>"$TMPD/q.err"; qrc=$?
    "$INSTAR_IMG" create -q -f vhdx "$@" "$TMPD/i.vhdx" "$size" >/dev/null 2>"$TMPD/i.err"; irc=$?
    desc="create $size ${opts:-(defaults)}"
    if [ $qrc -ne 0 ]; then
        qmsg=$(sed 's/^qemu-img: [^:]*: //' "$TMPD/q.err" | head -n 1)
        ok $([ $irc -ne 0 ] && grep -qF -- "$qmsg" "$TMPD/i.err"; echo $?) \
           "$desc: both refuse with qemu's message ($qmsg)"
        [ $irc -ne 0 ] && grep -qF -- "$qmsg" "$TMPD/i.err" || diag "instar: $(cat "$TMPD/i.err")"
        return
    fi
    ok $irc "$desc: instar-img succeeds"
    [ $irc -eq 0 ] || { diag "$(cat "$TMPD/i.err")"; return; }
    norm_info "$TMPD/q.vhdx" > "$TMPD/q.info"
    norm_info "$TMPD/i.vhdx" > "$TMPD/i.info"
    ok $(cmp -s "$TMPD/q.info" "$TMPD/i.info"; echo $?) "$desc: same qemu-img info"
    cmp -s "$TMPD/q.info" "$TMPD/i.info" || diff "$TMPD/q.info" "$TMPD/i.info" | sed 's/^/# /'
    "$QEMU_IMG" check -q "$TMPD/i.vhdx" >/dev/null 2>&1
    ok $? "$desc: qemu-img check clean"
    qlen=$(stat -c %s "$TMPD/q.vhdx"); ilen=$(stat -c %s "$TMPD/i.vhdx")
    ok $([ "$qlen" = "$ilen" ]; echo $?) "$desc: same file length ($qlen / $ilen)"
    # Region tables at 192 KiB and 256 KiB: deterministic, so identical.
    ok $(same_range "$TMPD/q.vhdx" "$TMPD/i.vhdx" 196608 131072; echo $?) "$desc: same region tables"
    # From the log to the page-83 item, and after it up to the data area.
    meta=$(u64_at "$TMPD/q.vhdx" $((196608 + 64)))
    p83=$((meta + 65536 + 16))
    ok $( { same_range "$TMPD/q.vhdx" "$TMPD/i.vhdx" 1048576 $((p83 - 1048576)) &&
            same_range "$TMPD/q.vhdx" "$TMPD/i.vhdx" $((p83 + 16)) $((meta + 1048576 - p83 - 16)); }
          echo $?) "$desc: same log, BAT and metadata bytes"
}

for size in 0 1000 64M 1G 1073742336 20G 101G; do
    case_create "$size" ""
done
for opts in subformat=fixed subformat=dynamic block_size=1M block_size=512K block_size=2M \
            block_size=3M block_size=300M block_size=256M log_size=3M log_size=100K \
            block_state_zero=off "subformat=fixed,block_state_zero=off" \
            "subformat=fixed,block_size=1M,block_state_zero=off" subformat=foo \
            subformat=differencing preallocation=off preallocation=falloc \
            preallocation=full preallocation=metadata \
            "subformat=fixed,preallocation=full"; do
    case_create 20M "$opts"
done
case_create 1G "block_size=1M,block_state_zero=off"
case_create 33T ""
case_create 64T "block_size=256M"
case_create 65T ""
case_create 10M "subformat=fixed,block_size=4M,block_state_zero=off"

done_testing
