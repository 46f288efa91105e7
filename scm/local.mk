# SPDX-License-Identifier: GPL-3.0-or-later
## scm/local.mk -- the (instar ...) Guile modules, their tests and instar-fuzz-repl.
##
## INSTAR_SCM_MODULES below is the one list of (instar ...) modules: each
## is installed to $(guilemoduledir)/instar and compiled with guild to
## $(guileobjectdir)/instar/foo.go.  The order in which the .go files are
## built is derived from the modules' imports (scm/module-deps.scm
## writes scm/instar-deps.mk), never written by hand.

# SRFI-64 suites: one :test-result: line per test case (see tests/scm/driver.scm).
TEST_EXTENSIONS += .scm
SCM_LOG_DRIVER = $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile \
	$(top_srcdir)/tests/scm/driver.scm
EXTRA_DIST += tests/scm/driver.scm scm/module-deps.scm

if HAVE_GUILE
instarmoduledir = $(guilemoduledir)/instar
instarobjectdir = $(guileobjectdir)/instar

INSTAR_SCM_MODULES = \
	scm/instar/core.scm \
	scm/instar/plan-print.scm \
	scm/instar/repl.scm \
	scm/instar/util.scm \
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
	scm/instar/status.scm \
	scm/instar/plot.scm \
	scm/instar/html-report.scm \
	scm/instar/campaign.scm \
	scm/instar/corpus.scm \
	scm/instar/run.scm \
	scm/instar/cli.scm

# reader-probe.py, vmdk-descriptor.py: the Python side of (instar readers),
# found on %load-path.
dist_instarmodule_DATA = $(INSTAR_SCM_MODULES) scm/instar/reader-probe.py \
	scm/instar/vmdk-descriptor.py
nodist_instarmodule_DATA = scm/instar/config.scm
instarobject_DATA = scm/instar/config.go $(INSTAR_SCM_MODULES:.scm=.go)
CLEANFILES += scm/instar/config.scm $(instarobject_DATA)
# Guile ignores a .go older than its .scm: install the sources first.  The
# target is named through a variable so automake adds this prerequisite
# instead of taking the rule as a replacement for its own install rule.
instar_install_go_files = install-instarobjectDATA
$(instar_install_go_files): install-dist_instarmoduleDATA install-nodist_instarmoduleDATA

# (instar config): the installed extension directory, fully expanded.
scm/instar/config.scm: $(srcdir)/scm/instar/config.scm.in Makefile
	$(AM_V_GEN)$(MKDIR_P) scm/instar && \
	sed -e 's|@guileextensiondir[@]|$(guileextensiondir)|g' \
	    -e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	    $(srcdir)/scm/instar/config.scm.in > $@.tmp && mv $@.tmp $@

# Compiling (instar core) loads the extension (its primitives are bound at
# expansion time), so every .go waits for it.
GUILD_WARNINGS = -Wunbound-variable -Warity-mismatch -Wformat -Wshadowed-toplevel
instar_guild_compile = $(AM_V_GEN)$(MKDIR_P) $(@D) && \
	GUILE_AUTO_COMPILE=0 $(top_builddir)/pre-inst-env $(GUILD) compile \
	  $(GUILD_WARNINGS) -L $(abs_top_builddir)/scm -L $(abs_top_srcdir)/scm -o $@ $<

scm/instar/config.go: scm/instar/config.scm
	$(instar_guild_compile)
scm/instar/%.go: scm/instar/%.scm core/guile/libguile-instar.la scm/instar/config.go
	$(instar_guild_compile)

# guild loads a module's compiled imports while compiling it, so each .go
# waits for theirs: the rules come from the sources (config.scm is made
# here, the umbrella scm/instar.scm is in scm/cli.mk; Makefile holds the
# list).  GNU make builds the included file first and restarts.
instar_scm_all = scm/instar/config.scm $(INSTAR_SCM_MODULES) scm/instar.scm
scm/instar-deps.mk: $(INSTAR_SCM_MODULES) scm/instar.scm scm/module-deps.scm Makefile
	$(AM_V_GEN)$(MKDIR_P) scm && \
	$(GUILE) --no-auto-compile $(srcdir)/scm/module-deps.scm $(srcdir) \
	  $(instar_scm_all) > $@.tmp && mv $@.tmp $@
-include scm/instar-deps.mk
DISTCLEANFILES += scm/instar-deps.mk

# The REPL launcher: installed paths expanded by make; a load path already
# in the environment (./pre-inst-env) comes first.
bin_SCRIPTS += instar-fuzz-repl
CLEANFILES += instar-fuzz-repl
EXTRA_DIST += instar-fuzz-repl.in
instar-fuzz-repl: $(srcdir)/instar-fuzz-repl.in Makefile
	$(AM_V_GEN)sed -e 's|@GUILE[@]|$(GUILE)|g' \
	    -e 's|@guilemoduledir[@]|$(guilemoduledir)|g' \
	    -e 's|@guileobjectdir[@]|$(guileobjectdir)|g' \
	    $(srcdir)/instar-fuzz-repl.in > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

dist_man_MANS += doc/instar-fuzz-repl.1

SCM_TESTS = \
	tests/scm/core.scm \
	tests/scm/errors.scm \
	tests/scm/raw-agreement.scm \
	tests/scm/plan-print.scm \
	tests/scm/repl.scm \
	tests/scm/test-docstrings.scm
SCM_SH_TESTS = tests/scm/repl-session.sh
TESTS += $(SCM_TESTS) $(SCM_SH_TESTS)
EXTRA_DIST += $(SCM_TESTS) $(SCM_SH_TESTS)
# The tests load the compiled modules and the launcher.
$(SCM_TESTS:.scm=.log) $(SCM_SH_TESTS:.sh=.log): $(instarobject_DATA) instar-fuzz-repl
# ... and the umbrella (instar), and the generated build order.
tests/scm/test-docstrings.log: scm/instar.go scm/instar-deps.mk

# make bench: plans per second from Scheme against C (bench/bench-guile.scm),
# with the extension's bench copy, the only one with the C loops.
bench-guile: $(instarobject_DATA) core/guile/bench/libguile-instar.la
	$(top_builddir)/pre-inst-env env \
	  INSTAR_EXTENSION_DIR='$(abs_top_builddir)/core/guile/bench/.libs' \
	  $(GUILE) --no-auto-compile $(srcdir)/bench/bench-guile.scm

check-scm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SCM_TESTS) $(SCM_SH_TESTS)'
else
bench-guile:
	@echo "bench-guile: Guile disabled (configure --disable-guile)"
endif
EXTRA_DIST += bench/bench-guile.scm
.PHONY: bench-guile
