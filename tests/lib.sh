# SPDX-License-Identifier: GPL-3.0-or-later
# lib.sh -- TAP helpers and a private temporary directory for shell tests.
# Sourced by tests/*.sh; every check is one TAP line.

tap_n=0
tap_fail=0

ok() {  # ok COND-STATUS DESCRIPTION
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        echo "not ok $tap_n - $2"
        tap_fail=$((tap_fail + 1))
    fi
}

diag() { printf '# %s\n' "$@"; }

done_testing() {
    echo "1..$tap_n"
    [ "$tap_fail" -eq 0 ]
}

# A private scratch directory, removed on exit.
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/instar-test.XXXXXX") || exit 99
trap 'rm -rf "$TMPD"' EXIT

# Require a tool; missing tools are a hard error, not a skip, so a
# misconfigured machine can never pass as green.
require() {
    if [ -z "$1" ] || ! [ -x "$1" ]; then
        echo "Bail out! required tool missing: ${2:-$1}"
        exit 99
    fi
}

# require_tools TOOL...: each of instar-img, qemu-img, qemu-io and
# apply-prefix (then at $PREFIX) required, as `require' does.
require_tools() {
    for _rt in "$@"; do
        case $_rt in
        instar-img) require "$INSTAR_IMG" instar-img ;;
        qemu-img) require "$QEMU_IMG" qemu-img ;;
        qemu-io) require "$QEMU_IO" qemu-io ;;
        apply-prefix)
            PREFIX="$abs_top_builddir/tests/tools/apply-prefix"
            require "$PREFIX" apply-prefix ;;
        *) echo "Bail out! require_tools: no such tool: $_rt"; exit 99 ;;
        esac
    done
}

# create_by CREATOR ARG...: `qemu-img create ARG...' when CREATOR is qemu,
# else `instar-img create ARG...' (the start images of the consistency
# tests come from both).
create_by() {
    _cb=$1; shift
    if [ "$_cb" = qemu ]; then
        "$QEMU_IMG" create "$@"
    else
        "$INSTAR_IMG" create "$@"
    fi
}

# A private tmpfs of SIZE at $MNT ($TMPD/mnt), unmounted on exit.  Without
# the right to mount (not root, no mount namespace) the test says so as
# its one TAP line, a skip, and ends: the in-memory C tests cover the
# same paths.
private_tmpfs() {  # private_tmpfs SIZE
    MNT="$TMPD/mnt"
    mkdir "$MNT" || exit 99
    if ! mount -t tmpfs -o size="$1" tmpfs "$MNT" 2>"$TMPD/mount.err"; then
        echo "ok 1 # SKIP cannot mount a tmpfs: $(cat "$TMPD/mount.err")"
        echo "1..1"
        exit 0
    fi
    trap 'umount "$MNT"; rm -rf "$TMPD"' EXIT
}

# ---- qemu as the reader of an image (the consistency tests) -------------

qemu_vsize() {  # qemu_vsize FMT FILE: the virtual size qemu-img reads, or nothing
    "$QEMU_IMG" info --output=json -f "$1" "$2" 2>/dev/null |
        sed -n 's/^ *"virtual-size": \([0-9]*\),*$/\1/p' | head -n 1
}

qemu_clean() {  # qemu_clean FMT FILE: qemu-img check finds nothing to say
    "$QEMU_IMG" check -q -f "$1" "$2" >/dev/null 2>&1
}

# qemu-io exits 0 even when a pattern does not match: its output tells.
qemu_io() {  # qemu_io FMT FILE CMD...: 0 when every command ran and matched
    _qfmt=$1 _qf=$2; shift 2       # globals prefixed _q: sh has no locals
    _qn=$#
    for _qc in "$@"; do
        set -- "$@" -c "$_qc"
    done
    shift "$_qn"
    _qout=$("$QEMU_IO" -f "$_qfmt" "$@" "$_qf" 2>&1)
    _qrc=$?
    if [ $_qrc -ne 0 ] || printf '%s\n' "$_qout" | grep -Eqi 'fail|error|mismatch'; then
        printf '%s\n' "$_qout" | grep -Ei 'fail|error|mismatch' | head -3 | sed 's/^/# qemu-io: /'
        return 1
    fi
    return 0
}

# The consistency tests read one format through qemu: after
# `qemu_reads FMT', vsize FILE, qio FILE CMD... and checks_clean FILE are
# qemu_vsize, qemu_io and qemu_clean for FMT.
qemu_reads() { QFMT=$1; }
vsize() { qemu_vsize "$QFMT" "$1"; }
qio() { qemu_io "$QFMT" "$@"; }
checks_clean() { qemu_clean "$QFMT" "$1"; }

# ---- the differential recipes (tests/diff-*.sh) --------------------------

# qemu-img and qemu-io required and exported, RECIPE (resize-diff), WRONG
# (the deliberately wrong engines), and the build tree's compiled modules.
recipe_setup() {
    require "$QEMU_IMG" qemu-img
    require "$QEMU_IO" qemu-io
    GUILE=${GUILE:-guile}
    RECIPE="$abs_top_srcdir/recipes/resize-diff.scm"
    WRONG="$abs_top_srcdir/tests/wrong-engines"
    export QEMU_IMG QEMU_IO GUILE_AUTO_COMPILE=0
    GUILE_LOAD_COMPILED_PATH="$abs_top_builddir/scm${GUILE_LOAD_COMPILED_PATH:+:$GUILE_LOAD_COMPILED_PATH}"
    export GUILE_LOAD_COMPILED_PATH
}
