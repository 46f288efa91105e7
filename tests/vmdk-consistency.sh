#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vmdk-consistency.sh -- the VMDK consistency oracle.  qemu-img 7.2 cannot
# resize VMDK, so qemu is the independent *reader*: start images made by
# qemu-img and by instar-img get known patterns (qemu-io), are grown by
# instar-img, and must then report the new size, check clean, keep the old
# data, read zeros in the new range and take new writes far past the old
# end (a grain-directory entry of 0 would make that write land on the
# header).  Every crash prefix of a plan must leave an image qemu opens, and
# hostile images must be refused with the file left byte-identical.
. "$abs_top_srcdir/tests/lib.sh"
require_tools instar-img qemu-img qemu-io apply-prefix
SYNTH="$abs_top_builddir/tests/tools/vmdk-synth"
require "$SYNTH" vmdk-synth
qemu_reads vmdk

magic_ok() { [ "$(head -c 4 "$1")" = KDMV ]; }

# round_up N to 512 (qemu-img create and our resize round sizes to sectors)
num() {  # num 1M -> 1048576 (K M G T suffixes)
    case $1 in
    *K) echo $(( ${1%K} * 1024 )) ;;
    *M) echo $(( ${1%M} * 1048576 )) ;;
    *G) echo $(( ${1%G} * 1073741824 )) ;;
    *T) echo $(( ${1%T} * 1099511627776 )) ;;
    *) echo "$1" ;;
    esac
}
sect() { n=$(num "$1"); echo $(( (n + 511) / 512 * 512 )); }

# The start sizes and end sizes: within the last grain table, new tables
# with the directory grown in place, directory relocated, unaligned
# capacities (last grain partly used), one-sector grows.
MATRIX="1M:2M 1000000:100M 33M:64M 1G:2G 1G:5G 100M:4295000000 4G:4294967808 65536:1T"

run_case() {  # run_case CREATOR START END
    who=$1 start=$2 end=$3
    f="$TMPD/$who-$start-$end.vmdk"
    if [ "$who" = qemu ]; then
        "$QEMU_IMG" create -q -f vmdk "$f" "$start" >/dev/null 2>&1
    elif [ "${who%%:*}" = synth ]; then   # synth:GRAIN:GTES[:norgd]
        set -- $(echo "$who" | tr ':' ' ')
        "$SYNTH" "$f" "$(num "$start")" "$2" "$3" ${4:-}
    elif [ "$who" = qemu-zeroed-lsilogic ]; then
        "$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on,adapter_type=lsilogic "$f" "$start" \
            >/dev/null 2>&1
    else
        "$INSTAR_IMG" create -q -f vmdk "$f" "$start" >/dev/null 2>&1
    fi
    old=$(sect "$start")
    new=$(sect "$end")
    desc="$who $start -> $end"
    # Patterns: the first 4 KiB, a middle chunk, the last sector of the old
    # capacity (in its last, possibly partial grain).
    mid=$(( old / 2 / 512 * 512 ))
    last=$(( old - 512 ))
    qio "$f" "write -P 0x11 0 4k" "write -P 0x22 $mid 512" "write -P 0x33 $last 512"
    ok $? "$desc: patterns written"
    "$INSTAR_IMG" resize -q -f vmdk "$f" "$end" 2>"$TMPD/err"
    ok $? "$desc: instar-img resize succeeds $(head -c 200 "$TMPD/err")"
    [ "$(vsize "$f")" = "$new" ]
    ok $? "$desc: qemu-img info shows $new bytes (got $(vsize "$f"))"
    checks_clean "$f"
    ok $? "$desc: qemu-img check clean after resize"
    qio "$f" "read -P 0x11 0 4k" "read -P 0x22 $mid 512" "read -P 0x33 $last 512"
    ok $? "$desc: old content unchanged"
    # New range: just past the old end, the middle, the very last sector.
    nmid=$(( (old + new) / 2 / 512 * 512 ))
    nlast=$(( new - 512 ))
    qio "$f" "read -P 0 $old 512" "read -P 0 $nmid 512" "read -P 0 $nlast 512"
    ok $? "$desc: new range reads as zeros"
    [ "$nmid" -lt "$nlast" ] || nmid=$old
    pm=0x6b
    [ "$nmid" -lt "$nlast" ] || pm=0x5a   # a one-sector grow: one new sector only
    qio "$f" "write -P 0x6b $nmid 512" "write -P 0x5a $nlast 512" \
        "read -P 0x5a $nlast 512" "read -P $pm $nmid 512" "read -P 0x11 0 4k" \
        "read -P 0x33 $last 512"
    ok $? "$desc: writes far past the old end read back, old data intact"
    magic_ok "$f" && [ "$(vsize "$f")" = "$new" ] && checks_clean "$f"
    ok $? "$desc: header intact and image clean after the new writes"
    # The whole disk against a raw reference given the same writes: every
    # other byte of the old and the new range must be zero.  (qemu-img
    # compare walks the disk: ~30 s at 1T, so only up to 8 GiB.)
    [ "$new" -le 8589934592 ] || return 0
    ref="$TMPD/ref.raw"
    rm -f "$ref"
    truncate -s "$new" "$ref"
    "$QEMU_IO" -f raw -c "write -P 0x11 0 4k" -c "write -P 0x22 $mid 512" \
        -c "write -P 0x33 $last 512" -c "write -P 0x6b $nmid 512" \
        -c "write -P 0x5a $nlast 512" "$ref" >/dev/null 2>&1
    "$QEMU_IMG" compare -q -f vmdk -F raw "$f" "$ref" >/dev/null 2>&1
    ok $? "$desc: qemu-img compare: the whole disk equals the raw reference"
    rm -f "$ref"
}

