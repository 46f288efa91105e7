#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-backing.sh -- resize-diff's backing start mode must find
# tests/wrong-engines/show-backing (a grow that shows the backing file's
# bytes in the new range) as exactly one finding: the guest data differs.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_engine show-backing "op=resize|data:compare" --formats qcow2 --ops resize-backing --seed 5 --iterations 6

done_testing
