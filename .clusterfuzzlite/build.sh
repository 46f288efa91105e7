#!/bin/bash -eu
# SPDX-License-Identifier: GPL-3.0-or-later
# build.sh -- ClusterFuzzLite's entry point (run as $SRC/build.sh in the
# builder image): the project's one OSS-Fuzz build script, which reads
# $CC $CXX $CFLAGS $LIB_FUZZING_ENGINE $OUT $WORK and writes each target
# with its seed corpus zip, dictionary and options file into $OUT.
exec "$SRC/instar-fuzz/core/fuzz/build.sh"
