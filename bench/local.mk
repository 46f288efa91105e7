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
