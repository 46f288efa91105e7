#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# repl-session.sh -- a scripted instar-fuzz-repl session (piped stdin):
# evaluate a plan, pretty-print it, plan a real file, survive an error,
# explain a fuzz input and read a docstring.
. "$abs_top_srcdir/tests/lib.sh"

repl="$abs_top_builddir/instar-fuzz-repl"
require "$repl" instar-fuzz-repl
img="$TMPD/a.raw"

cat > "$TMPD/session.scm" <<EOS
(define p (plan-resize-raw #:current-file-size 0 #:new-size 5000 #:prealloc 'falloc))
(plan-action p)
(plan-print p)
(image-create "$img" #:size (* 1024 1024))
(define q (show-plan "$img" "+1M"))
(plan-total-file-size q)
(plan-resize-raw #:current-file-size 512 #:new-size 0)
,q
(explain-fuzz-input (make-bytevector 40 1))
,describe image-plan
(display "session-end")
EOS

"$abs_top_builddir/pre-inst-env" "$repl" < "$TMPD/session.scm" > "$TMPD/out" 2>&1
ok $? "the REPL exits 0 at end of input"
sed 's/^/# /' "$TMPD/out"

has() { grep -F -e "$1" "$TMPD/out" > /dev/null; }
has "instar-fuzz " ; ok $? "banner names instar-fuzz"
has "(show-plan PATH" ; ok $? "banner names the main procedures"
has '$1 = grow' ; ok $? "a plan's action is evaluated"
has "plan for raw: grow" ; ok $? "plan-print prints the summary"
has "0x0000000000000000  0x1000" ; ok $? "plan-print shows the patch table in hex"
has "preallocate   0x0 +0x1388" ; ok $? "plan-print shows the preallocated range"
has "file length   1048576 -> 2097152 (0x200000)" ; ok $? "show-plan reads the old length from the file"
has '$3 = 2097152' ; ok $? "the planned total is returned"
[ "$(wc -c < "$img")" -eq 1048576 ] ; ok $? "show-plan left the image untouched"
has "instar error (size-not-positive)" ; ok $? "an instar-error is reported, not fatal"
has "target            qcow2-grow" ; ok $? "explain-fuzz-input decodes the header"
has "resizing PATH without touching it" ; ok $? ",describe shows the docstring"
has "session-end" ; ok $? "the session ran to its end"
! has "Copyright (C)" ; ok $? "our banner replaces Guile's welcome"

"$abs_top_builddir/pre-inst-env" "$repl" --help > "$TMPD/help" 2>&1
ok $? "--help exits 0"
grep -q "Usage: instar-fuzz-repl" "$TMPD/help" ; ok $? "--help prints the usage"
"$abs_top_builddir/pre-inst-env" "$repl" --bogus > /dev/null 2>&1
[ $? -eq 2 ] ; ok $? "an unknown option exits 2"
echo '(display (+ 40 2))' | "$abs_top_builddir/pre-inst-env" "$repl" -q > "$TMPD/quiet" 2>&1
grep -q 42 "$TMPD/quiet" && ! grep -q "instar-fuzz .* REPL" "$TMPD/quiet"
ok $? "--quiet evaluates without the banner"
printf ',q\n(display "after-quit")\n' | "$abs_top_builddir/pre-inst-env" "$repl" -q > "$TMPD/q" 2>&1
ok $? ",q exits 0"
! grep -q after-quit "$TMPD/q" ; ok $? ",q at the top level ends the session"
done_testing
