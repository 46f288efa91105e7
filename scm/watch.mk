# SPDX-License-Identifier: GPL-3.0-or-later
## scm/watch.mk -- watching a campaign: `instar-fuzz status' and `report'
## ((instar status), (instar plot), (instar html-report)) and their tests.

WATCH_SH_TESTS = tests/watch-campaign.sh
WATCH_SCM_TESTS = tests/scm/test-status.scm
EXTRA_DIST += $(WATCH_SH_TESTS) $(WATCH_SCM_TESTS)

if HAVE_GUILE
TESTS += $(WATCH_SCM_TESTS) $(WATCH_SH_TESTS)
$(WATCH_SCM_TESTS:.scm=.log) $(WATCH_SH_TESTS:.sh=.log): $(instarobject_DATA) scm/instar.go \
	instar-fuzz
endif
