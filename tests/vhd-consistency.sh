#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhd-consistency.sh -- the VHD (vpc) consistency oracle.  qemu-img 7.2
# cannot resize vpc images, so qemu is the independent *reader*: every
# image instar-img grows must show the size qemu-img create would give for
# that request (same creator semantics), keep the old data, read zeros in
# the new range and take new writes there.  Every crash prefix of a plan
# must leave an image qemu opens with the old data intact; hostile images
# must be refused with the file byte-identical.
. "$abs_top_srcdir/tests/lib.sh"
require_tools instar-img qemu-img qemu-io apply-prefix
qemu_reads vpc

K64=65536

mk() {  # mk CREATOR SUB FORCE FILE SIZE
    create_by "$1" -q -f vpc -o "subformat=$2,force_size=$3" "$4" "$5"
}

expected() {  # expected FORCE SIZE: what qemu-img create stores for SIZE
    "$QEMU_IMG" create -q -f vpc -o "force_size=$1" "$TMPD/exp.vhd" "$2" >/dev/null 2>&1 &&
        vsize "$TMPD/exp.vhd"
    rm -f "$TMPD/exp.vhd"
}

# Known patterns: the first and the last 64 KiB of the old disk.
fill() {  # fill FILE OLD
    qio "$1" "write -P 0x5a 0 $K64" "write -P 0xa5 $(($2 - K64)) $K64"
}
old_ok() {  # old_ok FILE OLD
    qio "$1" "read -P 0x5a 0 $K64" "read -P 0xa5 $(($2 - K64)) $K64"
}

run_case() {  # run_case CREATOR SUB FORCE START END WRITE
    cr=$1 sub=$2 force=$3 start=$4 end=$5 wr=$6
    desc="$cr $sub force_size=$force $start -> $end (data: $wr)"
    rm -f "$TMPD/s.vhd"
    if ! mk "$cr" "$sub" "$force" "$TMPD/s.vhd" "$start"; then
        ok 1 "$desc: create"; return
    fi
    old=$(vsize "$TMPD/s.vhd")
    [ "$wr" = yes ] && fill "$TMPD/s.vhd" "$old"
    "$INSTAR_IMG" resize -q -f vpc "$TMPD/s.vhd" "$end" 2>"$TMPD/err"
    rc=$?
    exp=$(expected "$force" "$end")
    new=$(vsize "$TMPD/s.vhd")
    [ $rc -eq 0 ] && [ -n "$new" ] && [ "$new" = "$exp" ]
    ok $? "$desc: resized, qemu reads $new (qemu-img create gives $exp)"
    [ $rc -eq 0 ] || { diag "$(cat "$TMPD/err")"; return; }
    [ -n "$new" ] || return
    zl=$((new - old)); [ $zl -gt 1048576 ] && zl=1048576
    t=0
    if [ "$wr" = yes ]; then old_ok "$TMPD/s.vhd" "$old" || t=1; fi
    qio "$TMPD/s.vhd" "read -P 0 $old $zl" "read -P 0 $((new - 512)) 512" || t=1
    ok $t "$desc: old data intact, new range reads zeros"
    # Writes inside the new range only: its tail, and its first sector.
    gap=$((new - old))
    if [ $gap -ge 1024 ]; then
        wl=$(((gap / 2) & ~511)); [ $wl -gt $K64 ] && wl=$K64
        qio "$TMPD/s.vhd" "write -P 0x77 $((new - wl)) $wl" "write -P 0x78 $old 512" || t=1
        qio "$TMPD/s.vhd" "read -P 0x77 $((new - wl)) $wl" "read -P 0x78 $old 512" || t=1
    else
        qio "$TMPD/s.vhd" "write -P 0x78 $old 512" "read -P 0x78 $old 512" || t=1
    fi
    if [ "$wr" = yes ]; then old_ok "$TMPD/s.vhd" "$old" || t=1; fi
    [ "$(vsize "$TMPD/s.vhd")" = "$new" ] || t=1
    ok $t "$desc: qemu-io writes the new range and reads it back"
    # The whole guest view against a disk qemu-img made at the new size with
    # the same writes (skipped for huge fixed disks: compare reads them all).
    if [ "$sub" = dynamic ] || [ "$new" -le 268435456 ]; then
        rm -f "$TMPD/ref.vhd"
        "$QEMU_IMG" create -q -f vpc -o "force_size=$force" "$TMPD/ref.vhd" "$end"
        [ "$wr" = yes ] && fill "$TMPD/ref.vhd" "$old"
        if [ $gap -ge 1024 ]; then
            qio "$TMPD/ref.vhd" "write -P 0x77 $((new - wl)) $wl" "write -P 0x78 $old 512"
        else
            qio "$TMPD/ref.vhd" "write -P 0x78 $old 512"
        fi
        "$QEMU_IMG" compare -q -f vpc -F vpc "$TMPD/s.vhd" "$TMPD/ref.vhd" 2>&1
        ok $? "$desc: qemu-img compare: same guest view as a qemu-made $end disk with the same writes"
    fi
}