for pair in $MATRIX; do
    for who in qemu instar; do
        run_case "$who" "${pair%%:*}" "${pair#*:}"
    done
done

# Layouts qemu-img never writes (tests/tools/vmdk-synth: GD before RGD,
# tables in reverse order, 4-sector descriptor with a ddb.uuid): other
# grain sizes, other table sizes, no redundant directory.
run_case synth:16:128 50000000 300M           # 8 KiB grains, 1 MiB per table: relocation
run_case synth:256:64 50000000 1G             # 128 KiB grains, 64-entry tables
run_case synth:8:512:norgd 50000000 2G        # no redundant directory
run_case synth:2048:16 50000000 3G            # 1 MiB grains, one-sector tables

# zeroed-grain (version 2) images with another geometry
run_case qemu-zeroed-lsilogic 1000000 3G
run_case qemu-zeroed-lsilogic 2G 2200M

# zeroed-grain entries (GTE 1: qemu writes them for a whole-grain write -z
# on a zeroed_grain image) survive a grow and still read as zeros.
f="$TMPD/zg.vmdk"
"$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on "$f" 1000000
qio "$f" "write -P 0x31 0 64k" "write -P 0x39 64k 64k" "write -z 64k 64k" >/dev/null
gte1() { gd=$(od -An -t u8 -j 56 -N 8 "$f"); gt=$(od -An -t u4 -j $((gd * 512)) -N 4 "$f")
         od -An -t u4 -j $((gt * 512 + 4)) -N 4 "$f" | tr -d ' '; }
[ "$(gte1)" = 1 ]
ok $? "zeroed_grain: qemu wrote a zeroed-grain entry (GTE 1) for grain 1"
"$INSTAR_IMG" resize -q -f vmdk "$f" 70M \
    && [ "$(gte1)" = 1 ] \
    && qio "$f" "read -P 0x31 0 64k" "read -P 0 64k 64k" "read -P 0 1000448 512" \
           "write -P 0x32 73399808 512" "read -P 0x32 73399808 512" \
    && checks_clean "$f"
ok $? "zeroed_grain image grows; the zeroed-grain entry stays and reads as zeros"

# ---- a chain of grows: a relocated directory grows in place, then moves
# again; the data written at every step stays. ----
f="$TMPD/chain.vmdk"
"$QEMU_IMG" create -q -f vmdk "$f" 100M
qio "$f" "write -P 0x01 0 64k" "write -P 0x02 104792064 64k" >/dev/null
written=""
good=0
for step in 5G:0x03 5200M:0x04 +1:0x05 20G:0x06 1T:0x07; do
    sz=${step%%:*} pat=${step#*:}
    "$INSTAR_IMG" resize -q -f vmdk "$f" "$sz" 2>"$TMPD/err" || good=1
    v=$(vsize "$f")
    qio "$f" "write -P $pat $(( v - 512 )) 512" "read -P $pat $(( v - 512 )) 512" \
        "read -P 0x01 0 64k" "read -P 0x02 104792064 64k" || good=1
    written="$written $pat@$(( v - 512 ))"
    for w in $written; do       # every earlier step's data, still there
        case $w in
        "$pat@"*) ;;
        *) qio "$f" "read -P ${w%@*} ${w#*@} 512" || good=1 ;;
        esac
    done
    checks_clean "$f" || good=1
