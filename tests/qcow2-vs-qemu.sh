#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-vs-qemu.sh -- `instar-img resize' on qcow2 side by side with
# `qemu-img resize' (7.2).  Every case: qemu-img creates the start image,
# qemu-io writes known patterns (at the head, beyond a shrink point, in the
# cluster that straddles the new end), the file is copied, one copy is
# resized by qemu-img and the other by instar-img.  Required:
#   - the same exit class (and on refusal: qemu's message, our file untouched);
#     where instar refuses as "not supported" what qemu does (a known gap,
#     file untouched) the case is a TAP TODO: counted as XFAIL, never a pass;
#   - on success: equal normalised `qemu-img info', a `qemu-img check' of
#     ours without corruptions (and without leaks when qemu has none), and
#     equal guest data (`qemu-img compare'; for virtual sizes beyond 2 TiB,
#     where compare takes seconds, qemu-io reads of every written pattern).
# Cases: a curated list covering each path, then a deterministic sample
# (a fixed-seed LCG) over cluster size x refcount width x extended L2 x lazy
# refcounts x compat x start size x end spec x preallocation x data.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

# to_bytes SPEC: bytes of an integer with an optional K/M/G/T/P suffix.
to_bytes() {
    n=${1%[KkMmGgTtPp]}
    case $1 in
    *[Kk]) echo $((n << 10)) ;; *[Mm]) echo $((n << 20)) ;; *[Gg]) echo $((n << 30)) ;;
    *[Tt]) echo $((n << 40)) ;; *[Pp]) echo $((n << 50)) ;; *) echo "$n" ;;
    esac
}

# resolve START END: the new size qemu-img computes (may be <= 0).
resolve() {
    case $2 in
    +*) echo $(($1 + $(to_bytes "${2#+}"))) ;;
    -*) echo $(($1 - $(to_bytes "${2#-}"))) ;;
    *) to_bytes "$2" ;;
    esac
}

TWO_T=2199023255552
set_w() { pat=$1 off=$2 len=$3; }
ncase=0

