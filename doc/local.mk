## doc/local.mk -- the Texinfo manual and the man pages.

info_TEXINFOS += doc/instar-fuzz.texi

dist_man_MANS += doc/instar-img.1