done
[ "$(vsize "$f")" = 1099511627776 ]
ok $(( good + $? )) "chain 100M -> 5G -> 5200M -> +1 -> 20G -> 1T: data of every step intact, clean"

# ---- shrink (with --shrink): the data below the new end stays, the new
# end takes writes, and growing back never resurrects the old data. ----
shrink_case() {  # shrink_case CREATOR START END
    who=$1 start=$2 end=$3
    f="$TMPD/shrink.vmdk"
    rm -f "$f"
    create_by "$who" -q -f vmdk "$f" "$start" >/dev/null
    old=$(sect "$start") new=$(sect "$end")
    d="$who shrink $start -> $end"
    qio "$f" "write -P 0x41 0 4k" "write -P 0x42 $(( new - 512 )) 512" \
        "write -P 0x43 $new 64k" "write -P 0x44 $(( old - 512 )) 512" >/dev/null
    "$INSTAR_IMG" resize -q -f vmdk --shrink "$f" "$end" 2>"$TMPD/err"
    ok $? "$d: succeeds $(head -c 160 "$TMPD/err")"
    [ "$(vsize "$f")" = "$new" ] && checks_clean "$f" \
        && qio "$f" "read -P 0x41 0 4k" "read -P 0x42 $(( new - 512 )) 512" \
               "write -P 0x45 $(( new - 512 )) 512" "read -P 0x45 $(( new - 512 )) 512" \
        && checks_clean "$f"
    ok $? "$d: new size, clean, data below the end intact, last sector writable"
    "$INSTAR_IMG" resize -q -f vmdk "$f" "$start" 2>"$TMPD/err" \
        && [ "$(vsize "$f")" = "$old" ] && checks_clean "$f" \
        && qio "$f" "read -P 0x41 0 4k" "read -P 0x45 $(( new - 512 )) 512" \
               "read -P 0 $new 64k" "read -P 0 $(( old - 512 )) 512" \
               "write -P 0x46 $(( old - 512 )) 512" "read -P 0x46 $(( old - 512 )) 512" \
        && checks_clean "$f"
    ok $? "$d, then grow back to $start: the dropped range reads as zeros (nothing resurrected)"
    ref="$TMPD/ref.raw"
    rm -f "$ref"
    truncate -s "$old" "$ref"
    "$QEMU_IO" -f raw -c "write -P 0x41 0 4k" -c "write -P 0x45 $(( new - 512 )) 512" \
        -c "write -P 0x46 $(( old - 512 )) 512" "$ref" >/dev/null 2>&1
    "$QEMU_IMG" compare -q -f vmdk -F raw "$f" "$ref" >/dev/null 2>&1
    ok $? "$d and back: qemu-img compare: the whole disk equals the raw reference"
    rm -f "$ref"
}
shrink_case qemu 1G 100M             # whole tables dropped
shrink_case instar 5G 1000000         # to an unaligned size: a partial grain
shrink_case qemu 100M 99M             # inside the last table

