# SPDX-License-Identifier: GPL-3.0-or-later
## core/fuzz/local.mk -- libFuzzer targets, their replay drivers and make fuzz-resize.
##
## The decoder is part of libinstar (Scheme and tools share it).  The
## targets build twice: with gcc + replay-main.c (check_PROGRAMS: make
## check replays corpus/ and corpus/crashes/), and with $(FUZZ_CC) +
## libFuzzer into fuzz-build/ (make fuzz-resize, fuzz-engine, fuzz).

core_libinstar_la_SOURCES += \
	core/include/instar/fuzz.h \
	core/fuzz/decode.c \
	core/fuzz/print.c

fuzz_target_sources_planners = core/fuzz/fuzz-resize-planners.c core/fuzz/report.h \
	core/fuzz/plan-rules.h \
	core/fuzz/exec-count.h
fuzz_target_sources_engine = core/fuzz/fuzz-resize-engine.c core/fuzz/report.h core/fuzz/exec-count.h \
	core/fuzz/plan-rules.h \
	core/fuzz/engine-input.c core/fuzz/engine-input.h \
	core/fuzz/seed-mark.h \
	core/fuzz/reparse.c core/fuzz/reparse.h core/fuzz/sparse-io.c core/fuzz/sparse-io.h \
	core/fuzz/oracle.c core/fuzz/oracle.h core/fuzz/spec.h

# gcc replay drivers.
check_PROGRAMS += core/fuzz/replay-resize-planners core/fuzz/replay-resize-engine
core_fuzz_replay_resize_planners_SOURCES = core/fuzz/replay-main.c $(fuzz_target_sources_planners)
core_fuzz_replay_resize_planners_LDADD = core/libinstar.la
core_fuzz_replay_resize_engine_SOURCES = core/fuzz/replay-main.c $(fuzz_target_sources_engine)
core_fuzz_replay_resize_engine_LDADD = core/libinstar.la

# The planner target with a test hook that breaks plans on request: proves
# a broken invariant is reported (tests/fuzz-invariants.sh).
check_PROGRAMS += tests/c/fuzz-break-planners
tests_c_fuzz_break_planners_SOURCES = core/fuzz/replay-main.c $(fuzz_target_sources_planners) \
	tests/c/fuzz-break-hook.c
tests_c_fuzz_break_planners_CPPFLAGS = $(AM_CPPFLAGS) -DINSTAR_FUZZ_TEST_HOOK
tests_c_fuzz_break_planners_LDADD = core/libinstar.la

# Planted faults (tests/fuzz-oracle.sh): the engine target's replay driver
# linked with a copy of one planner source carrying a deliberate, well-formed
# fault (tests/planted/plant.sh); the copy's symbols take the place of the
# library's.  Replaying the corpus must report each through the oracle.
planted_engine_sources = core/fuzz/replay-main.c $(fuzz_target_sources_engine)
planted_engine = tests/planted/replay-refblock-range tests/planted/replay-free-boundary \
	tests/planted/replay-digit-nine tests/planted/replay-release-range \
	tests/planted/replay-vhd-partial-block tests/planted/replay-vmdk-cylinders \
	tests/planted/replay-vhdx-refuse-all tests/planted/replay-vmdk-accept-parent \
	tests/planted/replay-vmdk-adapter-guess tests/planted/replay-vmdk-no-rgd \
	tests/planted/replay-vmdk-key-prefix
