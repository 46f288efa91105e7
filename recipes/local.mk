## recipes/local.mk -- the runnable recipes, the differential engine's
## (instar ...) modules and their tests.

# The differential engine's modules (the extension's own (instar core) and
# friends are in scm/local.mk).
DIFF_MODULES = \
	scm/instar/process.scm \
	scm/instar/pickers.scm \
	scm/instar/engine.scm \
	scm/instar/chain.scm \
	scm/instar/oracles.scm \
	scm/instar/whitelist.scm \
	scm/instar/findings.scm \
	scm/instar/reduce.scm \
	scm/instar/report.scm \
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
	tests/wrong-engines/leak
# End-to-end tests against qemu-img (TAP, like tests/*.sh).
DIFF_SH_TESTS = \
	tests/diff-clean.sh \
	tests/diff-wrong-engines.sh \
	tests/diff-recipes.sh

EXTRA_DIST += $(DIFF_MODULES) $(DIFF_RECIPES) $(DIFF_WRONG_ENGINES) $(DIFF_SH_TESTS) \
	bench/diff-bench.sh

if HAVE_GUILE
DIFF_GO = $(DIFF_MODULES:.scm=.go)

diffmoduledir = $(guilemoduledir)/instar
diffmodule_DATA = $(DIFF_MODULES)
diffobjectdir = $(guileobjectdir)/instar
nodist_diffobject_DATA = $(DIFF_GO)
recipesdir = $(pkgdatadir)/recipes
recipes_DATA = $(DIFF_RECIPES)
CLEANFILES += $(DIFF_GO)

$(DIFF_GO): %.go: %.scm
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	GUILE_AUTO_COMPILE=0 $(GUILD) compile \
	  -L $(abs_top_builddir)/scm -L $(abs_top_srcdir)/scm \
	  -Wunbound-variable -Warity-mismatch -Wformat -o $@ $< >/dev/null

TESTS += $(DIFF_SH_TESTS)
endif

dist_man_MANS += doc/resize-diff.1 doc/create-diff.1 doc/resize-consistency.1