# ---- crash prefixes: every prefix of a plan leaves an image qemu opens,
# with the old data in place and one of the two sizes. ----
crash_case() {  # crash_case START END [--shrink]
    start=$1 end=$2 flag=${3:-}
    base="$TMPD/crash-base.vmdk"
    "$QEMU_IMG" create -q -f vmdk "$base" "$start"
    old=$(sect "$start")
    last=$(( old - 512 ))
    qio "$base" "write -P 0x44 0 64k" "write -P 0x55 $last 512" >/dev/null
    n=$("$PREFIX" -f vmdk $flag "$base" "$end")
    [ -n "$n" ] && [ "$n" -gt 0 ]
    ok $? "crash $start -> $end: the plan has $n patches"
    k=0
    while [ "$k" -le "${n:-0}" ]; do
        c="$TMPD/crash.vmdk"
        cp --sparse=always "$base" "$c"
        "$PREFIX" -f vmdk $flag "$c" "$end" "$k" >/dev/null
        r=$?
        sz=$(vsize "$c")
        keep=$last                  # the old last sector, while it is in range
        [ "${sz:-0}" -gt "$last" ] || keep=0
        pk=0x55
        [ "$keep" -gt 0 ] || pk=0x44
        good=1
        if [ $r -eq 0 ] && checks_clean "$c" && magic_ok "$c" \
           && { [ "$sz" = "$old" ] || [ "$sz" = "$(sect "$end")" ]; } \
           && qio "$c" "read -P 0x44 0 64k" "read -P $pk $keep 512" \
                  "write -P 0x66 $(( sz - 512 )) 512" "read -P 0x66 $(( sz - 512 )) 512" \
           && checks_clean "$c" && magic_ok "$c"; then
            good=0
        fi
        ok $good "crash $start -> $end after $k of $n patches: opens ($sz bytes), checks clean, data intact, writable"
        k=$((k + 1))
    done
}
crash_case 1000000 100M    # unaligned capacity, directory grows in place
crash_case 1G 5G           # directory and redundant directory relocated
crash_case 33M 64M         # last table partly used, one new table
crash_case 1G 1000000 --shrink

# ---- hostile inputs: refused with a message, file byte-identical ----
poke() {  # poke FILE OFFSET HEXBYTES
    printf '%08x: %s\n' "$2" "$3" | xxd -r - "$1"
}
GOOD="$TMPD/good.vmdk"
"$QEMU_IMG" create -q -f vmdk "$GOOD" 1G
qio "$GOOD" "write -P 0x77 0 64k" >/dev/null

hostile() {  # hostile DESC EXPECTED-SUBSTRING FILE SIZE [resize flags...]
    d=$1 want=$2 f=$3 size=$4; shift 4
    cp "$f" "$TMPD/before"
    "$INSTAR_IMG" resize -q -f vmdk "$@" "$f" "$size" 2>"$TMPD/err" >/dev/null
    r=$?
    good=1
    if [ $r -ne 0 ] && cmp -s "$f" "$TMPD/before" && grep -qi -- "$want" "$TMPD/err"; then
        good=0
    fi
    ok $good "hostile: $d refused ($(head -c 160 "$TMPD/err" | tr '\n' ' ')), file untouched"
}
mk() { cp "$GOOD" "$TMPD/h.vmdk"; echo "$TMPD/h.vmdk"; }

h=$(mk); poke "$h" 0 "58444d56";            hostile "bad magic" "magic" "$h" 2G
h=$(mk); truncate -s 100 "$h";              hostile "file shorter than a header" "truncated" "$h" 2G
h=$(mk); truncate -s 100000 "$h";           hostile "file cut before overHead" "truncated" "$h" 2G
h=$(mk); poke "$h" 73 "0a200a0a";           hostile "bad newline check bytes" "newline" "$h" 2G
h=$(mk); poke "$h" 72 "01";                 hostile "unclean shutdown flag" "unclean" "$h" 2G
h=$(mk); poke "$h" 20 "0300000000000000";   hostile "grain of 3 sectors" "grain size" "$h" 2G
h=$(mk); poke "$h" 20 "0000000001000000";   hostile "grain of 2^56 sectors" "grain size" "$h" 2G
h=$(mk); poke "$h" 44 "00000000";           hostile "0 entries per grain table" "grain-table" "$h" 2G
h=$(mk); poke "$h" 12 "f0ffffffffffffff";   hostile "capacity near 2^64" "overflow" "$h" +1M
h=$(mk); poke "$h" 12 "0000000000000002";   hostile "capacity 2^57 sectors" "overflow" "$h" +1M
h=$(mk); poke "$h" 12 "0000000000010000";   hostile "capacity 2^40 sectors (16 Mi-entry GD past EOF)" "grain directory outside" "$h" +1M
h=$(mk); poke "$h" 12 "0000000000000100";   hostile "capacity 2^48 sectors (GD above qemu's limit)" "larger than qemu opens" "$h" +1M
h=$(mk); poke "$h" 56 "ffffffffffff0000";   hostile "grain directory far past EOF" "outside" "$h" 2G
h=$(mk); poke "$h" 28 "0000000000000010";   hostile "descriptor past EOF" "descriptor" "$h" 2G
h=$(mk); poke "$h" $((150 * 512 + 4)) "00000000"; hostile "a grain-directory entry of 0" "grain-directory entry 1 is 0" "$h" 2G
h=$(mk); poke "$h" $((21 * 512 + 8)) "00000000"; hostile "a redundant-directory entry of 0" "redundant grain-directory entry 2 is 0" "$h" 2G
h=$(mk); poke "$h" $((150 * 512)) "ffffff7f"; hostile "a grain table past EOF" "outside the file" "$h" 2G
h=$(mk); poke "$h" 8 "03000100";            hostile "compressed-grain flag" "streamOptimized" "$h" 2G
h=$(mk); poke "$h" 8 "03008000";            hostile "unknown header flag" "unknown" "$h" 2G
h=$(mk);                                    hostile "shrink without --shrink" "--shrink" "$h" 512M
h=$(mk);                                    hostile "preallocation=falloc" "preallocation" "$h" 2G --preallocation=falloc
h=$(mk);                                    hostile "preallocation=full" "preallocation" "$h" 2G --preallocation=full
h=$(mk);                                    hostile "grow past qemu's 32 Mi directory entries" "32 Mi" "$h" 1125899906843136
h=$(mk); sed -i 's/createType="monolithicSparse"/createType="vmfsSparse"      /' "$h"
                                            hostile "descriptor createType vmfsSparse" "monolithicSparse" "$h" 2G
