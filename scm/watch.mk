## scm/watch.mk -- watching a campaign: `instar-fuzz status' and `report'
## ((instar status), (instar plot), (instar html-report)) and their tests.

WATCH_SH_TESTS = tests/watch-campaign.sh
WATCH_SCM_TESTS = tests/scm/test-status.scm
EXTRA_DIST += $(WATCH_SH_TESTS) $(WATCH_SCM_TESTS)

if HAVE_GUILE
INSTAR_SCM_MODULES += scm/instar/status.scm scm/instar/plot.scm scm/instar/html-report.scm
scm/instar/status.go: scm/instar/findings.go scm/instar/store.go
scm/instar/plot.go: scm/instar/process.go
scm/instar/html-report.go: scm/instar/config.go scm/instar/findings.go scm/instar/store.go \
	scm/instar/status.go scm/instar/plot.go
scm/instar/cli.go: scm/instar/status.go scm/instar/html-report.go

TESTS += $(WATCH_SCM_TESTS) $(WATCH_SH_TESTS)
$(WATCH_SCM_TESTS:.scm=.log) $(WATCH_SH_TESTS:.sh=.log): $(instarobject_DATA) scm/instar.go \
	instar-fuzz
endif