# ---- create: the same bytes as qemu-img 7.2 ------------------------------
# Only the timestamp (24..27), checksum (64..67) and unique id (68..83) of
# each footer may differ; qemu-img info must agree (minus file name and
# allocation).
footer_diffs_only() {  # footer_diffs_only A B FOOTER-OFFSET...
    a=$1 b=$2; shift 2
    cmp -l "$a" "$b" | awk -v offs="$*" '
        BEGIN { n = split(offs, f, " ") }
        { pos = $1 - 1; good = 0
          for (i = 1; i <= n; i++) { r = pos - f[i]
              if ((r >= 24 && r < 28) || (r >= 64 && r < 84)) good = 1 }
          if (!good) { print "byte " pos " differs"; bad = 1 } }
        END { exit bad }'
}
info_norm() {
    "$QEMU_IMG" info --output=json -f vpc "$1" 2>&1 | grep -v -e '"filename"' -e '"actual-size"'
}
create_case() {  # create_case SUB FORCE SIZE
    rm -f "$TMPD/cq.vhd" "$TMPD/ci.vhd"
    "$QEMU_IMG" create -q -f vpc -o "subformat=$1,force_size=$2" "$TMPD/cq.vhd" "$3" 2>"$TMPD/qerr"
    qrc=$?
    "$INSTAR_IMG" create -q -f vpc -o "subformat=$1,force_size=$2" "$TMPD/ci.vhd" "$3" 2>"$TMPD/ierr"
    irc=$?
    t=0
    if [ $qrc -ne 0 ] || [ $irc -ne 0 ]; then
        [ $qrc -ne 0 ] && [ $irc -ne 0 ] || t=1
        ok $t "create $1 force_size=$2 $3: both refuse ($(head -c 80 "$TMPD/ierr"))"
        return
    fi
    len=$(stat -c %s "$TMPD/cq.vhd")
    [ "$len" = "$(stat -c %s "$TMPD/ci.vhd")" ] || t=1
    [ "$(info_norm "$TMPD/cq.vhd")" = "$(info_norm "$TMPD/ci.vhd")" ] || t=1
    if [ $t -eq 0 ]; then
        if [ "$1" = dynamic ]; then
            footer_diffs_only "$TMPD/cq.vhd" "$TMPD/ci.vhd" 0 $((len - 512)) || t=1
        else
            # Fixed: the data area is a hole in both; compare the footer.
            tail -c 512 "$TMPD/cq.vhd" > "$TMPD/fq"; tail -c 512 "$TMPD/ci.vhd" > "$TMPD/fi"
            footer_diffs_only "$TMPD/fq" "$TMPD/fi" 0 || t=1
        fi
    fi
    ok $t "create $1 force_size=$2 $3: same length ($len), same qemu-img info, same bytes but time/uuid/checksum"
}
for sub in dynamic fixed; do
    for force in off on; do
        for size in 513 1000000 16M 1G 127G 200G 2040G 2041G; do
            create_case $sub $force $size
        done
    done
done
create_case dynamic off 0

