;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; warm-cache.scm -- compile recipes into Guile's own compilation cache.
;;;
;;;   guile --no-auto-compile recipes/warm-cache.scm RECIPE...
;;;
;;; `guile -s recipes/resize-diff.scm' (the README's main command) looks
;;; for a compiled copy of the recipe in Guile's cache (%compile-fallback-
;;; path, under $XDG_CACHE_HOME) and, on a first run, compiles it there
;;; itself with ";;; note: auto-compilation" lines on stderr.  make runs
;;; this script so the copy is already there: Guile finds it fresh and
;;; says nothing.  The path is worked out by Guile here, exactly as
;;; load-in-vicinity works it out, so the two cannot disagree.

(use-modules (system base compile))

(define (cached-name file)
  "The file name Guile's loader looks for as FILE's compiled copy."
  (string-append %compile-fallback-path (canonicalize-path file) ".go"))

(for-each (lambda (file)
            (let ((go (cached-name file)))
              (compile-file file #:output-file go
                            #:opts %auto-compilation-options)
              (format #t "  GUILEC   ~a -> ~a~%" file go)))
          (cdr (command-line)))
