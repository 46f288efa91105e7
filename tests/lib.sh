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