# A resize interrupted after its header commit leaves a stale extent line:
# the next resize repairs it.
h=$(mk); sed -i 's/RW 2097152 SPARSE/RW 1048576 SPARSE/' "$h"
"$INSTAR_IMG" resize -q -f vmdk "$h" 3G 2>"$TMPD/err" >/dev/null \
    && grep -aq '^RW 6291456 SPARSE' "$h" && [ "$(vsize "$h")" = 3221225472 ] && checks_clean "$h"
ok $? "a stale extent line (interrupted resize) is repaired by the next grow"
h=$(mk); sed -i 's/^CID=/XID=/' "$h";       hostile "descriptor without CID" "CID" "$h" 2G
# A relocated image (tables at the end of the file) cut short.
h="$TMPD/reloc.vmdk"
"$QEMU_IMG" create -q -f vmdk "$h" 1G
"$INSTAR_IMG" resize -q -f vmdk "$h" 5G
truncate -s -64K "$h"
hostile "grain tables cut off by truncation" "outside the file" "$h" 6G
"$QEMU_IMG" create -q -f vmdk -o subformat=streamOptimized "$TMPD/s.vmdk" 1G
hostile "streamOptimized image" "streamOptimized" "$TMPD/s.vmdk" 2G
"$QEMU_IMG" create -q -f vmdk -o subformat=monolithicFlat "$TMPD/f.vmdk" 1M
hostile "monolithicFlat descriptor file" "descriptor file" "$TMPD/f.vmdk" 2M
cp "$TMPD/f.vmdk" "$TMPD/before"
"$INSTAR_IMG" resize -q "$TMPD/f.vmdk" 2M 2>"$TMPD/err" >/dev/null
r=$?
[ $r -ne 0 ] && cmp -s "$TMPD/f.vmdk" "$TMPD/before" && grep -q "descriptor file" "$TMPD/err"
ok $? "probing: a descriptor file is VMDK (not raw) and is refused untouched"
"$QEMU_IMG" create -q -f vmdk "$TMPD/base.vmdk" 1G
"$QEMU_IMG" create -q -f vmdk -b "$TMPD/base.vmdk" -F vmdk "$TMPD/child.vmdk" >/dev/null
hostile "image with a parent" "parent" "$TMPD/child.vmdk" 2G
# A parentCID alone names a parent (the VMDK spec: the parent's CID,
# ffffffff for none): the hint line hidden as a comment, length kept.
cp "$TMPD/child.vmdk" "$TMPD/cid-only.vmdk"
sed -i 's/^parentFileNameHint=/#arentFileNameHint=/' "$TMPD/cid-only.vmdk"
grep -aq '^#arentFileNameHint=' "$TMPD/cid-only.vmdk" && grep -aq '^parentCID=[0-9a-f]' "$TMPD/cid-only.vmdk" \
    && ! grep -aq '^parentCID=ffffffff' "$TMPD/cid-only.vmdk"
ok $? "the parentCID-only image has no parentFileNameHint line and a parentCID"
hostile "a parentCID without parentFileNameHint" "parent" "$TMPD/cid-only.vmdk" 2G

done_testing
