# SPDX-License-Identifier: GPL-3.0-or-later
# bench-lib.sh -- the start the shell benchmarks of the differential
# engine share (sourced by bench/diff-bench.sh and bench/campaign-bench.sh):
# unset variables are errors; the source and build trees (make passes
# both); qemu-img and qemu-io (from make, else from PATH) exported, with
# Guile's auto-compilation off; a private directory $d, removed on exit.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${builddir:-$(pwd)}
QEMU_IMG=${QEMU_IMG:-$(command -v qemu-img)}
QEMU_IO=${QEMU_IO:-$(command -v qemu-io)}
export QEMU_IMG QEMU_IO GUILE_AUTO_COMPILE=0
d=$(mktemp -d "${TMPDIR:-/tmp}/instar-bench.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