check_PROGRAMS += $(planted_engine)
tests_planted_replay_refblock_range_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_refblock_range_SOURCES = tests/planted/refblock-range.c
tests_planted_replay_refblock_range_LDADD = core/libinstar.la
tests_planted_replay_free_boundary_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_free_boundary_SOURCES = tests/planted/free-boundary.c
tests_planted_replay_free_boundary_LDADD = core/libinstar.la
tests_planted_replay_digit_nine_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_digit_nine_SOURCES = tests/planted/digit-nine.c
tests_planted_replay_digit_nine_LDADD = core/libinstar.la
tests_planted_replay_release_range_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_release_range_SOURCES = tests/planted/release-range.c
tests_planted_replay_release_range_LDADD = core/libinstar.la
tests_planted_replay_vhd_partial_block_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vhd_partial_block_SOURCES = tests/planted/vhd-partial-block.c
tests_planted_replay_vhd_partial_block_LDADD = core/libinstar.la
tests_planted_replay_vmdk_cylinders_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vmdk_cylinders_SOURCES = tests/planted/vmdk-cylinders.c
tests_planted_replay_vmdk_cylinders_LDADD = core/libinstar.la
tests_planted_replay_vhdx_refuse_all_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vhdx_refuse_all_SOURCES = tests/planted/vhdx-refuse-all.c
tests_planted_replay_vhdx_refuse_all_LDADD = core/libinstar.la
tests_planted_replay_vmdk_accept_parent_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vmdk_accept_parent_SOURCES = tests/planted/vmdk-accept-parent.c
tests_planted_replay_vmdk_accept_parent_LDADD = core/libinstar.la
tests_planted_replay_vmdk_adapter_guess_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vmdk_adapter_guess_SOURCES = tests/planted/vmdk-adapter-guess.c
tests_planted_replay_vmdk_adapter_guess_LDADD = core/libinstar.la
tests_planted_replay_vmdk_no_rgd_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vmdk_no_rgd_SOURCES = tests/planted/vmdk-no-rgd.c
tests_planted_replay_vmdk_no_rgd_LDADD = core/libinstar.la
tests_planted_replay_vmdk_key_prefix_SOURCES = $(planted_engine_sources)
nodist_tests_planted_replay_vmdk_key_prefix_SOURCES = tests/planted/vmdk-key-prefix.c
tests_planted_replay_vmdk_key_prefix_LDADD = core/libinstar.la
plant = $(SHELL) $(srcdir)/tests/planted/plant.sh
# A refcount block found one index past its run: the block after a run of
# new blocks is taken to exist, so its clusters get no refcounts.
tests/planted/refblock-range.c: $(srcdir)/core/resize/qcow2-alloc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< '&& i - run->first_index < run->count) {' \
	  '&& i - run->first_index <= run->count) {' >$@.tmp && mv $@.tmp $@
# The first free cluster one too early: new metadata over the file's last
# cluster.
tests/planted/free-boundary.c: $(srcdir)/core/resize/qcow2-alloc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< \
	  'uint64_t free_from = q->file_clusters > q->runs_end ? q->file_clusters : q->runs_end;' \
	  'uint64_t free_from = q->file_clusters - 1 > q->runs_end ? q->file_clusters - 1 : q->runs_end;' \
	  >$@.tmp && mv $@.tmp $@
# The VMDK descriptor's number parser stops at a '9'.
tests/planted/digit-nine.c: $(srcdir)/core/resize/vmdk-desc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< "s[*i] >= '0' && s[*i] <= '9') {" \
	  "s[*i] >= '0' && s[*i] < '9') {" >$@.tmp && mv $@.tmp $@
# A qcow2 shrink that releases the dropped clusters from one past the cut:
# the first dropped cluster leaks (only exact refcounts see it).
tests/planted/release-range.c: $(srcdir)/core/resize/qcow2-shrink.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< 'rc = release_entries(q, s, l2, s->sk, q->l2_entries);' \
	  'rc = release_entries(q, s, l2, s->sk + 1, q->l2_entries);' >$@.tmp && mv $@.tmp $@
# A VHD grow that unmaps from the block holding the old end, not the one
# after it: that block's data is lost.
tests/planted/vhd-partial-block.c: $(srcdir)/core/resize/vhd.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< \
	  'uint64_t first = instar_div_round_up_u64(v, d->bs), p = v / d->bs;' \
	  'uint64_t first = v / d->bs, p = v / d->bs;' >$@.tmp && mv $@.tmp $@
