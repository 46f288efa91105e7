# SPDX-License-Identifier: GPL-3.0-or-later
## recipes/local.mk -- the runnable recipes, the differential engine's
## (instar ...) modules and their tests.

# The differential engine's modules (the extension's own (instar core) and
# friends are in scm/local.mk).
DIFF_MODULES = \
	scm/instar/process.scm \
	scm/instar/fingerprint.scm \
	scm/instar/pickers.scm \
	scm/instar/engine.scm \
	scm/instar/holder.scm \
	scm/instar/chain.scm \
	scm/instar/oracles.scm \
	scm/instar/readers.scm \
	scm/instar/whitelist.scm \
	scm/instar/findings.scm \
	scm/instar/store.scm \
	scm/instar/reduce.scm \
	scm/instar/report.scm \
	scm/instar/preflight.scm \
	scm/instar/run.scm
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
	tests/wrong-engines/refuse-resize
# End-to-end tests against qemu-img (TAP, like tests/*.sh).
DIFF_SH_TESTS = \
	tests/diff-clean.sh \
	tests/diff-wrong-rounding.sh \
	tests/diff-wrong-feature.sh \
	tests/diff-wrong-data.sh \
	tests/diff-wrong-leak.sh \
	tests/diff-wrong-refusals.sh \
	tests/diff-held.sh \
	tests/diff-rerun.sh \
	tests/diff-recipes.sh \
	tests/diff-stop.sh

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
	tests/scm/test-preflight.scm

EXTRA_DIST += $(DIFF_RECIPES) $(DIFF_WRONG_ENGINES) $(DIFF_SH_TESTS) $(DIFF_SCM_TESTS) \
	tests/diff-wrong-lib.sh \
	bench/diff-bench.sh

if HAVE_GUILE
# Installed and compiled with the other (instar ...) modules (scm/local.mk).
INSTAR_SCM_MODULES += $(DIFF_MODULES)
scm/instar/pickers.go scm/instar/process.go: scm/instar/config.go
# process.scm looks up spawn-process-group in (instar core) when it loads.
scm/instar/process.go: scm/instar/core.go
scm/instar/engine.go: scm/instar/process.go
scm/instar/holder.go: scm/instar/config.go
scm/instar/chain.go: scm/instar/process.go scm/instar/engine.go scm/instar/holder.go \
	scm/instar/fingerprint.go
scm/instar/oracles.go: scm/instar/process.go scm/instar/chain.go
scm/instar/readers.go: scm/instar/process.go
scm/instar/whitelist.go: scm/instar/pickers.go scm/instar/oracles.go
scm/instar/findings.go: scm/instar/process.go scm/instar/chain.go scm/instar/engine.go \
	scm/instar/oracles.go
scm/instar/store.go: scm/instar/config.go scm/instar/process.go scm/instar/engine.go \
	scm/instar/findings.go
scm/instar/reduce.go: scm/instar/pickers.go
scm/instar/report.go: scm/instar/findings.go
scm/instar/preflight.go: scm/instar/process.go
scm/instar/run.go: scm/instar/process.go scm/instar/pickers.go scm/instar/engine.go \
	scm/instar/chain.go scm/instar/oracles.go scm/instar/whitelist.go \
	scm/instar/findings.go scm/instar/store.go scm/instar/reduce.go scm/instar/report.go \
	scm/instar/preflight.go scm/instar/readers.go

recipesdir = $(pkgdatadir)/recipes
# load-paths.scm is included by every recipe (not runnable on its own).
dist_recipes_DATA = $(DIFF_RECIPES) recipes/load-paths.scm

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
