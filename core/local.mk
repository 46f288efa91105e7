# SPDX-License-Identifier: GPL-3.0-or-later
## core/local.mk -- libinstar (the C core) and the instar-img CLI.

noinst_LTLIBRARIES += core/libinstar.la

instar_public_headers = \
	core/include/instar/error.h \
	core/include/instar/image.h \
	core/include/instar/io.h \
	core/include/instar/lock.h \
	core/include/instar/plan.h \
	core/include/instar/resize.h \
	core/include/instar/size.h

core_libinstar_la_SOURCES = \
	$(instar_public_headers) \
	core/util/array.h \
	core/util/checked.h \
	core/util/nocov.h \
	core/util/endian.h \
	core/util/error.c \
	core/util/size.c \
	core/util/random.c \
	core/util/random.h \
	core/io/io.c \
	core/io/io-fd.c \
	core/io/io-mem.c \
	core/util/scan.c core/util/scan.h \
	core/check/invariants.c \
	core/check/plan-names.c \
	core/resize/builder.c \
	core/resize/builder.h \
	core/resize/request.c \
	core/resize/refuse.h \
	core/image/engine.h \
	core/image/backing.c core/image/backing.h \
	core/image/backing-read.c \
	core/image/create.c \
	core/image/discard.c \
	core/image/diag.c \
	core/image/file.c \
	core/image/format.c \
	core/image/lock.c \
	core/image/pause.c \
	core/image/resize.c

# raw
core_libinstar_la_SOURCES += core/resize/raw.c core/image/raw.c
# Each other format keeps its sources, tests and benchmarks in its own
# fragment (core/<format>.mk).

bin_PROGRAMS += core/cli/instar-img
core_cli_instar_img_SOURCES = \
	core/cli/cli.h \
	core/cli/main.c \
	core/cli/errors.c \
	core/cli/cmd-create.c \
	core/cli/cmd-resize.c \
	core/cli/cmd-fuzz-explain.c \
	core/cli/plan-json.c
core_cli_instar_img_LDADD = core/libinstar.la
