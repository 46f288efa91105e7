# SPDX-License-Identifier: GPL-3.0-or-later
## core/qcow2.mk -- the qcow2 planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += \
	core/resize/qcow2.c core/resize/qcow2.h core/resize/qcow2-format.h \
	core/resize/qcow2-header.c core/resize/qcow2-refcount.c \
	core/resize/qcow2-alloc.c core/resize/qcow2-grow.c \
	core/resize/qcow2-shrink.c core/resize/qcow2-bitmaps.c core/resize/qcow2-compact.c \
	core/resize/qcow2-zero.c core/resize/qcow2-discard.c \
	core/image/qcow2.c

QCOW2_TEST_LIB = tests/c/qcow2-testimg.c tests/c/qcow2-testimg.h \
	tests/c/qcow2-testutil.h tests/c/tap.h
FORMAT_C_TESTS += tests/c/test-qcow2-grow
check_PROGRAMS += tests/c/test-qcow2-grow
TESTS += tests/c/test-qcow2-grow
tests_c_test_qcow2_grow_SOURCES = tests/c/test-qcow2-grow.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_grow_LDADD = core/libinstar.la
FORMAT_C_TESTS += tests/c/test-qcow2-shrink
check_PROGRAMS += tests/c/test-qcow2-shrink
TESTS += tests/c/test-qcow2-shrink
tests_c_test_qcow2_shrink_SOURCES = tests/c/test-qcow2-shrink.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_shrink_LDADD = core/libinstar.la
FORMAT_C_TESTS += tests/c/test-qcow2-prealloc
check_PROGRAMS += tests/c/test-qcow2-prealloc
TESTS += tests/c/test-qcow2-prealloc
tests_c_test_qcow2_prealloc_SOURCES = tests/c/test-qcow2-prealloc.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_prealloc_LDADD = core/libinstar.la

BENCH_FORMAT_SOURCES += bench/bench-qcow2.c tests/c/qcow2-testimg.c tests/c/qcow2-testimg.h

# A small qcow2 comparison with qemu-img (the broad matrix is qcow2-create.mk's).
TESTS += tests/qcow2-smoke.sh tests/qcow2-bitmap-limits.sh tests/qcow2-many-l2.sh \
	tests/qcow2-backing-vs-qemu.sh tests/qcow2-discard-vs-qemu.sh \
	tests/qcow2-prealloc-head-vs-qemu.sh tests/qcow2-data-file.sh tests/qcow2-cow-vs-qemu.sh
EXTRA_DIST += tests/qcow2-smoke.sh tests/qcow2-bitmap-limits.sh tests/qcow2-many-l2.sh \
	tests/qcow2-backing-vs-qemu.sh tests/qcow2-discard-vs-qemu.sh \
	tests/qcow2-prealloc-head-vs-qemu.sh tests/qcow2-data-file.sh tests/qcow2-cow-vs-qemu.sh
FORMAT_C_TESTS += tests/c/test-qcow2-hostile
check_PROGRAMS += tests/c/test-qcow2-hostile
TESTS += tests/c/test-qcow2-hostile
tests_c_test_qcow2_hostile_SOURCES = tests/c/test-qcow2-hostile.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_hostile_LDADD = core/libinstar.la
FORMAT_C_TESTS += tests/c/test-qcow2-discard
check_PROGRAMS += tests/c/test-qcow2-discard
TESTS += tests/c/test-qcow2-discard
tests_c_test_qcow2_discard_SOURCES = tests/c/test-qcow2-discard.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_discard_LDADD = core/libinstar.la
