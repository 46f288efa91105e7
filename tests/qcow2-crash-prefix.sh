#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-crash-prefix.sh -- every crash prefix of a qcow2 resize plan leaves
# an image qemu-img checks without corruption (leaks are
# allowed).  For each case the plan's patches 0..n are applied to a fresh
# copy (tests/tools/apply-prefix) and `qemu-img check' runs on the result;
# the complete resize ("all") must check clean, leaks included.  A plan
# instar refuses as "not supported" is a TAP TODO (XFAIL), never a pass.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
APPLY=$abs_top_builddir/tests/tools/apply-prefix
require "$APPLY" apply-prefix
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io

# run_case OPTS START END WRITES FLAGS...
#   WRITES: "pat:off:len" (a pattern), "zero:off:len" (zero-flag clusters),
#   "comp:pat:off:len" (compressed), "snap" (an internal snapshot), in order
run_case() {
    opts=$1 start=$2 end=$3 writes=$4; shift 4
    desc="-o '$opts' $start -> $end $*"
    rm -f "$TMPD/orig"
    "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} "$TMPD/orig" "$start" >/dev/null 2>&1 ||
        { ok 1 "$desc: qemu-img create"; return; }
    for w in $writes; do
        case $w in
        snap) "$QEMU_IMG" snapshot -c s1 "$TMPD/orig" >/dev/null 2>&1 ||
                  diag "qemu-img snapshot failed"
              continue ;;
        zero:*) w=${w#zero:}; cmd="write -q -z" ;;
        comp:*) w=${w#comp:}; cmd="write -q -c -P 0x${w%%:*}"; w=${w#*:} ;;
        *) cmd="write -q -P 0x${w%%:*}"; w=${w#*:} ;;
        esac
        "$QEMU_IO" -f qcow2 -c "$cmd ${w%%:*} ${w#*:}" "$TMPD/orig" \
            >/dev/null 2>&1 || diag "qemu-io $cmd $w failed"
    done
    cp --sparse=always "$TMPD/orig" "$TMPD/t"
    n=$("$APPLY" -f qcow2 "$@" "$TMPD/t" "$end" 0 2>"$TMPD/err")
    if [ $? -ne 0 ] || [ -z "$n" ]; then
        if unsupported "$TMPD/err"; then
            todo "$desc: $(head -n 1 "$TMPD/err")"
            return
        fi
        ok 1 "$desc: planned"
        diag "$(cat "$TMPD/err")"
        return
    fi
    bad=
    k=0
    while [ "$k" -le "$n" ]; do
        cp --sparse=always "$TMPD/orig" "$TMPD/t"
        "$APPLY" -f qcow2 "$@" "$TMPD/t" "$end" "$k" >/dev/null 2>"$TMPD/err" ||
            bad="$bad apply($k)"
        no_corruption "$TMPD/t" "$TMPD/t.check" || bad="$bad $k"
        k=$((k + 1))
    done
    [ -z "$bad" ]; ok $? "$desc: prefixes 0..$n free of corruption"
    [ -z "$bad" ] || diag "corrupt after prefixes:$bad" "$(tr -d '\n' < "$TMPD/t.check")"

    cp --sparse=always "$TMPD/orig" "$TMPD/t"
    "$APPLY" -f qcow2 "$@" "$TMPD/t" "$end" all >/dev/null 2>"$TMPD/err" &&
        check_clean "$TMPD/t" "$TMPD/t.check"
    r=$?
    ok $r "$desc: the whole plan checks clean"
    [ $r -eq 0 ] || diag "$(cat "$TMPD/err")" "$(tr -d '\n' < "$TMPD/t.check")"
}

# Grow: header only, L1 growth (new L1, old released), refcount block and
# table growth (512-byte clusters, 64-bit refcounts), preallocation.
run_case "" 16M 64M "a1:0:64k"
run_case "" 16M 1G "a1:0:64k b2:15M:64k"
run_case "" 16M 2T "a1:0:64k"
run_case cluster_size=512,refcount_bits=64 1M 1G "a1:0:4k"
run_case cluster_size=512,refcount_bits=1 1M 16G "a1:0:4k"
run_case cluster_size=512,refcount_bits=64 1M 16G "a1:0:4k b2:900k:64k"
run_case compat=0.10 16M 1G "a1:0:64k"
run_case extended_l2=on 16M 1G "a1:0:64k"
run_case cluster_size=4k 1M +2M "a1:0:4k" --preallocation=metadata
run_case "" 16M +1M "a1:0:64k" --preallocation=falloc
# Shrink: data and L2 tables freed, straddling cluster, refcount blocks dropped.
run_case "" 16M 8M "a1:0:64k b2:12M:64k c3:8M:8k" --shrink
run_case "" 1G 1M "a1:0:64k b2:600M:64k c3:1044480:8k" --shrink
run_case cluster_size=4k 16M 5243392 "a1:0:4k b2:10M:64k c3:5242880:4k" --shrink
run_case cluster_size=512,refcount_bits=8 8M 1M "a1:0:4k b2:6M:64k" --shrink
run_case refcount_bits=1 64M 1M "a1:0:64k b2:63M:64k" --shrink
# Shared clusters: a snapshot keeps them (refcounts decremented, not
# zeroed); compressed and zero-flag clusters cut off.
run_case "" 64M 8M "a1:0:64k b2:40M:64k snap c3:40M:64k" --shrink
run_case "" 64M 1G "a1:0:64k snap b2:0:64k"
run_case "" 64M 8M "comp:e5:32M:64k zero:48M:64k a1:0:64k" --shrink
run_case cluster_size=512,refcount_bits=2 4M 1M "comp:e5:2M:4k zero:3M:4k a1:0:4k" --shrink

done_testing
