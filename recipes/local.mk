# SPDX-License-Identifier: GPL-3.0-or-later
## recipes/local.mk -- the runnable recipes, the differential engine's
## (instar ...) modules and their tests.

# The differential engine's modules are in the one module list,
# INSTAR_SCM_MODULES (scm/local.mk).
DIFF_RECIPES = \
	recipes/resize-diff.scm \
	recipes/create-diff.scm \
	recipes/resize-consistency.scm \
	recipes/corpus-diff.scm
DIFF_WRONG_ENGINES = \
	tests/wrong-engines/common.sh \
	tests/wrong-engines/wrong-rounding \
	tests/wrong-engines/drop-feature \
	tests/wrong-engines/lose-data \
	tests/wrong-engines/leak \
	tests/wrong-engines/ignore-locks \
	tests/wrong-engines/shrink-without-flag \
	tests/wrong-engines/prealloc-on-shrink \
	tests/wrong-engines/unaligned-size \
	tests/wrong-engines/past-limit \
	tests/wrong-engines/non-positive \
	tests/wrong-engines/bad-spec \
	tests/wrong-engines/corrupt-image \
	tests/wrong-engines/bad-create-option \
	tests/wrong-engines/refuse-resize \
	tests/wrong-engines/show-backing \
	tests/wrong-engines/refcount1-l1-leak
# End-to-end tests against qemu-img (TAP, like tests/*.sh).
DIFF_SH_TESTS = \
	tests/diff-clean.sh \
	tests/diff-wrong-rounding.sh \
	tests/diff-wrong-feature.sh \
	tests/diff-wrong-data.sh \
	tests/diff-wrong-leak.sh \
	tests/diff-wrong-refusals.sh \
	tests/diff-only-formats.sh \
	tests/diff-held.sh \
	tests/diff-wrong-backing.sh \
	tests/diff-rerun.sh \
	tests/diff-recipes.sh \
	tests/diff-stop.sh \
	tests/recipes-first-run.sh \
	tests/diff-corpus.sh \
	tests/fuzz-make-replay.sh

# SRFI-64 suites (run through the driver scm/local.mk defines).
DIFF_SCM_TESTS = \
	tests/scm/test-pickers.scm \
	tests/scm/test-whitelist.scm \
	tests/scm/test-fingerprint.scm \
	tests/scm/test-readers.scm \
	tests/scm/test-findings.scm \
	tests/scm/test-report.scm \
	tests/scm/image-lock.scm \
	tests/scm/test-process.scm \
	tests/scm/test-preflight.scm \
	tests/scm/test-consistency.scm \
	tests/scm/test-corpus.scm

EXTRA_DIST += tests/corpus-diff-seeds recipes/warm-cache.scm $(DIFF_RECIPES) $(DIFF_WRONG_ENGINES) $(DIFF_SH_TESTS) $(DIFF_SCM_TESTS) \
	tests/diff-wrong-lib.sh \
	bench/diff-bench.sh bench/bench-lib.sh

if HAVE_GUILE
recipesdir = $(pkgdatadir)/recipes
# The recipes are programs (a sh header runs Guile without
# auto-compilation); load-paths.scm is included by each, not runnable.
dist_recipes_SCRIPTS = $(DIFF_RECIPES)
dist_recipes_DATA = recipes/load-paths.scm

# `guile -s recipes/X.scm', the README's main command, would have Guile
# compile the recipe itself on a first run and print ";;;" notes; make
# compiles each recipe into Guile's own cache instead, where that command
# looks (recipes/warm-cache.scm).  In-tree builds only: a separate build
# tree (distcheck) runs the recipes through pre-inst-env, and its source
# tree is gone afterwards.
all-local: recipes/warm-cache.stamp
recipes/warm-cache.stamp: $(DIFF_RECIPES) recipes/load-paths.scm \
		recipes/warm-cache.scm $(instarobject_DATA) scm/instar.go
	$(AM_V_GEN)$(MKDIR_P) recipes && \
	if [ "$$(cd $(srcdir) && pwd -P)" = "$$(pwd -P)" ]; then \
	  $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile \
	    $(srcdir)/recipes/warm-cache.scm $(DIFF_RECIPES) >/dev/null; \
	fi && touch $@
CLEANFILES += recipes/warm-cache.stamp

TESTS += $(DIFF_SCM_TESTS) $(DIFF_SH_TESTS)
# The tests load the compiled modules and run instar-img.
$(DIFF_SCM_TESTS:.scm=.log) $(DIFF_SH_TESTS:.sh=.log): $(instarobject_DATA) \
	core/cli/instar-img$(EXEEXT)

DIFF_BENCH_DEPS = $(instarobject_DATA) core/cli/instar-img$(EXEEXT)
endif

# `make bench' also measures the differential engine (bench/diff-bench.sh).
bench-diff: $(DIFF_BENCH_DEPS)
	@if test -n "$(DIFF_BENCH_DEPS)"; then \
	  srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' GUILE='$(GUILE)' \
	  QEMU_IMG='$(QEMU_IMG)' QEMU_IO='$(QEMU_IO)' $(SHELL) $(srcdir)/bench/diff-bench.sh; \
	else echo '{"bench": "diff", "skipped": "built without Guile"}'; fi
.PHONY: bench-diff

dist_man_MANS += doc/resize-diff.1 doc/create-diff.1 doc/resize-consistency.1

# make fuzz-diff: the engine target fuzzed for FUZZ_TIME (stored findings
# replayed first, as make fuzz-engine does), then its corpus judged by
# qemu-img (recipes/corpus-diff.scm): the committed seeds and the
# session's new entries, each input once -- FUZZ_STORE/corpus-judged
# remembers what was judged, so a rerun judges only new entries.  One
# store (FUZZ_STORE) for both kinds of finding; exits 1 when any fails.
FUZZ_DIFF_JOBS = 2
FUZZ_DIFF_FLAGS =
if HAVE_GUILE
fuzz-diff: $(FUZZ_DIR)/fuzz_resize_engine $(fuzz_session_deps) core/cli/instar-img$(EXEEXT)
	@$(fuzz_session) fuzz_resize_engine; st=$$?; \
	if test $$st -ge 2; then exit $$st; fi; \
	$(MKDIR_P) '$(FUZZ_WORK)/fuzz_resize_engine/corpus'; \
	echo "fuzz-diff: judging new corpus entries against qemu-img (store $(FUZZ_STORE))"; \
	GUILE_AUTO_COMPILE=0 $(abs_top_builddir)/pre-inst-env $(GUILE) --no-auto-compile \
	  -s $(srcdir)/recipes/corpus-diff.scm \
	  --corpus '$(srcdir)/corpus/fuzz_resize_engine' \
	  --corpus '$(FUZZ_WORK)/fuzz_resize_engine/corpus' \
	  --new-only --out '$(FUZZ_STORE)' --jobs $(FUZZ_DIFF_JOBS) $(FUZZ_DIFF_FLAGS); st2=$$?; \
	if test $$st2 -gt $$st; then exit $$st2; else exit $$st; fi
else
fuzz-diff:
	@echo "fuzz-diff: needs Guile (this build has none)" >&2; exit 3
endif
.PHONY: fuzz-diff
