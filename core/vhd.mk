# SPDX-License-Identifier: GPL-3.0-or-later
## core/vhd.mk -- the VHD (qemu: vpc) planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vhd.c core/resize/vhd-format.h \
	core/resize/vhd-footer.c core/image/vhd.c

# Tests: planner unit tests on in-memory images, the crash-prefix driver
# and the consistency oracle against qemu-img / qemu-io.
TESTS += tests/vhd-consistency.sh
EXTRA_DIST += tests/vhd-consistency.sh
check_PROGRAMS += tests/c/test-vhd
FORMAT_C_TESTS += tests/c/test-vhd
TESTS += tests/c/test-vhd
tests_c_test_vhd_SOURCES = tests/c/test-vhd.c tests/c/tap.h
tests_c_test_vhd_LDADD = core/libinstar.la

# Benchmarks: plans per second per VHD growth path.
bench_instar_bench_SOURCES += bench/bench-vhd.c