# run_case OPTS START END DATA FLAGS...
#   DATA: a list of head | tail | straddle | compressed (two compressed
#   clusters: mid-image and near the end) | zero (zero-flag clusters, v3)
#   | snap (an internal snapshot of
#   what was written so far) | bitmap (a persistent dirty bitmap) | finebitmap (one
#   with 512-byte granularity: its table changes size on resize) | none,
#   comma separated, applied in order
run_case() {
    opts=$1 start=$2 end=$3 data=$4; shift 4
    ncase=$((ncase + 1))
    sb=$(to_bytes "$start"); nb=$(resolve "$sb" "$end")
    desc="#$ncase -o '$opts' $start -> $end [$data] $*"
    rm -f "$TMPD/orig" "$TMPD/q" "$TMPD/i"
    if ! "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} "$TMPD/orig" "$start" >"$TMPD/c.err" 2>&1; then
        ok 1 "$desc: qemu-img create"; diag "$(cat "$TMPD/c.err")"; return
    fi
    # Patterns: 0xa1 at the head, 0xb2 in the last 64k of the start image,
    # 0xc3 over the new end (so the straddling cluster holds data).
    reads=
    for d in $(echo "$data" | tr ',' ' '); do
        w=
        case $d in
        head) [ "$sb" -ge 65536 ] && w="a1 0 65536" ;;
        tail) [ "$sb" -ge 131072 ] && w="b2 $((sb - 65536)) 65536" ;;
        straddle) s=$(( (nb / 4096) * 4096 - 4096 ))
                  [ "$nb" -gt 8192 ] && [ $((s + 8192)) -le "$sb" ] && w="c3 $s 8192" ;;
        compressed) [ "$sb" -ge 262144 ] && "$QEMU_IO" -f qcow2 \
                      -c "write -q -c -P 0xe5 $((sb / 2 - sb / 2 % 65536)) 65536" \
                      -c "write -q -c -P 0xe6 $((sb - 131072)) 65536" "$TMPD/orig" >/dev/null 2>&1 &&
                      reads="$reads e5:$((sb / 2 - sb / 2 % 65536)):65536" ;;
        zero)     [ "$sb" -ge 262144 ] && "$QEMU_IO" -f qcow2 -c "write -q -z 65536 65536" \
                      -c "write -q -z $((sb - 65536)) 65536" "$TMPD/orig" >/dev/null 2>&1 ;;
        snap)     "$QEMU_IMG" snapshot -c s1 "$TMPD/orig" >/dev/null 2>&1 ||
                      diag "qemu-img snapshot failed" ;;
        bitmap)   "$QEMU_IMG" bitmap -f qcow2 --add "$TMPD/orig" b0 >/dev/null 2>&1 ||
                      diag "qemu-img bitmap failed" ;;
        finebitmap) "$QEMU_IMG" bitmap -f qcow2 --add -g 512 "$TMPD/orig" b1 >/dev/null 2>&1 ||
                      diag "qemu-img bitmap failed" ;;
        esac
        [ -n "$w" ] || continue
        # shellcheck disable=SC2086
        set_w $w
        "$QEMU_IO" -f qcow2 -c "write -q -P 0x$pat $off $len" "$TMPD/orig" >/dev/null 2>&1 ||
            diag "qemu-io write $w failed"
        reads="$reads $pat:$off:$len"
    done
    cp --sparse=always "$TMPD/orig" "$TMPD/q"
    cp --sparse=always "$TMPD/orig" "$TMPD/i"
    "$QEMU_IMG" resize -q -f qcow2 "$@" "$TMPD/q" "$end" >/dev/null 2>"$TMPD/q.err"; qrc=$?
    # Half the cases let instar probe the format.
    if [ $((ncase % 2)) -eq 0 ]; then
        "$INSTAR_IMG" resize -q -f qcow2 "$@" "$TMPD/i" "$end" >/dev/null 2>"$TMPD/i.err"; irc=$?
    else
        "$INSTAR_IMG" resize -q "$@" "$TMPD/i" "$end" >/dev/null 2>"$TMPD/i.err"; irc=$?
    fi
    outcome "$desc"
    if [ $qc = ok ] && [ $ic = fail ] && unsupported "$TMPD/i.err" &&
       cmp -s "$TMPD/orig" "$TMPD/i"; then
        todo "$desc ($(err_text "$TMPD/i.err"); file untouched)"
        return
    fi
    split_outcome && return
    if [ $qc = fail ]; then
        same_refusal
        return
    fi
    same_info

    check_json "$TMPD/q" "$TMPD/q.check"; qck=$?
    no_corruption "$TMPD/i" "$TMPD/i.check"; r=$?
    if [ $r -eq 0 ] && [ "$(json_num leaks "$TMPD/i.check")" != none ] &&
       [ "$(json_num leaks "$TMPD/q.check")" = none ]; then
        r=1
    fi
    ok $r "$desc: check clean (qemu: $qck)"
    [ $r -eq 0 ] || diag "$(tr -d '\n' < "$TMPD/i.check")"

    if [ "$nb" -le "$TWO_T" ]; then
        "$QEMU_IMG" compare -f qcow2 -F qcow2 "$TMPD/q" "$TMPD/i" >"$TMPD/cmp.out" 2>&1
        r=$?
        ok $r "$desc: same guest data"
        [ $r -eq 0 ] || diag "$(cat "$TMPD/cmp.out")"
    else
        r=0
        for rd in $reads; do
            pat=${rd%%:*} rest=${rd#*:}; off=${rest%%:*} len=${rest#*:}
            [ "$off" -ge "$nb" ] && continue
            [ $((off + len)) -gt "$nb" ] && len=$((nb - off))
            "$QEMU_IO" -f qcow2 -r -c "read -q -P 0x$pat $off $len" "$TMPD/i" 2>&1 |
                grep -q . && r=1
        done
        "$QEMU_IO" -f qcow2 -r -c "read -q -P 0 $((nb - 65536)) 65536" "$TMPD/i" 2>&1 |
            grep -q . && r=1
        ok $r "$desc: patterns read back, new end reads zeros"
    fi
}

