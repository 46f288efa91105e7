#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-data.sh -- resize-diff must find tests/wrong-engines/lose-data
# (see its header for how it is wrong) as exactly one finding.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_engine lose-data "op=resize|data:compare" --seed 7 --iterations 10

done_testing