# VMDK cylinders computed with 511-byte sectors: off by one from 256 MiB.
tests/planted/vmdk-cylinders.c: $(srcdir)/core/resize/vmdk-desc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< 'uint64_t per = heads * sectors * 512;' \
	  'uint64_t per = heads * sectors * 511;' >$@.tmp && mv $@.tmp $@
CLEANFILES += tests/planted/vmdk-cylinders.c
# A byte of the VHDX metadata region's GUID wrong: every VHDX refused.
tests/planted/vhdx-refuse-all.c: $(srcdir)/core/resize/vhdx-parse.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< '0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E};' \
	  '0xB8, 0xFE, 0x57, 0x5F, 0x4, 0x0F, 0x88, 0x6E};' >$@.tmp && mv $@.tmp $@
CLEANFILES += tests/planted/vhdx-refuse-all.c
# A VMDK planner that ignores the parent: children resized as if standalone.
tests/planted/vmdk-accept-parent.c: $(srcdir)/core/resize/vmdk.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< '    if (d.has_parent)' \
	  '    if (false && d.has_parent)' >$@.tmp && mv $@.tmp $@
CLEANFILES += tests/planted/vmdk-accept-parent.c
# A VMDK planner that takes an unreadable ddb.adapterType for some
# non-ide adapter instead of refusing: cylinders for a guessed 255 heads.
tests/planted/vmdk-adapter-guess.c: $(srcdir)/core/resize/vmdk-desc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< 'if (!quoted_value(l, ll, &vs, &ve) || have_adapter) {' \
	  'if (!quoted_value(l, ll, &vs, &ve) ? (vs = ve = 0, false) : have_adapter) {' \
	  >$@.tmp && mv $@.tmp $@
# A VMDK grow that never writes the redundant grain directory, even when
# header flag bit 1 says it is in use.
tests/planted/vmdk-no-rgd.c: $(srcdir)/core/resize/vmdk-grow.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< 'for (int k = has_rgd ? 0 : 1; k < 2; k++) {' \
	  'for (int k = 1; k < 2; k++) {' >$@.tmp && mv $@.tmp $@
# A VMDK descriptor reader that takes any line starting with a key's name
# for the key ("ddb.geometry.headsX" for the heads).
tests/planted/vmdk-key-prefix.c: $(srcdir)/core/resize/vmdk-desc.c $(srcdir)/tests/planted/plant.sh
	$(AM_V_GEN)mkdir -p $(@D) && $(plant) $< "    return k < n && s[k] == '=';" \
	  '    return true;' >$@.tmp && mv $@.tmp $@
CLEANFILES += tests/planted/vmdk-adapter-guess.c tests/planted/vmdk-no-rgd.c \
	tests/planted/vmdk-key-prefix.c
CLEANFILES += tests/planted/refblock-range.c tests/planted/free-boundary.c tests/planted/digit-nine.c \
	tests/planted/release-range.c tests/planted/vhd-partial-block.c

check_PROGRAMS += tests/c/test-fuzz-decode tests/c/test-fuzz-reparse tests/c/test-fuzz-sparse-io \
	tests/c/test-fuzz-oracle
FORMAT_C_TESTS += tests/c/test-fuzz-decode tests/c/test-fuzz-reparse tests/c/test-fuzz-sparse-io \
	tests/c/test-fuzz-oracle
tests_c_test_fuzz_decode_SOURCES = tests/c/test-fuzz-decode.c tests/c/tap.h
tests_c_test_fuzz_decode_LDADD = core/libinstar.la
tests_c_test_fuzz_reparse_SOURCES = tests/c/test-fuzz-reparse.c tests/c/tap.h core/fuzz/spec.h \
	core/fuzz/reparse.c core/fuzz/reparse.h
