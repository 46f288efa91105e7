#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-leak.sh -- resize-diff must find tests/wrong-engines/leak
# (see its header for how it is wrong) as exactly one finding.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_engine leak "op=resize|check:leaks|check:status" --formats qcow2 --seed 7 --iterations 10

done_testing
