#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# cli-usage.sh -- instar-img's command line: usage errors exit 2 with a
# message, refusals exit 1 and leave the file as it was.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
I=$INSTAR_IMG

"$I" >/dev/null 2>"$TMPD/err"; ok $([ $? -eq 2 ] && grep -q 'missing command' "$TMPD/err"; echo $?) "no command: exit 2 with a message"
"$I" frobnicate x 1 >/dev/null 2>&1; ok $([ $? -eq 2 ]; echo $?) "unknown command: exit 2"
"$I" --help | grep -q '^usage: instar-img'; ok $? "--help prints usage"
"$I" --version | grep -q 'instar-img'; ok $? "--version prints the version"

printf 'abcdefgh' > "$TMPD/a.raw"
"$I" resize --bogus "$TMPD/a.raw" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 2 ] && grep -q "unrecognized option '--bogus'" "$TMPD/err"; echo $?) "unknown flag: exit 2 naming it"
"$I" resize --preallocation=none "$TMPD/a.raw" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 2 ] && grep -q "Invalid preallocation mode 'none'" "$TMPD/err"; echo $?) "bad preallocation mode: exit 2"
"$I" resize -f nosuchfmt "$TMPD/a.raw" 1M >/dev/null 2>&1; ok $([ $? -eq 2 ]; echo $?) "unknown format: exit 2"
"$I" resize "$TMPD/a.raw" >/dev/null 2>&1; ok $([ $? -eq 2 ]; echo $?) "missing size: exit 2"
"$I" resize -f raw "$TMPD/a.raw" 1Q >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q "expects a non-negative number below 2^64" "$TMPD/err"; echo $?) "bad size syntax: exit 1 with qemu's message"
"$I" resize -f raw "$TMPD/a.raw" 16E >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q "Value '16E' is out of range" "$TMPD/err"; echo $?) "size beyond 2^64: out of range"
"$I" resize -f raw "$TMPD/a.raw" 4 >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q -- "--shrink" "$TMPD/err"; echo $?) "shrink without flag: exit 1"
ok $([ "$(cat "$TMPD/a.raw")" = abcdefgh ]; echo $?) "refusals left the file untouched"
"$I" resize -f raw "$TMPD/nonexistent" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q "Could not open" "$TMPD/err"; echo $?) "missing file: exit 1, Could not open"
"$I" resize -f qcow2 "$TMPD/a.raw" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && [ -s "$TMPD/err" ] && [ "$(cat "$TMPD/a.raw")" = abcdefgh ]; echo $?) "a raw file resized as qcow2: exit 1 with a message, file untouched"

"$I" resize -q -f raw "$TMPD/a.raw" 1K >"$TMPD/out" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && [ ! -s "$TMPD/out" ] && [ "$(stat -c %s "$TMPD/a.raw")" = 1024 ]; echo $?) "-q resize is silent and works"
"$I" resize -f raw "$TMPD/a.raw" -- -512 >"$TMPD/out" 2>&1; rc=$?
ok $([ $rc -eq 1 ]; echo $?) "-- before a negative size still needs --shrink"
"$I" resize --shrink "$TMPD/a.raw" -512 >"$TMPD/out" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q '^Image resized.$' "$TMPD/out" && [ "$(stat -c %s "$TMPD/a.raw")" = 512 ]; echo $?) "negative size as the last argument shrinks (format probed)"

"$I" plan -f raw "$TMPD/a.raw" +1M >"$TMPD/plan.json" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q '"action": "grow"' "$TMPD/plan.json" && grep -q '"total-file-size": 1049088' "$TMPD/plan.json"; echo $?) "plan prints JSON"
ok $([ "$(stat -c %s "$TMPD/a.raw")" = 512 ]; echo $?) "plan does not touch the file"

"$I" create -q -f raw "$TMPD/c.raw" 1000 >/dev/null 2>&1; rc=$?
ok $([ $rc -eq 0 ] && [ "$(stat -c %s "$TMPD/c.raw")" = 1024 ]; echo $?) "create rounds 1000 up to 1024"
"$I" create -f raw -o preallocation=metadata "$TMPD/d.raw" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q "Unsupported preallocation mode: metadata" "$TMPD/err"; echo $?) "create raw metadata prealloc refused"
"$I" create -f raw -o nosuch=1 "$TMPD/d.raw" 1M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 1 ] && grep -q "Invalid parameter 'nosuch'" "$TMPD/err"; echo $?) "create with an unknown option refused"

done_testing
