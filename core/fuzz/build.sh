#!/bin/bash -eu
# SPDX-License-Identifier: GPL-3.0-or-later
# build.sh -- OSS-Fuzz / ClusterFuzzLite build script for instar-fuzz's
# libFuzzer targets.  Honours the standard environment:
#   $CC $CFLAGS            compiler and flags (sanitizers, coverage)
#   $CXX                   linker driver (libFuzzer is C++; default $CC)
#   $LIB_FUZZING_ENGINE    the fuzzing engine to link (-fsanitize=fuzzer)
#   $OUT                   where the targets and their files go
#   $WORK                  scratch space (default: a temporary directory)
# and writes, for each target T: $OUT/T, $OUT/T_seed_corpus.zip,
# $OUT/T.dict and $OUT/T.options.
#
# No configure run is needed: the core needs only a few config.h facts,
# written here unless INSTAR_CONFIG_DIR names a configured build tree.
# Locally: `make fuzz-oss-build' runs this with clang into fuzz-build/oss/.
# `build.sh --list-sources' prints the sources it would compile and stops;
# tests/oss-build-sources.sh compares them with the automake lists.
root=$(cd "$(dirname "$0")/../.." && pwd)

# The core: every source of libinstar (util, io, check, resize, image, fuzz
# decoder), not the CLI, tests or fuzz entry points.  Globs, so a new file
# in these directories needs no edit here; a new directory does.
core_srcs=$(cd "$root" && ls core/util/*.c core/io/*.c core/check/*.c core/resize/*.c \
            core/image/*.c core/fuzz/decode.c core/fuzz/print.c)
planners_srcs="core/fuzz/fuzz-resize-planners.c"
engine_srcs="core/fuzz/fuzz-resize-engine.c core/fuzz/reparse.c core/fuzz/sparse-io.c
    core/fuzz/oracle.c core/fuzz/engine-input.c"
if [ "${1:-}" = --list-sources ]; then
    for s in $core_srcs; do echo "core $s"; done
    for s in $planners_srcs; do echo "fuzz_resize_planners $s"; done
    for s in $engine_srcs; do echo "fuzz_resize_engine $s"; done
    exit 0
fi
: "${CC:=clang}" "${CFLAGS:=}" "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}" "${OUT:?set OUT}"
LD=${CXX:-$CC}
own_work=
if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/instar-oss.XXXXXX")
    own_work=$WORK
fi
trap '[ -n "$own_work" ] && rm -rf "$own_work"' EXIT
mkdir -p "$OUT" "$WORK/obj" "$WORK/inc"

if [ -n "${INSTAR_CONFIG_DIR:-}" ] && [ -f "$INSTAR_CONFIG_DIR/config.h" ]; then
    cp "$INSTAR_CONFIG_DIR/config.h" "$WORK/inc/config.h"
else
    cat >"$WORK/inc/config.h" <<'CONF'
#define _GNU_SOURCE 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_FALLOCATE 1
#define PACKAGE_NAME "instar-fuzz"
#define PACKAGE_VERSION "oss-fuzz"
CONF
fi

objs=()
for s in $core_srcs; do
    o="$WORK/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
    # shellcheck disable=SC2086
    $CC $CFLAGS -std=c11 -I"$WORK/inc" -I"$root/core/include" -I"$root/core" -c "$root/$s" -o "$o"
    objs+=("$o")
done
rm -f "$WORK/libinstar-fuzz.a"
ar rcs "$WORK/libinstar-fuzz.a" "${objs[@]}"

build_target() {  # build_target NAME SOURCES...
    local name=$1; shift
    local tobjs=()
    for s in "$@"; do
        local o="$WORK/obj/target_$(basename "$s" .c).o"
        # shellcheck disable=SC2086
        $CC $CFLAGS -std=c11 -I"$WORK/inc" -I"$root/core/include" -I"$root/core" -c "$root/$s" -o "$o"
        tobjs+=("$o")
    done
    # shellcheck disable=SC2086
    $LD $CFLAGS $LIB_FUZZING_ENGINE "${tobjs[@]}" "$WORK/libinstar-fuzz.a" -o "$OUT/$name"
    cp "$root/core/fuzz/$name.dict" "$root/core/fuzz/$name.options" "$OUT/"
    rm -f "$OUT/${name}_seed_corpus.zip"
    (cd "$root/corpus/$name" && find . -maxdepth 1 -type f ! -name README ! -name '.*' -print0 |
        xargs -0 zip -q -j "$OUT/${name}_seed_corpus.zip")
}

# shellcheck disable=SC2086
build_target fuzz_resize_planners $planners_srcs
# shellcheck disable=SC2086
build_target fuzz_resize_engine $engine_srcs
echo "build.sh: targets in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
