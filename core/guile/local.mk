## core/guile/local.mk -- the compiled Guile extension (libguile-instar).