# ---- curated cases: one or more per path ---------------------------------
# Grow, header only / L1 growth / the L1 limit.
run_case "" 16M 64M head
run_case "" 16M 1G head
run_case "" 0 1G none
run_case "" 1G +512 head,tail
run_case "" 16M 2P head
run_case "" 16M 3P head
run_case "" 16M +513 head
run_case "" 1000000 +1M head
run_case cluster_size=512 16M 1G head
run_case cluster_size=512 1M 200G none
run_case cluster_size=2M 16M 3P head
run_case extended_l2=on 16M 1P head
run_case extended_l2=on,cluster_size=16k 1M 64T none
run_case refcount_bits=1,cluster_size=512 1M 64G head
run_case refcount_bits=64,cluster_size=512 1M 2G head
run_case compat=0.10 16M 1G head
run_case lazy_refcounts=on 16M 1G head,tail
# Shrink: aligned, unaligned (straddling cluster), data beyond, refusals.
run_case "" 16M 8M head,tail,straddle --shrink
run_case "" 16M 15M head,tail --shrink
run_case "" 16M -512 head,tail --shrink
run_case "" 16M 8M head,tail
run_case "" 1G 1M head,tail,straddle --shrink
run_case "" 1G -1000 head --shrink
run_case "" 64M 15728640 head,straddle --shrink
run_case cluster_size=4k 16M 5M head,tail,straddle --shrink
run_case cluster_size=4k 16M 5243392 head,straddle --shrink
run_case extended_l2=on 16M 15729152 head,tail,straddle --shrink
run_case refcount_bits=1 64M 1M head,tail --shrink
run_case refcount_bits=8 64M 32M head,tail,straddle --shrink
run_case refcount_bits=64,cluster_size=512 4M 1M head,tail,straddle --shrink
run_case compat=0.10 64M 1M head,tail --shrink
run_case cluster_size=2M 1G 100M head,tail,straddle --shrink
# (2T -> 1G takes qemu ~10-20 s: it is in the benchmark, not here)
run_case "" 64G 1G head --shrink
run_case "" 16M -16M head --shrink
run_case "" 16M +0 head
run_case "" 16M 16M head --shrink
# Preallocation: every mode on grow; refused on shrink and same size.
for mode in metadata falloc full; do
    run_case "" 16M +1M head --preallocation=$mode
    run_case cluster_size=4k 1000000 5M head --preallocation=$mode
    run_case extended_l2=on 16M 20M head --preallocation=$mode
    run_case refcount_bits=1,cluster_size=512 1M 3M head --preallocation=$mode
    run_case "" 16M 8M head --shrink --preallocation=$mode
done
run_case compat=0.10 1G +64M head --preallocation=falloc
run_case "" 16M +0 head --preallocation=full

# Snapshots (v3 resizes, v2 refuses even same size) and persistent bitmaps.
run_case "" 16M 1G head,snap,tail
run_case "" 64M 16M head,snap,tail --shrink
run_case compat=0.10 16M 1G head,snap
run_case compat=0.10 16M +0 head,snap
run_case "" 16M 1G head,bitmap
run_case "" 16M 8M head,bitmap --shrink
run_case "" 16M 1G head,finebitmap
run_case "" 16M 4M head,finebitmap --shrink

# Compressed clusters and zero-flag clusters, kept and cut off.
run_case "" 16M 1G head,compressed,zero
run_case "" 16M 8M head,compressed,zero,straddle --shrink
run_case cluster_size=4k 16M 9M compressed,zero,tail --shrink
run_case extended_l2=on 64M 40M compressed,zero,tail --shrink
run_case refcount_bits=1,compat=1.1 16M 4M compressed,tail --shrink
run_case "" 16M +1M compressed,zero --preallocation=metadata