tests_c_test_fuzz_reparse_LDADD = core/libinstar.la
tests_c_test_fuzz_sparse_io_SOURCES = tests/c/test-fuzz-sparse-io.c tests/c/tap.h \
	core/fuzz/sparse-io.c core/fuzz/sparse-io.h
tests_c_test_fuzz_sparse_io_LDADD = core/libinstar.la
tests_c_test_fuzz_oracle_SOURCES = tests/c/test-fuzz-oracle.c tests/c/tap.h \
	core/fuzz/oracle.c core/fuzz/oracle.h core/fuzz/spec.h
tests_c_test_fuzz_oracle_LDADD = core/libinstar.la

fuzz_sh_tests = tests/fuzz-replay.sh tests/fuzz-invariants.sh tests/fuzz-explain.sh \
	tests/fuzz-status-lines.sh tests/fuzz-seed-mark.sh \
	tests/fuzz-oracle.sh tests/fuzz-plan-digests.sh
TESTS += tests/c/test-fuzz-decode tests/c/test-fuzz-reparse tests/c/test-fuzz-sparse-io \
	tests/c/test-fuzz-oracle \
	$(fuzz_sh_tests)
EXTRA_DIST += $(fuzz_sh_tests) corpus tests/planted/plant.sh \
	core/fuzz/build.sh core/fuzz/run.sh core/fuzz/campaign.sh core/fuzz/coverage.sh \
	core/fuzz/store-run.sh \
	core/fuzz/fuzz-empty.c core/fuzz/fuzz-read-once.c \
	core/fuzz/fuzz_resize_planners.dict core/fuzz/fuzz_resize_planners.options \
	core/fuzz/fuzz_resize_engine.dict core/fuzz/fuzz_resize_engine.options \
	bench/fuzz-bench.sh

## ---- libFuzzer builds (clang, outside libtool) --------------------------

FUZZ_TIME = 60
FUZZ_JOBS = 1
FUZZ_BUDGET = 600
FUZZ_DIR = fuzz-build
FUZZ_WORK = fuzz-work
FUZZ_FINDINGS = fuzz-findings
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_COV = -fsanitize=fuzzer-no-link
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer $(FUZZ_SANITIZE) $(FUZZ_COV)
FUZZ_LINK = -fsanitize=fuzzer $(FUZZ_SANITIZE)
FUZZ_CPPFLAGS = $(DEFS) -I$(top_builddir) -I$(top_srcdir)/core/include -I$(top_srcdir)/core

fuzz_core_objs = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter %.c,$(core_libinstar_la_SOURCES)))

