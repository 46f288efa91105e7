#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# cflite-build.sh -- what of ClusterFuzzLite runs here: its build entry
# point (.clusterfuzzlite/build.sh, hence core/fuzz/build.sh) under the
# OSS-Fuzz environment (CC CXX CFLAGS LIB_FUZZING_ENGINE OUT SRC WORK in
# a private directory, the source where the Dockerfile copies it, ASan
# flags as OSS-Fuzz sets them), then each target as ClusterFuzzLite uses
# it: its options file read as an INI file, its dictionary loaded, its
# seed-corpus zip complete and run through the target.  Docker and the
# GitHub workflow do not run here.
. "$abs_top_srcdir/tests/lib.sh"
CLANG=${CLANG:-clang}
require "$(command -v "$CLANG")" clang
require "$(command -v "${CLANG}++")" clang++
require "$(command -v zip)" zip
require "$(command -v unzip)" unzip
PYTHON3=${PYTHON3:-python3}
require "$(command -v "$PYTHON3")" python3
cf="$abs_top_srcdir/.clusterfuzzlite"

for f in Dockerfile build.sh project.yaml; do
    ok $([ -s "$cf/$f" ]; echo $?) ".clusterfuzzlite/$f is there"
done
grep -qx 'language: c' "$cf/project.yaml"
ok $? "project.yaml: language c"
grep -q '^COPY \. \$SRC/instar-fuzz$' "$cf/Dockerfile" &&
    grep -q '^COPY \.clusterfuzzlite/build\.sh \$SRC/$' "$cf/Dockerfile"
ok $? "Dockerfile: the source in \$SRC/instar-fuzz, build.sh in \$SRC"
for w in cflite_pr cflite_batch; do
    grep -q "mode: '$( [ $w = cflite_pr ] && echo code-change || echo batch )'" \
        "$abs_top_srcdir/.github/workflows/$w.yml"
    ok $? "workflow $w.yml: its mode"
done

# The builder image's layout and environment, in a private directory.
SRC="$TMPD/src" OUT="$TMPD/out" WORK="$TMPD/work"
mkdir -p "$SRC" "$OUT" "$WORK"
ln -s "$abs_top_srcdir" "$SRC/instar-fuzz"
cp "$cf/build.sh" "$SRC/build.sh"
SAN="-fsanitize=address -fsanitize-address-use-after-scope"
( cd "$SRC/instar-fuzz" &&
  env SRC="$SRC" OUT="$OUT" WORK="$WORK" CC="$CLANG" CXX="${CLANG}++" \
      CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only $SAN -fsanitize=fuzzer-no-link" \
      CXXFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only $SAN -fsanitize=fuzzer-no-link" \
      LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
      bash "$SRC/build.sh" ) >"$TMPD/build.log" 2>&1
st=$?
[ $st -eq 0 ] || diag "$(tail -20 "$TMPD/build.log")"
ok $st "\$SRC/build.sh under the OSS-Fuzz environment (exit $st)"

for t in fuzz_resize_planners fuzz_resize_engine; do
    ok $([ -x "$OUT/$t" ]; echo $?) "$t built into \$OUT"
    nm "$OUT/$t" 2>/dev/null | grep -q '__asan_init'
    ok $? "$t: built with ASan from CFLAGS"
    # The options file as ClusterFuzzLite reads it (configparser).
    opts=$("$PYTHON3" - "$OUT/$t.options" <<'PY'
import configparser, sys
c = configparser.ConfigParser()
c.read(sys.argv[1])
print(" ".join("-%s=%s" % kv for kv in c["libfuzzer"].items()))
PY
)
    ok $? "$t.options: a [libfuzzer] section ($opts)"
    case " $opts " in *" -dict=$t.dict "*) d=0;; *) d=1;; esac
    ok $([ $d -eq 0 ] && [ -s "$OUT/$t.dict" ]; echo $?) "$t.options names $t.dict, which is in \$OUT"
    # The seed corpus: every seed file, nothing else.
    want=$(find "$abs_top_srcdir/corpus/$t" -maxdepth 1 -type f ! -name README ! -name '.*' | wc -l)
    got=$(unzip -Z1 "$OUT/${t}_seed_corpus.zip" | wc -l)
    ok $([ "$want" -gt 0 ] && [ "$got" -eq "$want" ]; echo $?) "${t}_seed_corpus.zip: $got of $want seeds"
    mkdir -p "$TMPD/seeds-$t"
    unzip -q "$OUT/${t}_seed_corpus.zip" -d "$TMPD/seeds-$t"
    # Every seed through the target with its options (the dictionary
    # path relative to $OUT, as the runner sees it): no crash.
    # shellcheck disable=SC2086
    ( cd "$OUT" && "./$t" $opts -runs=0 "$TMPD/seeds-$t" ) >"$TMPD/$t.log" 2>&1; st=$?
    grep -q 'Dictionary: [1-9][0-9]* entries' "$TMPD/$t.log"; dict=$?
    ok $([ $st -eq 0 ] && [ $dict -eq 0 ]; echo $?) "$t runs its seed corpus with its options and dictionary (exit $st)"
    [ $st -eq 0 ] || diag "$(tail -5 "$TMPD/$t.log")"
done

done_testing
