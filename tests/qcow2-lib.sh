# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-lib.sh -- shared helpers of the qcow2 integration tests (sourced
# after tests/lib.sh).  Plain POSIX sh + sed: no jq, no python.

# norm_info FILE OUT: `qemu-img info --output=json' without the path- and
# allocation-dependent fields; trailing commas dropped so that removing a
# line never changes the others.
norm_info() {
    "$QEMU_IMG" info -f qcow2 --output=json "$1" 2>&1 |
        sed -e '/"filename":/d' -e '/"actual-size":/d' -e 's/,[[:space:]]*$//' > "$2"
}

# check_json FILE OUT: `qemu-img check --output=json' (its exit status is
# returned: 0 clean, 2 corruptions, 3 leaks, other: could not check).
check_json() {
    "$QEMU_IMG" check -f qcow2 --output=json "$1" > "$2" 2>&1
}

# json_num KEY FILE: the number after "KEY": in FILE, or "none".
json_num() {
    v=$(sed -n "s/^ *\"$1\": *\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1)
    echo "${v:-none}"
}

# check_clean FILE OUT: 0 when qemu-img check finds neither corruptions
# nor leaks nor check errors.
check_clean() {
    check_json "$1" "$2"
    c=$?
    [ $c -eq 0 ] && [ "$(json_num corruptions "$2")" = none ] &&
        [ "$(json_num leaks "$2")" = none ] && [ "$(json_num check-errors "$2")" = 0 ]
}

# no_corruption FILE OUT: 0 when qemu-img check finds no corruption (leaks
# are allowed: the crash-prefix contract).
no_corruption() {
    check_json "$1" "$2"
    c=$?
    { [ $c -eq 0 ] || [ $c -eq 3 ]; } && [ "$(json_num corruptions "$2")" = none ] &&
        [ "$(json_num check-errors "$2")" = 0 ]
}

# err_text FILE: the first stderr line without the "prog: [path: ]" prefix.
err_text() {
    head -n 1 "$1" | sed -e 's/^[a-z-]*: //' -e 's/^[^ ]*\.qcow2: //'
}

# be_u32 FILE OFFSET / be_u64 FILE OFFSET: a big-endian number from FILE.
be_u32() {
    printf '%d\n' "0x$(od -An -tx1 -j"$2" -N4 "$1" | tr -d ' \n')"
}
be_u64() {
    printf '%d\n' "0x$(od -An -tx1 -j"$2" -N8 "$1" | tr -d ' \n')"
}

# todo DESCRIPTION: a TAP "not ok ... # TODO" line -- an expected failure
# (automake counts it as XFAIL, never as a pass).  Used only where instar
# refuses with "not supported" what qemu does: a known, visible gap.
todo() {
    tap_n=$((tap_n + 1))
    echo "not ok $tap_n - $1 # TODO not supported by instar yet"
}

# alloc FILE: the bytes FILE occupies on disk (st_blocks).
alloc() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# require_holes: skip the whole test (TAP plan 1..0) when the current
# directory's file system cannot make holes: space given back or reserved
# cannot be seen there.
require_holes() {
    head -c 65536 /dev/zero > holes.probe; truncate -s 64M holes.probe
    if [ "$(alloc holes.probe)" -ge 67108864 ]; then
        echo "1..0 # SKIP the temporary directory's file system has no holes"; exit 0
    fi
    rm -f holes.probe
}

# unsupported FILE: 0 when the stderr in FILE is instar's "not supported".
unsupported() {
    grep -q 'not supported' "$1"
}

# ---- one case side by side with qemu-img --------------------------------
# qemu-img works on $TMPD/q and instar-img on $TMPD/i (for a resize,
# copies of $TMPD/orig); each tool's stderr is in $TMPD/q.err and
# $TMPD/i.err, its exit status in $qrc and $irc.  The checks name $desc.

# resize_both SIZE ARG...: fresh copies q and i of orig resized to SIZE by
# qemu-img and by instar-img, each given ARG... (stdout in q.out, i.out).
resize_both() {
    _rs=$1; shift
    cp --sparse=always "$TMPD/orig" "$TMPD/q"
    cp --sparse=always "$TMPD/orig" "$TMPD/i"
    "$QEMU_IMG" resize "$@" "$TMPD/q" "$_rs" >"$TMPD/q.out" 2>"$TMPD/q.err"; qrc=$?
    "$INSTAR_IMG" resize "$@" "$TMPD/i" "$_rs" >"$TMPD/i.out" 2>"$TMPD/i.err"; irc=$?
}

# outcome DESC: $qc and $ic (ok or fail) from $qrc and $irc, and $desc:
# DESC and both outcomes.
outcome() {
    [ "$qrc" -eq 0 ] && qc=ok || qc=fail
    [ "$irc" -eq 0 ] && ic=ok || ic=fail
    desc="$1: qemu $qc, instar $ic"
}

# split_outcome: when one tool failed and the other did not, the case's
# failed check (with both tools' words) and 0; else 1, no check.
split_outcome() {
    [ "$qc" != "$ic" ] || return 1
    ok 1 "$desc"
    diag "qemu: $(cat "$TMPD/q.err")" "instar: $(cat "$TMPD/i.err")"
}

# same_refusal: both refused: the same message (err_text), and instar's
# copy still byte-identical to orig.
same_refusal() {
    qm=$(err_text "$TMPD/q.err"); im=$(err_text "$TMPD/i.err")
    r=0; [ "$qm" = "$im" ] || r=1
    cmp -s "$TMPD/orig" "$TMPD/i" || r=1
    ok $r "$desc: same message, file untouched"
    [ $r -eq 0 ] || diag "qemu: $qm" "instar: $im"
}

# same_info [Q I]: equal normalised `qemu-img info' of qemu's and
# instar's image (default q and i; kept in $TMPD/q.info and i.info).
same_info() {
    norm_info "${1:-$TMPD/q}" "$TMPD/q.info"
    norm_info "${2:-$TMPD/i}" "$TMPD/i.info"
    cmp -s "$TMPD/q.info" "$TMPD/i.info"; r=$?
    ok $r "$desc: same info"
    [ $r -eq 0 ] || diag "$(diff "$TMPD/q.info" "$TMPD/i.info")"
}

# ours_clean: `qemu-img check' finds neither corruptions nor leaks in
# instar's image i (its report in $TMPD/i.check).
ours_clean() {
    check_clean "$TMPD/i" "$TMPD/i.check"; r=$?
    ok $r "$desc: check clean"
    [ $r -eq 0 ] || diag "$(tr -d '\n' < "$TMPD/i.check")"
}

# overlay_with OUT OPTS BACKING BFMT SIZE WRITES: a qcow2 overlay of SIZE
# bytes over BACKING (format BFMT), created with -o OPTS, then WRITES (a
# list of PAT:OFF:LEN, or none) written into it by qemu-io.  Fails, with
# qemu-img's message in c.err, when it cannot be created.
overlay_with() {
    "$QEMU_IMG" create -q -f qcow2 -o "${2:+$2,}backing_file=$3,backing_fmt=$4" "$1" "$5" \
        >c.err 2>&1 || return 1
    for w in $(echo "$6" | tr ',' ' '); do
        [ "$w" = none ] && continue
        pat=${w%%:*} rest=${w#*:}
        "$QEMU_IO" -f qcow2 -c "write -q -P 0x$pat ${rest%%:*} ${rest#*:}" "$1" >/dev/null 2>&1 ||
            diag "qemu-io write $w failed"
    done
}