$(FUZZ_DIR)/obj/%.o: $(srcdir)/%.c config.h
	@if test -z "$(FUZZ_CC)"; then echo "fuzz: no clang found (configure FUZZ_CC=...)" >&2; exit 1; fi
	@mkdir -p $(@D)
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard $(FUZZ_DIR)/obj/core/*/*.d)

# The input decoder and message tables give no useful coverage feedback:
# built without it, so libFuzzer's per-execution work tracks the planners.
# So are checksum loops (the VHDX planner verifies 64 KiB region tables on
# every call): their branches say nothing about the planner's decisions.
fuzz_nocov_objs = $(FUZZ_DIR)/obj/core/fuzz/decode.o $(FUZZ_DIR)/obj/core/fuzz/print.o \
	$(FUZZ_DIR)/obj/core/util/error.o $(FUZZ_DIR)/obj/core/check/plan-names.o \
	$(filter $(FUZZ_DIR)/obj/core/util/crc32c.o,$(fuzz_core_objs))
$(fuzz_nocov_objs): FUZZ_COV =

# An archive, so each target links only what it calls (fewer counters
# for libFuzzer to scan per execution).
$(FUZZ_DIR)/libinstar-fuzz.a: $(fuzz_core_objs)
	$(AM_V_AR)rm -f $@ && $(AR) rcs $@ $(fuzz_core_objs)

$(FUZZ_DIR)/fuzz_resize_planners: $(FUZZ_DIR)/obj/core/fuzz/fuzz-resize-planners.o $(FUZZ_DIR)/libinstar-fuzz.a
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_LINK) -o $@ $^
$(FUZZ_DIR)/fuzz_resize_engine: $(FUZZ_DIR)/obj/core/fuzz/fuzz-resize-engine.o \
		$(FUZZ_DIR)/obj/core/fuzz/reparse.o $(FUZZ_DIR)/obj/core/fuzz/sparse-io.o \
		$(FUZZ_DIR)/obj/core/fuzz/oracle.o $(FUZZ_DIR)/obj/core/fuzz/engine-input.o \
		$(FUZZ_DIR)/libinstar-fuzz.a
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_LINK) -o $@ $^
$(FUZZ_DIR)/fuzz_empty: $(FUZZ_DIR)/obj/core/fuzz/fuzz-empty.o
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_LINK) -o $@ $^
$(FUZZ_DIR)/fuzz_read_once: $(FUZZ_DIR)/obj/core/fuzz/fuzz-read-once.o
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_LINK) -o $@ $^

fuzz_targets = $(FUZZ_DIR)/fuzz_resize_planners $(FUZZ_DIR)/fuzz_resize_engine
fuzz-build: $(fuzz_targets) $(FUZZ_DIR)/fuzz_empty $(FUZZ_DIR)/fuzz_read_once

FUZZ_STATUS_INTERVAL = 5
fuzz_env = FUZZ_TIME='$(FUZZ_TIME)' FUZZ_JOBS='$(FUZZ_JOBS)' FUZZ_DIR='$(FUZZ_DIR)' \
	FUZZ_WORK='$(FUZZ_WORK)' FUZZ_FINDINGS='$(FUZZ_FINDINGS)' srcdir='$(srcdir)' \
	FUZZ_STATUS_INTERVAL='$(FUZZ_STATUS_INTERVAL)' SHELL='$(SHELL)'
fuzz_run = $(fuzz_env) $(SHELL) $(srcdir)/core/fuzz/run.sh

# The findings store of make fuzz-*: regression first.  In a Guile build
# each session goes through `instar-fuzz fuzz' (core/fuzz/store-run.sh):
# the open findings of the target stored in FUZZ_STORE are replayed
# first and one still failing fails the run; new crashes are stored.
# Without Guile there is no store: run.sh alone.
FUZZ_STORE = instar-out
if HAVE_GUILE
fuzz_session = $(fuzz_env) FUZZ_STORE='$(FUZZ_STORE)' builddir='$(abs_top_builddir)' \
	$(SHELL) $(srcdir)/core/fuzz/store-run.sh
fuzz_session_deps = instar-fuzz $(instarobject_DATA) scm/instar.go
else
fuzz_session = $(fuzz_run)
fuzz_session_deps =
endif

# Both resize targets, FUZZ_TIME split between them; fuzz-engine: the
# engine alone for FUZZ_TIME.
fuzz-resize: $(fuzz_targets) $(fuzz_session_deps)
	$(fuzz_session) fuzz_resize_planners fuzz_resize_engine
fuzz-engine: $(FUZZ_DIR)/fuzz_resize_engine $(fuzz_session_deps)
	$(fuzz_session) fuzz_resize_engine
# The nightly campaign: every target in turn, the budget split between
# them, new corpus entries merged back into corpus/, one summary.
fuzz: $(fuzz_targets)
	FUZZ_BUDGET='$(FUZZ_BUDGET)' FUZZ_JOBS='$(FUZZ_JOBS)' FUZZ_DIR='$(FUZZ_DIR)' \
	FUZZ_WORK='$(FUZZ_WORK)' FUZZ_FINDINGS='$(FUZZ_FINDINGS)' srcdir='$(srcdir)' \
	$(SHELL) $(srcdir)/core/fuzz/campaign.sh fuzz_resize_planners fuzz_resize_engine
# Planner line/branch coverage (llvm-cov) of the seed corpus and, with
# FUZZ_TIME > 0, after a short run.
fuzz-coverage: $(FUZZ_DIR)/fuzz_resize_planners
	FUZZ_CC='$(FUZZ_CC)' FUZZ_TIME='$(FUZZ_TIME)' srcdir='$(srcdir)' \
	FUZZ_DIR='$(FUZZ_DIR)' FUZZ_WORK='$(FUZZ_WORK)' FUZZ_CPPFLAGS='$(FUZZ_CPPFLAGS)' FUZZ_SOURCES='$(filter %.c,$(core_libinstar_la_SOURCES))' \
	$(SHELL) $(srcdir)/core/fuzz/coverage.sh
# The OSS-Fuzz / ClusterFuzzLite entry point, run locally.
fuzz-oss-build:
	CC='$(FUZZ_CC)' CFLAGS='-O1 -g $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link' \
	LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT='$(abs_builddir)/$(FUZZ_DIR)/oss' \
	INSTAR_CONFIG_DIR='$(abs_top_builddir)' $(SHELL) $(srcdir)/core/fuzz/build.sh
.PHONY: fuzz fuzz-build fuzz-resize fuzz-engine fuzz-coverage fuzz-oss-build

clean-local: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_DIR)
.PHONY: clean-fuzz

# Plan digests over the corpora and variants (tests/fuzz-plan-digests.sh):
# speed work on the planners must leave every plan byte-identical.
check_PROGRAMS += core/fuzz/plan-digest
core_fuzz_plan_digest_SOURCES = core/fuzz/plan-digest.c core/fuzz/sparse-io.c core/fuzz/sparse-io.h \
	core/fuzz/engine-input.c core/fuzz/engine-input.h
core_fuzz_plan_digest_LDADD = core/libinstar.la
EXTRA_DIST += tests/plan-digests/planners.txt tests/plan-digests/engine.txt
# Re-record the digests (a deliberate change of plans).
plan-digests: core/fuzz/plan-digest$(EXEEXT)
	for t in planners engine; do \
	  $(builddir)/core/fuzz/plan-digest $$t $(srcdir)/corpus/fuzz_resize_$$t/* \
	    $(srcdir)/corpus/crashes/fuzz_resize_$$t/* >$(srcdir)/tests/plan-digests/$$t.txt.tmp \
	  && mv $(srcdir)/tests/plan-digests/$$t.txt.tmp $(srcdir)/tests/plan-digests/$$t.txt || exit 1; \
	done
.PHONY: plan-digests

# corpus/generate.sh's helper: real images -> seed inputs.
noinst_PROGRAMS += core/fuzz/seed-extract
core_fuzz_seed_extract_SOURCES = core/fuzz/seed-extract.c
core_fuzz_seed_extract_LDADD = core/libinstar.la
# corpus/generate-data.sh's helper: mark a seed the engine accepts.
noinst_PROGRAMS += core/fuzz/seed-mark
core_fuzz_seed_mark_SOURCES = core/fuzz/seed-mark.c core/fuzz/seed-mark.h

# make bench: executions per second, each target vs the empty target.
# FUZZ_BASE_DIR: targets built from an earlier commit, measured alongside.
FUZZ_BASE_DIR =
bench-fuzz:
	@if test -n "$(FUZZ_CC)"; then $(MAKE) $(AM_MAKEFLAGS) fuzz-build >/dev/null; fi
	@FUZZ_DIR='$(FUZZ_DIR)' FUZZ_BASE_DIR='$(FUZZ_BASE_DIR)' srcdir='$(srcdir)' \
	  $(SHELL) $(srcdir)/bench/fuzz-bench.sh
.PHONY: bench-fuzz
