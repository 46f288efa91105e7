# SPDX-License-Identifier: GPL-3.0-or-later
## core/qcow2-create.mk -- qcow2 create, the qcow2 integration matrix against qemu-img,
## crash-prefix checks and qcow2 engine benchmarks.

core_libinstar_la_SOURCES += core/image/qcow2-create.c core/image/qcow2-create.h
core_libinstar_la_SOURCES += core/image/qcow2-create-layout.c core/image/qcow2-create-layout.h

# C unit test of create (in memory; also run under ASan/UBSan in CI).
FORMAT_C_TESTS += tests/tools/test-create-qcow2
check_PROGRAMS += tests/tools/test-create-qcow2
TESTS += tests/tools/test-create-qcow2
tests_tools_test_create_qcow2_SOURCES = tests/tools/test-create-qcow2.c tests/c/tap.h
tests_tools_test_create_qcow2_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/c
tests_tools_test_create_qcow2_LDADD = core/libinstar.la

# A test driver: plan a resize, apply only the first K patches (a crash).

# Integration tests against qemu-img (TAP, tests/lib.sh).
# Cases instar refuses as "not supported" while qemu succeeds are TAP TODO
# (XFAIL) lines, so the known gaps stay visible in every summary.
QCOW2_CREATE_SH_TESTS = \
	tests/qcow2-create-vs-qemu.sh \
	tests/qcow2-vs-qemu.sh \
	tests/qcow2-crash-prefix.sh
TESTS += $(QCOW2_CREATE_SH_TESTS)
EXTRA_DIST += $(QCOW2_CREATE_SH_TESTS) tests/qcow2-lib.sh

# Benchmarks: instar-img vs qemu-img resize (wall time, peak memory) and
# qcow2 creates per second; `make bench' runs them after instar-bench.
check_PROGRAMS += tests/tools/create-rate
tests_tools_create_rate_SOURCES = tests/tools/create-rate.c
tests_tools_create_rate_LDADD = core/libinstar.la
EXTRA_DIST += bench/qcow2-vs-qemu.sh

bench-qcow2-vs-qemu: core/cli/instar-img$(EXEEXT) tests/tools/create-rate$(EXEEXT)
	INSTAR_IMG='$(abs_top_builddir)/core/cli/instar-img' QEMU_IMG='$(QEMU_IMG)' \
	QEMU_IO='$(QEMU_IO)' CREATE_RATE='$(abs_top_builddir)/tests/tools/create-rate' \
	$(SHELL) $(srcdir)/bench/qcow2-vs-qemu.sh
.PHONY: bench-qcow2-vs-qemu
bench: bench-qcow2-vs-qemu

# Manual: a subsection for the qcow2 section (the lead includes it from
# doc/formats.texi after fmt-qcow2.texi).
