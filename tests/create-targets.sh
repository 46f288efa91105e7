#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# create-targets.sh -- what `instar-img create' does to the thing its path
# names, side by side with qemu-img 7.2, for every format: an existing
# regular file, a FIFO, a character device node (made here, in the private
# directory, never /dev/null itself), a directory, a symlink to a regular
# file, and nothing.  Same exit class, same message, and the same thing
# left at the path -- above all, a failed create never removes a FIFO or
# a device node, and never a regular file it did not create itself.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

# Device nodes need root (mknod); without it those rows are TAP skips.
can_mknod=no
if mknod "$TMPD/probe" c 1 3 2>/dev/null; then
    can_mknod=yes
    rm -f "$TMPD/probe"
fi

make_target() {  # make_target KIND DIR: DIR/x of that kind
    case $1 in
    regular) printf 'precious data\n' > "$2/x" ;;
    fifo) mkfifo "$2/x" ;;
    chr) mknod "$2/x" c 1 3 ;;     # the null device's numbers, in our dir
    dir) mkdir "$2/x" ;;
    symlink) printf 'target data\n' > "$2/t"; ln -s t "$2/x" ;;
    missing) : ;;
    esac
}

# What is at DIR/x afterwards: its type (symlinks not followed) and, for a
# symlink, the type of what it points at.
what_is() {
    t=$(stat -c %F "$1/x" 2>/dev/null || echo gone)
    [ -h "$1/x" ] && t="$t -> $(stat -L -c %F "$1/x" 2>/dev/null || echo gone)"
    echo "$t"
}

# The message without the program name and the path qemu-img puts first.
msg() {  # msg ERRFILE DIR
    head -n 1 "$1" | sed -e 's/^[a-z-]*: //' -e "s|^$2/x: ||" -e "s|$2/|D/|g"
}

skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

for fmt in raw qcow2 vpc vhdx vmdk; do
    for kind in regular fifo chr dir symlink missing; do
        d="create -f $fmt on a $kind"
        if [ $kind = chr ] && [ $can_mknod = no ]; then
            skip "$d" "mknod needs root"
            continue
        fi
        rm -rf "$TMPD/q" "$TMPD/i"
        mkdir "$TMPD/q" "$TMPD/i"
        make_target $kind "$TMPD/q"
        make_target $kind "$TMPD/i"
        "$QEMU_IMG" create -q -f $fmt "$TMPD/q/x" 1M >/dev/null 2>"$TMPD/q.err"; qrc=$?
        "$INSTAR_IMG" create -q -f $fmt "$TMPD/i/x" 1M >/dev/null 2>"$TMPD/i.err"; irc=$?
        [ $qrc -eq 0 ] && qc=ok || qc=refused
        [ $irc -eq 0 ] && ic=ok || ic=refused
        [ $qc = $ic ]; ok $? "$d: qemu $qc, instar $ic"
        qm=$(msg "$TMPD/q.err" "$TMPD/q"); im=$(msg "$TMPD/i.err" "$TMPD/i")
        if [ $fmt = vhdx ] && [ $kind = chr ]; then
            # qemu fails at its flush of the headers (fdatasync: EINVAL on
            # this node); instar refuses the length first.  Both refuse.
            [ -n "$im" ]; ok $? "$d: a message ($im; qemu: $qm)"
        else
            [ "$qm" = "$im" ]; ok $? "$d: same message (${qm:-none})"
            [ "$qm" = "$im" ] || diag "instar said: $im"
        fi
        qw=$(what_is "$TMPD/q"); iw=$(what_is "$TMPD/i")
        [ "$qw" = "$iw" ]; ok $? "$d: leaves a $qw at the path, as qemu"
        [ "$qw" = "$iw" ] || diag "instar left: $iw"
    done
done

# A qcow2 create that fails on I/O (the file size limit; SIGXFSZ ignored
# so the write fails with EFBIG): qemu-img deletes the file even when it
# existed before; instar removes only a file this call created.
limited() {
    sh -c 'trap "" XFSZ; ulimit -f 200; exec "$@"' sh "$@"
}
for tool in qemu instar; do
    rm -rf "$TMPD/$tool"; mkdir "$TMPD/$tool"
    printf 'precious data\n' > "$TMPD/$tool/pre"
done
limited "$QEMU_IMG" create -q -f qcow2 -o preallocation=full "$TMPD/qemu/pre" 1M \
    >/dev/null 2>"$TMPD/q.err"; qrc=$?
limited "$INSTAR_IMG" create -q -f qcow2 -o preallocation=full "$TMPD/instar/pre" 1M \
    >/dev/null 2>"$TMPD/i.err"; irc=$?
[ $qrc -eq 1 ] && [ $irc -eq 1 ]; ok $? "qcow2 create past the file size limit fails (qemu $qrc, instar $irc)"
qm=$(head -n 1 "$TMPD/q.err" | sed 's/^.*pre: //'); im=$(head -n 1 "$TMPD/i.err" | sed 's/^[a-z-]*: //')
[ "$qm" = "$im" ]; ok $? "... with qemu's message ($qm)"
[ -f "$TMPD/instar/pre" ]; ok $? "... and keeps the file it did not create (qemu removes it)"
limited "$INSTAR_IMG" create -q -f qcow2 -o preallocation=full "$TMPD/instar/new" 1M \
    >/dev/null 2>&1
[ ! -e "$TMPD/instar/new" ]; ok $? "a failed qcow2 create removes the file it created (as qemu)"

# A raw create whose length the kernel refuses reports the kernel's errno.
rm -rf "$TMPD/i"; mkdir "$TMPD/i"; mkfifo "$TMPD/i/x"
"$INSTAR_IMG" create -q -f raw "$TMPD/i/x" 1M >/dev/null 2>"$TMPD/i.err"
grep -q "Could not resize file: Invalid argument" "$TMPD/i.err"
ok $? "ftruncate's EINVAL is reported as such ($(head -n 1 "$TMPD/i.err"))"

done_testing
