# SPDX-License-Identifier: GPL-3.0-or-later
## core/guile/local.mk -- the compiled Guile extension (libguile-instar).
## SCM_DEFINE + guile-snarf; loaded by (instar core) with load-extension.

if HAVE_GUILE
guileextension_LTLIBRARIES = core/guile/libguile-instar.la

instar_guile_sources = \
	core/guile/errors.c \
	core/guile/plans.c \
	core/guile/planners.c \
	core/guile/image.c \
	core/guile/hashing.c \
	core/guile/fuzz-decode.c \
	core/guile/spawn.c \
	core/guile/init.c
core_guile_libguile_instar_la_SOURCES = core/guile/instar-guile.h $(instar_guile_sources)
core_guile_libguile_instar_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/core/guile \
	$(GUILE_CFLAGS) $(XXHASH_CFLAGS)
core_guile_libguile_instar_la_LDFLAGS = -module -avoid-version -no-undefined
core_guile_libguile_instar_la_LIBADD = core/libinstar.la $(GUILE_LIBS) $(XXHASH_LIBS)

# make bench's copy of the extension: the same sources plus bench.c's C
# loops (the Scheme-vs-C comparison of bench/bench-guile.scm), so those
# primitives never reach the installed extension.  Built only for make
# bench (EXTRA_: not by make all), never installed; -rpath makes libtool
# build it as a loadable module all the same.
EXTRA_LTLIBRARIES = core/guile/bench/libguile-instar.la
core_guile_bench_libguile_instar_la_SOURCES = $(core_guile_libguile_instar_la_SOURCES) \
	core/guile/bench.c
core_guile_bench_libguile_instar_la_CPPFLAGS = $(core_guile_libguile_instar_la_CPPFLAGS) \
	-DINSTAR_GUILE_BENCH
core_guile_bench_libguile_instar_la_LDFLAGS = $(core_guile_libguile_instar_la_LDFLAGS) \
	-rpath $(abs_builddir)/core/guile/bench
core_guile_bench_libguile_instar_la_LIBADD = $(core_guile_libguile_instar_la_LIBADD)
CLEANFILES += core/guile/bench/libguile-instar.la

# guile-snarf collects the SCM_DEFINE/SCM_KEYWORD/SCM_SYMBOL registrations
# of each file into a .x file that file's init function includes.
instar_guile_snarfed = $(instar_guile_sources:.c=.x) core/guile/bench.x
BUILT_SOURCES += $(instar_guile_snarfed)
CLEANFILES += $(instar_guile_snarfed)

core/guile/%.x: core/guile/%.c core/guile/instar-guile.h
	$(AM_V_GEN)$(MKDIR_P) core/guile && \
	CPP="$(CPP)" $(GUILE_SNARF) -o $@ $< $(DEFS) $(DEFAULT_INCLUDES) \
	  $(core_guile_libguile_instar_la_CPPFLAGS) $(CPPFLAGS)
endif
