#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-rounding.sh -- resize-diff must find tests/wrong-engines/wrong-rounding
# (see its header for how it is wrong) as exactly one finding.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_engine wrong-rounding "op=resize|info:virtual-size|length:bytes" \
    --formats raw --ops resize,resize-shared --seed 7 --iterations 16

done_testing
