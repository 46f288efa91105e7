# SPDX-License-Identifier: GPL-3.0-or-later
# common.sh -- shared by the deliberately wrong engines: each is
# qemu-img, wrong in exactly one way, used through --instar.
QEMU_IMG=${QEMU_IMG:-qemu-img}
QEMU_IO=${QEMU_IO:-qemu-io}

# Sets: cmd, fmt, file (the image), last (the size argument).
parse_args() {
    cmd=$1 fmt= file= last=
    prev=
    for a in "$@"; do
        [ "$prev" = -f ] && fmt=$a
        file=$last last=$a prev=$a
    done
}

# bytes SPEC: a size like 15M, 1024, 717K as bytes (integers only).
bytes() {
    case $1 in
        *K|*k) echo $(( ${1%?} * 1024 ));;
        *M|*m) echo $(( ${1%?} * 1048576 ));;
        *G|*g) echo $(( ${1%?} * 1073741824 ));;
        *T|*t) echo $(( ${1%?} * 1099511627776 ));;
        *) echo $(( $1 ));;
    esac
}

# u8 FILE OFFSET / be64 FILE OFFSET: read header fields.
u8() { od -An -tu1 -j"$2" -N1 "$1" | tr -d ' '; }
be64() { echo $(( 0x$(od -An -tx1 -j"$2" -N8 "$1" | tr -d ' \n') )); }
# put_u8 FILE OFFSET VALUE
put_u8() { printf "\\$(printf %o "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# try_qemu ARGS...: run qemu-img; its messages are kept in $err.
try_qemu() { err=$("$QEMU_IMG" "$@" 2>&1 >/dev/null); }
# refused_with TEXT: the last try_qemu failed with a message containing TEXT.
refused_with() { case $err in *"$1"*) return 0;; esac; return 1; }
# fail: give up as qemu-img did.
fail() { printf '%s\n' "$err" >&2; exit 1; }
# qemu_size FORMAT FILE: the virtual size qemu-img reads.
qemu_size() {
    "$QEMU_IMG" info --output=json -f "$1" "$2" |
        sed -n 's/^ *"virtual-size": \([0-9]*\),*$/\1/p'
}
