# SPDX-License-Identifier: GPL-3.0-or-later
## tests/local.mk -- every test runs through automake's TAP driver, so each
## assertion is counted (.ci/run sums the :test-result: lines).

LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_DRIVER = $(LOG_DRIVER)
TEST_EXTENSIONS = .sh
AM_TESTS_ENVIRONMENT = \
	INSTAR_IMG='$(abs_top_builddir)/core/cli/instar-img'; export INSTAR_IMG; \
	QEMU_IMG='$(QEMU_IMG)'; export QEMU_IMG; \
	QEMU_IO='$(QEMU_IO)'; export QEMU_IO; \
	SEVENZIP='$(SEVENZIP)'; export SEVENZIP; \
	VHDIINFO='$(VHDIINFO)'; export VHDIINFO; \
	VMDKINFO='$(VMDKINFO)'; export VMDKINFO; \
	PYTHON3='$(PYTHON3)'; export PYTHON3; \
	abs_top_srcdir='$(abs_top_srcdir)'; export abs_top_srcdir; \
	abs_top_builddir='$(abs_top_builddir)'; export abs_top_builddir; \
	INSTAR_OSS_SOURCES='$(oss_sources_expected)'; export INSTAR_OSS_SOURCES;

# What the OSS-Fuzz build script must compile, from automake's own lists
# (tests/oss-build-sources.sh compares: the script cannot read them).
oss_sources_expected = \
	$(addprefix core:,$(filter %.c,$(core_libinstar_la_SOURCES))) \
	$(addprefix fuzz_resize_planners:,$(filter %.c,$(fuzz_target_sources_planners))) \
	$(addprefix fuzz_resize_engine:,$(filter %.c,$(fuzz_target_sources_engine)))

# The C unit tests: also what CI's sanitizer build runs (make check-c).
CORE_C_TESTS = \
	tests/c/test-invariants \
	tests/c/test-size \
	tests/c/test-raw \
	tests/c/test-apply-failure \
	tests/c/test-create-opts \
	tests/c/test-random \
	tests/c/test-refusals \
	tests/c/test-scan \
	tests/c/test-builder
# The format fragments register their own C tests in TESTS; C_TESTS is the
# whole list for the sanitizer run.
C_TESTS = $(CORE_C_TESTS) $(FORMAT_C_TESTS)

check_PROGRAMS += $(CORE_C_TESTS)
tests_c_test_invariants_SOURCES = tests/c/test-invariants.c tests/c/tap.h
tests_c_test_invariants_LDADD = core/libinstar.la
tests_c_test_size_SOURCES = tests/c/test-size.c tests/c/tap.h
tests_c_test_size_LDADD = core/libinstar.la
tests_c_test_raw_SOURCES = tests/c/test-raw.c tests/c/tap.h
tests_c_test_raw_LDADD = core/libinstar.la
tests_c_test_apply_failure_SOURCES = tests/c/test-apply-failure.c tests/c/tap.h
tests_c_test_apply_failure_LDADD = core/libinstar.la
tests_c_test_create_opts_SOURCES = tests/c/test-create-opts.c tests/c/tap.h
tests_c_test_create_opts_LDADD = core/libinstar.la
tests_c_test_random_SOURCES = tests/c/test-random.c tests/c/tap.h
tests_c_test_random_LDADD = core/libinstar.la
tests_c_test_scan_SOURCES = tests/c/test-scan.c tests/c/tap.h
tests_c_test_scan_LDADD = core/libinstar.la
tests_c_test_refusals_SOURCES = tests/c/test-refusals.c tests/c/tap.h
tests_c_test_refusals_LDADD = core/libinstar.la
tests_c_test_builder_SOURCES = tests/c/test-builder.c tests/c/tap.h
tests_c_test_builder_LDADD = core/libinstar.la

# Crash simulation for every format's crash-prefix suite.
check_PROGRAMS += tests/tools/apply-prefix
tests_tools_apply_prefix_SOURCES = tests/tools/apply-prefix.c
tests_tools_apply_prefix_LDADD = core/libinstar.la

# Integration tests against the real qemu-img.
SH_TESTS = \
	tests/cli-usage.sh \
	tests/cli-nonregular.sh \
	tests/image-lock.sh \
	tests/apply-nospace.sh \
	tests/qcow2-sparse-tail.sh \
	tests/qcow2-backing-header.sh \
	tests/vhdx-metadata-length.sh \
	tests/vhdx-size-item-overlap.sh \
	tests/raw-vs-qemu.sh \
	tests/create-targets.sh \
	tests/create-options-vs-qemu.sh \
	tests/create-blockdev.sh \
	tests/readers-interop.sh \
	tests/readers-limits.sh \
	tests/spdx.sh \
	tests/oss-build-sources.sh \
	tests/mutants-merge.sh

TESTS += $(CORE_C_TESTS) $(SH_TESTS)
EXTRA_DIST += $(SH_TESTS) tests/lib.sh
# Shared by the C tests of every format fragment and by bench/.
EXTRA_DIST += tests/c/testutil.h

# Run only the C unit tests (the sanitizer build uses this).
check-c:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(C_TESTS)'
.PHONY: check-c
