# SPDX-License-Identifier: GPL-3.0-or-later
## scm/cli.mk -- the instar-fuzz command, (instar cli), the umbrella
## module (instar) and their tests.

EXTRA_DIST += instar-fuzz.in scm/instar.scm
dist_man_MANS += doc/instar-fuzz.1

CLI_SH_TESTS = tests/cli-instar-fuzz.sh tests/fuzz-store.sh tests/manual-examples.sh
CLI_SCM_TESTS = tests/scm/test-store.scm
EXTRA_DIST += $(CLI_SH_TESTS) $(CLI_SCM_TESTS)

if HAVE_GUILE
# (instar) lives beside the instar/ directory.
instartopdir = $(guilemoduledir)
instartopobjectdir = $(guileobjectdir)
dist_instartop_DATA = scm/instar.scm
instartopobject_DATA = scm/instar.go
CLEANFILES += scm/instar.go
scm/instar.go: scm/instar.scm $(instarobject_DATA)
	$(instar_guild_compile)
instar_install_top_go = install-instartopobjectDATA
$(instar_install_top_go): install-dist_instartopDATA

bin_SCRIPTS += instar-fuzz
CLEANFILES += instar-fuzz
instar-fuzz: $(srcdir)/instar-fuzz.in Makefile
	$(AM_V_GEN)sed -e 's|@GUILE[@]|$(GUILE)|g' \
	    -e 's|@guilemoduledir[@]|$(guilemoduledir)|g' \
	    -e 's|@guileobjectdir[@]|$(guileobjectdir)|g' \
	    -e 's|@recipesdir[@]|$(recipesdir)|g' \
	    $(srcdir)/instar-fuzz.in > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

TESTS += $(CLI_SCM_TESTS) $(CLI_SH_TESTS)
$(CLI_SCM_TESTS:.scm=.log) $(CLI_SH_TESTS:.sh=.log): $(instarobject_DATA) scm/instar.go \
	instar-fuzz core/cli/instar-img$(EXEEXT) tests/c/fuzz-break-planners$(EXEEXT)
endif