# ---- the matrix ---------------------------------------------------------
# Dynamic: 16M has an 8-entry BAT in a 128-entry pad (in place up to 256 MiB);
# with data the BAT is followed by blocks (relocation beyond); without data
# it is the last structure (grown over the EOF footer).  1G crosses into
# 16/63 geometry, 130G pins the CHS geometry (exact sizes from there on).
for cr in qemu instar; do
    for wr in yes no; do
        for end in 17M 200M 1100M; do
            run_case $cr dynamic off 16M $end $wr
        done
    done
    run_case $cr dynamic off 1M 5M yes
    run_case $cr dynamic off 1G 3G yes
    run_case $cr dynamic off 100G 130G yes
    run_case $cr dynamic on 16M 300M yes
    run_case $cr dynamic on 1000000 2000001 yes
    run_case $cr dynamic on 129G 1T no
    run_case $cr fixed off 1M 1000000000 yes
    run_case $cr fixed off 16M 16781313 yes
    run_case $cr fixed off 127G 128G yes
    run_case $cr fixed on 1M 3M yes
    run_case $cr fixed on 1000000 1000449 yes
done
run_case qemu dynamic off 1G 2040G no

# Shrink (qemu-img cannot): the kept range reads back, the size is what
# qemu-img create gives, and growing back shows zeros where data was dropped.
shrink_case() {  # shrink_case CREATOR SUB FORCE START END
    cr=$1 sub=$2 force=$3 start=$4 end=$5
    desc="$cr $sub force_size=$force $start -> $end (shrink)"
    rm -f "$TMPD/s.vhd"
    mk "$cr" "$sub" "$force" "$TMPD/s.vhd" "$start"
    old=$(vsize "$TMPD/s.vhd")
    fill "$TMPD/s.vhd" "$old"
    exp=$(expected "$force" "$end")
    t=0
    "$INSTAR_IMG" resize -q -f vpc --shrink "$TMPD/s.vhd" "$end" || t=1
    new=$(vsize "$TMPD/s.vhd")
    [ "$new" = "$exp" ] || t=1
    ok $t "$desc: qemu reads $new (qemu-img create gives $exp)"
    t=0
    qio "$TMPD/s.vhd" "read -P 0x5a 0 $K64" "write -P 0x33 $((new - 512)) 512" \
        "read -P 0x33 $((new - 512)) 512" || t=1
    "$INSTAR_IMG" resize -q -f vpc "$TMPD/s.vhd" "$old" || t=1
    [ "$(vsize "$TMPD/s.vhd")" = "$old" ] || t=1
    qio "$TMPD/s.vhd" "read -P 0x5a 0 $K64" "read -P 0x33 $((new - 512)) 512" \
        "read -P 0 $new $((old - new))" || t=1
    ok $t "$desc: kept data intact; grown back to $old, the dropped range reads zeros"
}
for cr in qemu instar; do
    shrink_case $cr dynamic off 16M 5M
    shrink_case $cr dynamic off 64M 30000000
    shrink_case $cr dynamic on 64M 3000001
    shrink_case $cr fixed off 16M 1M
    shrink_case $cr fixed on 8M 5000000
done

# Twice in a row (a relocated BAT grows again; its old copy stays dead space).
rm -f "$TMPD/s.vhd"
mk qemu dynamic off "$TMPD/s.vhd" 16M
fill "$TMPD/s.vhd" 16781312
t=0
for end in 600M 2G 5G; do
    "$INSTAR_IMG" resize -q -f vpc "$TMPD/s.vhd" $end || t=1
    n=$(vsize "$TMPD/s.vhd")
    qio "$TMPD/s.vhd" "write -P 0x66 $((n - 512)) 512" "read -P 0x66 $((n - 512)) 512" || t=1
done
old_ok "$TMPD/s.vhd" 16781312 || t=1
[ "$(vsize "$TMPD/s.vhd")" = "$(expected off 5G)" ] || t=1
ok $t "dynamic 16M -> 600M -> 2G -> 5G with writes between: data and size right"

# A fixed VHD is found by its footer at the end (it looks like raw from the front).
rm -f "$TMPD/s.vhd"
mk qemu fixed off "$TMPD/s.vhd" 16M
"$INSTAR_IMG" resize -q "$TMPD/s.vhd" 32M
t=$?
[ "$(vsize "$TMPD/s.vhd")" = "$(expected off 32M)" ] || t=1
[ "$(stat -c %s "$TMPD/s.vhd")" = $(($(expected off 32M) + 512)) ] || t=1
ok $t "fixed VHD probed without -f: resized as vpc, file = size + footer"

