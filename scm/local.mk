## scm/local.mk -- the (instar ...) Guile modules, their tests and instar-fuzz-repl.
