# SPDX-License-Identifier: GPL-3.0-or-later
## core/vmdk.mk -- the vmdk planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vmdk.c core/resize/vmdk.h core/resize/vmdk-layout.c \
	core/resize/vmdk-shrink.c core/resize/vmdk-grow.c core/image/vmdk.c
core_libinstar_la_SOURCES += core/resize/vmdk-format.h core/resize/vmdk-header.c \
	core/resize/vmdk-desc.c
core_libinstar_la_SOURCES += core/image/vmdk-create.c core/image/vmdk-create.h

# Tests: the consistency oracle against qemu-img/qemu-io, and its crash-prefix driver.
TESTS += tests/vmdk-consistency.sh tests/vmdk-create.sh
EXTRA_DIST += tests/vmdk-consistency.sh tests/vmdk-create.sh
check_PROGRAMS += tests/c/test-vmdk
tests_c_test_vmdk_SOURCES = tests/c/test-vmdk.c tests/c/tap.h
tests_c_test_vmdk_LDADD = core/libinstar.la
TESTS += tests/c/test-vmdk
FORMAT_C_TESTS += tests/c/test-vmdk

bench_instar_bench_SOURCES += bench/bench-vmdk.c
check_PROGRAMS += tests/tools/vmdk-synth
tests_tools_vmdk_synth_SOURCES = tests/tools/vmdk-synth.c
tests_tools_vmdk_synth_LDADD = core/libinstar.la