# Preallocation on fixed disks: falloc/full allocate the new data range,
# metadata adds nothing (a fixed disk has no mapping metadata).
for pa in falloc full metadata; do
    rm -f "$TMPD/s.vhd"
    mk qemu fixed off "$TMPD/s.vhd" 16M
    fill "$TMPD/s.vhd" 16781312
    t=0
    "$INSTAR_IMG" resize -q -f vpc --preallocation=$pa "$TMPD/s.vhd" 64M || t=1
    new=$(vsize "$TMPD/s.vhd")
    [ "$new" = "$(expected off 64M)" ] || t=1
    old_ok "$TMPD/s.vhd" 16781312 || t=1
    qio "$TMPD/s.vhd" "read -P 0 16781312 $((new - 16781312))" || t=1
    kb=$(du -k "$TMPD/s.vhd" | cut -f1)
    if [ $pa = metadata ]; then [ "$kb" -lt 16384 ] || t=1; else [ "$kb" -ge 49152 ] || t=1; fi
    ok $t "fixed 16M -> 64M --preallocation=$pa: size, data, zeros; ${kb} KiB allocated"
done

# Relative sizes count from the size qemu reads.
rm -f "$TMPD/s.vhd"
mk qemu dynamic off "$TMPD/s.vhd" 16M
"$INSTAR_IMG" resize -q -f vpc "$TMPD/s.vhd" +1M
[ "$(vsize "$TMPD/s.vhd")" = "$(expected off $((16781312 + 1048576)))" ]
ok $? "+1M on 16781312 rounds like create of 17829888"

# The same size (and a smaller request that rounds to it) changes nothing.
rm -f "$TMPD/s.vhd"
mk qemu dynamic off "$TMPD/s.vhd" 16M
cp "$TMPD/s.vhd" "$TMPD/orig"
"$INSTAR_IMG" resize -q -f vpc "$TMPD/s.vhd" 16781312 && cmp -s "$TMPD/orig" "$TMPD/s.vhd"
ok $? "resize to the current size: success, file byte-identical"
"$INSTAR_IMG" resize -q -f vpc --shrink "$TMPD/s.vhd" 16M && cmp -s "$TMPD/orig" "$TMPD/s.vhd"
ok $? "--shrink to 16M, which rounds to the current size: no-op"

# ---- crash prefixes ----------------------------------------------------
crash_case() {  # crash_case SUB FORCE START END WRITE
    sub=$1 force=$2 start=$3 end=$4 wr=$5
    rm -f "$TMPD/c0.vhd"
    mk qemu "$sub" "$force" "$TMPD/c0.vhd" "$start"
    old=$(vsize "$TMPD/c0.vhd")
    [ "$wr" = no ] || fill "$TMPD/c0.vhd" "$old"
    sflag=""; [ "$wr" = head ] && sflag=--shrink
    np=$("$PREFIX" -f vpc $sflag "$TMPD/c0.vhd" "$end")
    exp=$(expected "$force" "$end")
    t=0
    k=0
    while [ "$k" -le "${np:-0}" ]; do
        cp --sparse=always "$TMPD/c0.vhd" "$TMPD/c.vhd"
        "$PREFIX" -f vpc $sflag "$TMPD/c.vhd" "$end" "$k" >/dev/null || t=1
        v=$(vsize "$TMPD/c.vhd")
        if [ "$v" != "$old" ] && [ "$v" != "$exp" ]; then
            diag "prefix $k: qemu reads size '$v'"; t=1
        fi
        if [ "$wr" = yes ]; then old_ok "$TMPD/c.vhd" "$old" || { diag "prefix $k: old data"; t=1; }; fi
        if [ "$wr" = head ]; then
            qio "$TMPD/c.vhd" "read -P 0x5a 0 $K64" || { diag "prefix $k: kept data"; t=1; }
        fi
        # A crashed image must still take writes (qemu allocates after the tables).
        qio "$TMPD/c.vhd" "write -P 0x42 $((v - 512)) 512" "read -P 0x42 $((v - 512)) 512" ||
            { diag "prefix $k: write at the end"; t=1; }
        k=$((k + 1))
    done
    [ "${np:-0}" -gt 0 ] || t=1
    ok $t "crash prefixes 0..$np of $sub force_size=$force $start -> $end (data: $wr): qemu opens each"
}
crash_case dynamic off 16M 100M yes     # BAT grown in its padding
crash_case dynamic off 16M 1G yes       # BAT relocated to the end
crash_case dynamic off 16M 1G no        # BAT grown over the EOF footer
crash_case dynamic on 1G 5G yes
crash_case fixed off 16M 40M yes
crash_case fixed on 1M 2M yes
crash_case dynamic off 16M 5M head     # shrink: size, then unmap what is beyond
crash_case fixed off 16M 5M head        # shrink: footer inside, then the cut