# Chains: the same steps on both copies (holed refcount tables after a
# shrink, regrowth over freed L2 and refcount blocks).
chain_case() {  # chain_case OPTS START DATA STEP...  (STEP: "[--shrink] SIZE")
    opts=$1 start=$2 data=$3; shift 3
    desc="-o '$opts' $start [$data] chain:$(printf ' %s;' "$@")"
    rm -f "$TMPD/q" "$TMPD/i"
    "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} "$TMPD/q" "$start" >/dev/null 2>&1
    sb=$(to_bytes "$start")
    for d in $(echo "$data" | tr ',' ' '); do
        case $d in
        spread) for off in 0 $((sb / 4)) $((sb / 2)) $((sb - 65536)); do
                    "$QEMU_IO" -f qcow2 -c "write -q -P 0x5a $off 65536" "$TMPD/q" >/dev/null 2>&1
                done ;;
        esac
    done
    cp --sparse=always "$TMPD/q" "$TMPD/i"
    r=0
    for step in "$@"; do
        # shellcheck disable=SC2086
        set -- $step
        sz=$(eval echo "\${$#}")
        flags=; [ $# -gt 1 ] && flags=$1
        "$QEMU_IMG" resize -q -f qcow2 $flags "$TMPD/q" "$sz" >/dev/null 2>"$TMPD/q.err"; qrc=$?
        "$INSTAR_IMG" resize -q -f qcow2 $flags "$TMPD/i" "$sz" >/dev/null 2>"$TMPD/i.err"; irc=$?
        if [ $qrc -ne $irc ]; then
            r=1; diag "step '$step': qemu $qrc, instar $irc: $(cat "$TMPD/i.err")"
        fi
    done
    norm_info "$TMPD/q" "$TMPD/q.info"; norm_info "$TMPD/i" "$TMPD/i.info"
    cmp -s "$TMPD/q.info" "$TMPD/i.info" || { r=1; diag "info differs"; }
    no_corruption "$TMPD/i" "$TMPD/i.check" || { r=1; diag "$(tr -d '\n' < "$TMPD/i.check")"; }
    [ "$(json_num leaks "$TMPD/i.check")" = none ] || { r=1; diag "leaks"; }
    "$QEMU_IMG" compare -q -f qcow2 -F qcow2 "$TMPD/q" "$TMPD/i" >/dev/null 2>&1 ||
        { r=1; diag "guest data differs"; }
    ok $r "$desc same results, clean"
}
# (qemu's shrink writes and frees an L2 table per dropped L1 entry, with a
# flush each: every shrink step here drops at most 64 entries.)
chain_case "" 1G spread "--shrink 1M" "64G" "--shrink 4G" "5G"
chain_case cluster_size=512 8M spread "--shrink 6M" "1G" "--shrink -2M" "2G"
chain_case cluster_size=512,refcount_bits=64 16M spread "--shrink 14M" "4G" "--shrink -2M" "+1G"
chain_case refcount_bits=1,cluster_size=4k 256M spread "--shrink 128M" "2T" "--shrink -128M"
chain_case compat=0.10 1G spread "--shrink 64M" "3G" "--shrink 1G"

# Stale data (a documented difference): shrink to a size inside a cluster,
# grow back.  qemu shows the old bytes again; instar must read zeros there.
stale_case() {  # stale_case OPTS START MID
    opts=$1 start=$2 mid=$3
    desc="-o '$opts' $start -> $mid -> $start: the old tail reads as zeros"
    rm -f "$TMPD/i"
    "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} "$TMPD/i" "$start" >/dev/null 2>&1
    sb=$(to_bytes "$start") mb=$(to_bytes "$mid")
    # 0xd4 from 64k before the new end to the old end.
    "$QEMU_IO" -f qcow2 -c "write -q -P 0xd4 $((mb - 65536)) $((sb - mb + 65536))" "$TMPD/i" \
        >/dev/null 2>&1
    cp --sparse=always "$TMPD/i" "$TMPD/orig"
    "$INSTAR_IMG" resize -q -f qcow2 --shrink "$TMPD/i" "$mid" >/dev/null 2>"$TMPD/i.err"
    if [ $? -ne 0 ]; then
        if unsupported "$TMPD/i.err" && cmp -s "$TMPD/orig" "$TMPD/i"; then
            todo "$desc ($(err_text "$TMPD/i.err"))"
        else
            ok 1 "$desc: shrink"; diag "$(cat "$TMPD/i.err")"
        fi
        return
    fi
    "$INSTAR_IMG" resize -q -f qcow2 "$TMPD/i" "$start" >/dev/null 2>"$TMPD/i.err" ||
        diag "regrow: $(cat "$TMPD/i.err")"
    r=0
    "$QEMU_IO" -f qcow2 -r -c "read -q -P 0xd4 $((mb - 65536)) 65536" "$TMPD/i" 2>&1 |
        grep -q . && r=1
    "$QEMU_IO" -f qcow2 -r -c "read -q -P 0 $mb $((sb - mb))" "$TMPD/i" 2>&1 | grep -q . && r=1
    no_corruption "$TMPD/i" "$TMPD/i.check" || r=1
    ok $r "$desc"
}
stale_case "" 16M 16744448
stale_case cluster_size=4k 16M 16773632
stale_case extended_l2=on 16M 16744448
stale_case cluster_size=2M 16M 15728640

