# SPDX-License-Identifier: GPL-3.0-or-later
## core/vhdx.mk -- the vhdx planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += \
	core/resize/vhdx.c core/resize/vhdx.h core/resize/vhdx-facts.c core/resize/vhdx-emit.c \
	core/resize/vhdx-shrink.c core/resize/vhdx-grow.c \
	core/resize/vhdx-parse.c core/resize/vhdx-format.h \
	core/image/vhdx.c core/image/vhdx-create.c core/image/vhdx-create.h \
	core/util/crc32c.c core/util/crc32c.h

# C unit tests (joined into C_TESTS, so CI's sanitizer build runs them too).
FORMAT_C_TESTS += tests/c/test-vhdx
check_PROGRAMS += tests/c/test-vhdx
TESTS += tests/c/test-vhdx
tests_c_test_vhdx_SOURCES = tests/c/test-vhdx.c tests/c/tap.h
tests_c_test_vhdx_LDADD = core/libinstar.la

# Applies the first K patches of a planned resize: crash prefixes for the
# shell suite.

# Integration tests against qemu-img / qemu-io.
VHDX_SH_TESTS = tests/vhdx-create.sh tests/vhdx-consistency.sh tests/vhdx-hostile.sh
TESTS += $(VHDX_SH_TESTS)
EXTRA_DIST += $(VHDX_SH_TESTS)

bench_instar_bench_SOURCES += bench/bench-vhdx.c
