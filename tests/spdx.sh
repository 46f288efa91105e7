#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# spdx.sh -- every source file (C, headers, Scheme, shell, Python, make
# fragments, Texinfo, man pages, scripts) carries an SPDX licence line.
# The list is git's tracked files in a checkout, else the files of the
# distribution tree minus what autotools generate.
. "$abs_top_srcdir/tests/lib.sh"

cd "$abs_top_srcdir" || exit 99
if [ -e .git ] && command -v git >/dev/null 2>&1; then
    git ls-files > "$TMPD/all" || exit 99
else
    # A distribution tree: its own files only, not a build tree inside it
    # (distcheck's _build, _inst) nor what configure and make generate.
    find . -type f ! -path './build-aux/*' ! -path './m4/*' ! -path './autom4te.cache/*' \
        ! -path './_build/*' ! -path './_inst/*' \
        ! -name config.status ! -name libtool ! -name config.h ! -name instar-deps.mk \
        ! -name Makefile.in ! -name configure ! -name aclocal.m4 \
        ! -name version.texi ! -name config.h.in | sed 's|^\./||' > "$TMPD/all"
fi
ok $([ -s "$TMPD/all" ]; echo $?) "the file list is not empty"

# Source files: by extension, or by a #! line (scripts without one).
: > "$TMPD/sources"
while IFS= read -r f; do
    case $f in
        corpus/*|tests/corpus-diff-seeds/*) continue ;;
        *.c|*.h|*.scm|*.sh|*.py|*.mk|*.am|*.ac|*.in|*.texi|*.1) ;;
        *) [ "$(head -c 2 "$f")" = '#!' ] || continue ;;
    esac
    echo "$f" >> "$TMPD/sources"
done < "$TMPD/all"
n=$(wc -l < "$TMPD/sources")
ok $([ "$n" -gt 200 ]; echo $?) "found $n source files"

: > "$TMPD/missing"
while IFS= read -r f; do
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier: GPL-3.0-or-later' ||
        echo "$f" >> "$TMPD/missing"
done < "$TMPD/sources"
sed 's/^/no SPDX line: /' "$TMPD/missing" | while IFS= read -r l; do diag "$l"; done
ok $([ ! -s "$TMPD/missing" ]; echo $?) "every source file has an SPDX line in its first 3 lines"
done_testing
