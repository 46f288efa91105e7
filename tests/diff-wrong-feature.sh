#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-feature.sh -- resize-diff must find tests/wrong-engines/drop-feature
# (see its header for how it is wrong) as exactly one finding.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_engine drop-feature "op=resize|info:format-specific.data.lazy-refcounts" \
    --formats qcow2 --seed 7 --iterations 16

done_testing
