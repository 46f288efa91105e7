# SPDX-License-Identifier: GPL-3.0-or-later
## doc/local.mk -- the Texinfo manual and the man pages.

info_TEXINFOS += doc/instar-fuzz.texi
doc_instar_fuzz_TEXINFOS = \
	doc/formats.texi \
	doc/fmt-qcow2.texi \
	doc/fmt-qcow2-create.texi \
	doc/fmt-vhd.texi \
	doc/fmt-vhdx.texi \
	doc/fmt-vmdk.texi \
	doc/scheme.texi \
	doc/coverage-fuzzing.texi \
	doc/differential.texi \
	doc/watching.texi \
	doc/writing-recipes.texi \
	doc/campaigns.texi \
	doc/strength.texi

dist_man_MANS += doc/instar-img.1