# ---- refusals: clear error, file untouched ----------------------------
refuse() {  # refuse DESC FILE EXPECTED-TEXT OPTION... SIZE
    d=$1 f=$2 want=$3; shift 3
    cp "$f" "$TMPD/before"
    _rn=$#; _ri=0
    for a in "$@"; do
        _ri=$((_ri + 1))
        if [ $_ri -lt $_rn ]; then set -- "$@" "$a"; else set -- "$@" "$f" "$a"; fi
    done
    shift "$_rn"
    "$INSTAR_IMG" resize -q "$@" 2>"$TMPD/err" >/dev/null
    rc=$?
    t=0
    [ $rc -ne 0 ] || t=1
    grep -q -- "$want" "$TMPD/err" || t=1
    cmp -s "$TMPD/before" "$f" || t=1
    ok $t "$d: refused ('$(head -1 "$TMPD/err")'), file untouched"
}
rm -f "$TMPD/h.vhd"
mk qemu dynamic off "$TMPD/h.vhd" 16M
fill "$TMPD/h.vhd" 16781312
refuse "grow past 2040 GiB" "$TMPD/h.vhd" "too large" -f vpc 2041G
refuse "shrink without --shrink" "$TMPD/h.vhd" "shrink" -f vpc 8M
refuse "dynamic with --preallocation=falloc" "$TMPD/h.vhd" "not supported" -f vpc --preallocation=falloc 32M
refuse "dynamic with --preallocation=full" "$TMPD/h.vhd" "not supported" -f vpc --preallocation=full 32M

cp "$TMPD/h.vhd" "$TMPD/t.vhd"
truncate -s 1048576 "$TMPD/t.vhd"
refuse "truncated dynamic image (block past EOF)" "$TMPD/t.vhd" "Invalid VHD image" -f vpc 64M
cp "$TMPD/h.vhd" "$TMPD/t.vhd"
truncate -s 1000 "$TMPD/t.vhd"
refuse "truncated dynamic image (inside the dynamic header)" "$TMPD/t.vhd" "Invalid VHD image" -f vpc 64M
cp "$TMPD/h.vhd" "$TMPD/t.vhd"
printf '\001' | dd of="$TMPD/t.vhd" bs=1 seek=200 conv=notrunc status=none
refuse "bad footer checksum" "$TMPD/t.vhd" "checksum" -f vpc 64M
cp "$TMPD/h.vhd" "$TMPD/t.vhd"
printf '\001' | dd of="$TMPD/t.vhd" bs=1 seek=1400 conv=notrunc status=none
refuse "bad dynamic header checksum" "$TMPD/t.vhd" "checksum" -f vpc 64M

rm -f "$TMPD/f.vhd"
mk qemu fixed off "$TMPD/f.vhd" 16M
cp "$TMPD/f.vhd" "$TMPD/t.vhd"
truncate -s 16000000 "$TMPD/t.vhd"
refuse "truncated fixed image (footer gone)" "$TMPD/t.vhd" "Invalid VHD image" -f vpc 64M
cp "$TMPD/f.vhd" "$TMPD/t.vhd"
printf '\001' | dd of="$TMPD/t.vhd" bs=1 seek=$((16781312 + 300)) conv=notrunc status=none
refuse "fixed image with a bad footer checksum" "$TMPD/t.vhd" "checksum" -f vpc 64M
refuse "fixed grow past 2040 GiB" "$TMPD/f.vhd" "too large" -f vpc 3T

done_testing
