# SPDX-License-Identifier: GPL-3.0-or-later
## bench/local.mk -- `make bench' prints performance figures as JSON lines.

noinst_PROGRAMS += bench/instar-bench
bench_instar_bench_SOURCES += bench/bench.c bench/bench.h bench/bench-core.c \
	$(BENCH_FORMAT_SOURCES)
bench_instar_bench_LDADD = core/libinstar.la

bench: bench/instar-bench$(EXEEXT)
	$(builddir)/bench/instar-bench
.PHONY: bench
bench: bench-diff
bench: bench-guile
bench: bench-fuzz

# `make mutants': the mutation score (bench/mutants.py; needs python3, and
# qemu-img plus clang for the detectors).  MUTANTS faults sampled with
# MUTANT_SEED; MUTANT_FUZZ_TIME seconds of fuzz-resize per mutant.  The
# scores land in MUTANT_OUT, which `make bench' reports when present.
# PYTHON3 comes from configure (Debian's /usr/bin/python3 first).
MUTANTS = 24
MUTANT_SEED = 1
MUTANT_FUZZ_TIME = 60
MUTANT_DIFF_ITERATIONS = 200
MUTANT_CONSISTENCY_ITERATIONS = 200
MUTANT_TIMEOUT = 900
MUTANT_JOBS = 2
MUTANT_OUT = mutants.json
mutants: all
	@MUTANTS='$(MUTANTS)' MUTANT_SEED='$(MUTANT_SEED)' MUTANT_FUZZ_TIME='$(MUTANT_FUZZ_TIME)' \
	MUTANT_DIFF_ITERATIONS='$(MUTANT_DIFF_ITERATIONS)' \
	MUTANT_CONSISTENCY_ITERATIONS='$(MUTANT_CONSISTENCY_ITERATIONS)' \
	MUTANT_TIMEOUT='$(MUTANT_TIMEOUT)' MUTANT_JOBS='$(MUTANT_JOBS)' MUTANT_OUT='$(MUTANT_OUT)' \
	C_TESTS='$(C_TESTS)' ALL_TESTS='$(TESTS)' GUILE='$(GUILE)' MAKE='$(MAKE)' \
	srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' \
	$(PYTHON3) $(srcdir)/bench/mutants.py
# Without a run of its own, make bench reports the committed latest run.
bench-mutants:
	@if command -v $(PYTHON3) >/dev/null 2>&1; then \
	  f='$(MUTANT_OUT)'; test -f "$$f" || f='$(srcdir)/bench/mutants-last.json'; \
	  $(PYTHON3) $(srcdir)/bench/mutants.py --bench "$$f"; \
	else echo '{"bench": "mutation-score", "skipped": "no $(PYTHON3)"}'; fi
bench: bench-mutants
.PHONY: mutants bench-mutants

# Campaigns at scale: a 4-shard Slurm campaign against --jobs 1, and the
# merge of 10,000 findings from 8 stores (skips Slurm when not installed).
bench-campaign: all
	@srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' PYTHON3='$(PYTHON3)' \
	QEMU_IMG='$(QEMU_IMG)' QEMU_IO='$(QEMU_IO)' $(SHELL) $(srcdir)/bench/campaign-bench.sh
bench: bench-campaign
.PHONY: bench-campaign
EXTRA_DIST += bench/campaign-bench.sh bench/synthetic-stores.py
EXTRA_DIST += bench/mutants.py bench/mutants-equivalent.txt bench/mutants-last.json \
	bench/mutants-rejudged.json
DISTCLEANFILES += mutants.json
