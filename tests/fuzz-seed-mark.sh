#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-seed-mark.sh -- the engine target's "accepted seed" check
# (core/fuzz/seed-mark.h) is not traced by libFuzzer.  Traced, its 32-bit
# compare handed libFuzzer the right checksum, a CMP mutation wrote it
# into a mutated input, and that input passed as a marked seed: a false
# "refused a seed it accepted" finding.  Compiled as the fuzz targets are
# (clang, -fsanitize=fuzzer-no-link), the check must be a function of its
# own with no coverage callbacks; the same compare without the attribute
# is traced (so this test can tell the two apart).
. "$abs_top_srcdir/tests/lib.sh"

cc=$(command -v "${FUZZ_CC:-clang}")
require "$cc" "${FUZZ_CC:-clang} (the fuzz targets' compiler)"
objdump=$(command -v objdump)
require "$objdump" objdump

cat >"$TMPD/t.c" <<'C'
#include "fuzz/seed-mark.h"
/* The same compare, without the attribute: the control. */
__attribute__((noinline)) static bool traced_copy(const uint8_t *data, size_t size)
{
    return size >= 24 && (data[3] & INSTAR_SEED_MARK_ACCEPTED) &&
           ((uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 |
            (uint32_t)data[7] << 24) == instar_seed_mark_sum(data, size);
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return instar_seed_marked_accepted(data, size) + traced_copy(data, size);
}
C
"$cc" -std=c11 -O1 -fsanitize=fuzzer-no-link -I"$abs_top_srcdir/core" -c "$TMPD/t.c" \
    -o "$TMPD/t.o" 2>"$TMPD/err"
st=$?
[ $st -eq 0 ] || sed 's/^/# /' "$TMPD/err"
ok $st "seed-mark.h compiles with the fuzz targets' coverage flags"
"$objdump" -d --no-show-raw-insn -r "$TMPD/t.o" >"$TMPD/dis"
body() {  # body FUNCTION: its disassembly
    awk -v f="<$1>:" 'index($0, f) { on = 1; next } on && /^$/ { exit } on' "$TMPD/dis"
}
body instar_seed_marked_accepted >"$TMPD/mark"
[ -s "$TMPD/mark" ]
ok $? "instar_seed_marked_accepted is a function of its own (not inlined into the target)"
n=$(grep -c '__sanitizer_cov' "$TMPD/mark")
[ "$n" -eq 0 ]
ok $? "instar_seed_marked_accepted has no coverage or compare tracing ($n callbacks)"
body traced_copy >"$TMPD/copy"
n=$(grep -c '__sanitizer_cov_trace_cmp' "$TMPD/copy")
[ "$n" -gt 0 ]
ok $? "control: the same compare without the attribute is traced ($n compare callbacks)"

done_testing
