# SPDX-License-Identifier: GPL-3.0-or-later
## scm/campaign.mk -- (instar campaign): a recipe's shards run on Slurm or
## over ssh with GNU parallel, then merged; the tests that start those
## engines (make check-scale, which .ci/run calls).

SCALE_SH_TESTS = tests/campaign-slurm.sh tests/campaign-parallel.sh tests/cflite-build.sh
EXTRA_DIST += $(SCALE_SH_TESTS) tests/campaign-lib.sh tests/campaign-compare.py \
	tests/slurm-cluster.sh
EXTRA_DIST += contrib/kubernetes/instar-fuzz-campaign.yaml \
	.clusterfuzzlite/Dockerfile .clusterfuzzlite/build.sh .clusterfuzzlite/project.yaml \
	.github/workflows/cflite_pr.yml .github/workflows/cflite_batch.yml
# Without an engine: part of `make check'.
CAMPAIGN_SH_TESTS = tests/campaign-local.sh
CAMPAIGN_SCM_TESTS = tests/scm/test-campaign.scm
EXTRA_DIST += $(CAMPAIGN_SH_TESTS) $(CAMPAIGN_SCM_TESTS)

if HAVE_GUILE
TESTS += $(CAMPAIGN_SH_TESTS) $(CAMPAIGN_SCM_TESTS)
$(SCALE_SH_TESTS:.sh=.log) $(CAMPAIGN_SH_TESTS:.sh=.log) $(CAMPAIGN_SCM_TESTS:.scm=.log): \
	$(instarobject_DATA) scm/instar.go instar-fuzz

# Daemons started by the tests themselves (munged, slurmctld, slurmd;
# sshd), a minute or two: not part of `make check'.
check-scale:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SCALE_SH_TESTS)'
else
check-scale:
	@echo "check-scale: needs the Guile layer (configure without --disable-guile)" >&2; exit 1
endif
.PHONY: check-scale
