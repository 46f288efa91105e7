## recipes/local.mk -- the runnable recipes, the differential engine's
## (instar ...) modules and their tests.

# The differential engine's modules are in the one module list,
# INSTAR_SCM_MODULES (scm/local.mk).
DIFF_RECIPES = \
	recipes/resize-diff.scm \
	recipes/create-diff.scm \
	recipes/resize-consistency.scm
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
	tests/wrong-engines/show-backing
# End-to-end tests against qemu-img (TAP, like tests/*.sh).
DIFF_SH_TESTS = \
	tests/diff-clean.sh \
	tests/diff-wrong-rounding.sh \
	tests/diff-wrong-feature.sh \
	tests/diff-wrong-data.sh \
	tests/diff-wrong-leak.sh \
	tests/diff-wrong-refusals.sh \
	tests/diff-held.sh \
	tests/diff-wrong-backing.sh \
	tests/diff-rerun.sh \
	tests/diff-recipes.sh \
	tests/diff-stop.sh \
	tests/recipes-first-run.sh

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
	tests/scm/test-consistency.scm

EXTRA_DIST += recipes/warm-cache.scm $(DIFF_RECIPES) $(DIFF_WRONG_ENGINES) $(DIFF_SH_TESTS) $(DIFF_SCM_TESTS) \
	tests/diff-wrong-lib.sh \
	bench/diff-bench.sh

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
	$(AM_V_GEN)if [ "$$(cd $(srcdir) && pwd -P)" = "$$(pwd -P)" ]; then \
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