# ---- a deterministic sample of the whole space ---------------------------
opts_pool="- cluster_size=512 cluster_size=4k cluster_size=2M refcount_bits=1 refcount_bits=8
refcount_bits=64 refcount_bits=1,cluster_size=512 refcount_bits=64,cluster_size=4k
refcount_bits=2 refcount_bits=4,cluster_size=1k refcount_bits=32
extended_l2=on extended_l2=on,cluster_size=2M extended_l2=on,cluster_size=16k,refcount_bits=8
lazy_refcounts=on compat=0.10 compat=0.10,cluster_size=4k
compat=1.1,lazy_refcounts=on,extended_l2=on,refcount_bits=64"
start_pool="0 1M 16M 1000000 1G 64M"
end_pool="1G 16M 3M 1049088 2P 3P +512 +513 +64K +1M +1G +2T -512 -513 -1M -64K -3M +0"
data_pool="none head head,tail head,tail,straddle tail,straddle"
mode_pool="off off metadata falloc full"

# QCOW2_MATRIX_SEED / QCOW2_MATRIX_CASES widen an exploratory run by hand;
# `make check' always uses the defaults.
seed=${QCOW2_MATRIX_SEED:-20261125}
pick() {  # pick VAR LIST: set VAR to one word of LIST chosen by the LCG
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    _var=$1
    # shellcheck disable=SC2086
    set -- $2
    shift $(( (seed >> 8) % $# ))
    eval "$_var=\$1"
}
n=0
while [ $n -lt "${QCOW2_MATRIX_CASES:-60}" ]; do
    n=$((n + 1))
    pick o "$opts_pool"; [ "$o" = - ] && o=
    pick s "$start_pool"; pick e "$end_pool"; pick d "$data_pool"; pick m "$mode_pool"
    sb=$(to_bytes "$s"); nb=$(resolve "$sb" "$e")
    # Keep qemu's shrinks cheap (see the chains above): at most 256
    # dropped L1 entries, else draw again.
    case $o in *cluster_size=512*) cs=512 ;; *cluster_size=1k*) cs=1024 ;;
               *cluster_size=4k*) cs=4096 ;; *cluster_size=16k*) cs=16384 ;;
               *cluster_size=2M*) cs=2097152 ;; *) cs=65536 ;; esac
    l2cov=$((cs * cs / 8)); case $o in *extended_l2=on*) l2cov=$((l2cov / 2)) ;; esac
    if [ "$nb" -gt 0 ] && [ $(( (sb - nb) / l2cov )) -gt 256 ]; then
        n=$((n - 1)); continue
    fi
    set --
    if [ "$nb" -lt "$sb" ]; then
        # Mostly with --shrink; sometimes without (a refusal).
        pick f '1 1 1 0'
        [ "$f" = 1 ] && set -- --shrink
    elif [ "$m" != off ] && [ $((nb - sb)) -le 67108864 ]; then
        set -- --preallocation="$m"
    fi
    run_case "$o" "$s" "$e" "$d" "$@"
done

done_testing
