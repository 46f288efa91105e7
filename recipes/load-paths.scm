;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; load-paths.scm -- included (at expansion time) by every recipe so it
;;; runs as typed from a built source tree or from an installed tree,
;;; without a wrapper: it finds the (instar ...) modules, their compiled
;;; files, the extension and instar-img relative to the recipe's own file.
;;; Source tree: scm/, core/guile/.libs, core/cli/instar-img.
;;; Installed: PREFIX/share/instar-fuzz/recipes -> PREFIX/share/guile/site/V
;;; and PREFIX/lib/guile/V/site-ccache, V Guile's effective version (3.0).
(eval-when (expand load eval)
  (let* ((here (dirname (canonicalize-path (or (current-filename) (car (command-line))))))
         (top (dirname here)))
    (for-each (lambda (d)
                (when (file-exists? (string-append d "/instar/run.scm"))
                  (set! %load-path (cons d %load-path))
                  (set! %load-compiled-path (cons d %load-compiled-path))))
              (list (string-append top "/../guile/site/" (effective-version))
                    (string-append top "/scm")))
    ;; Installed: the compiled modules live under PREFIX/lib (the usual libdir).
    (let ((ccache (string-append top "/../../lib/guile/" (effective-version) "/site-ccache")))
      (when (file-exists? (string-append ccache "/instar/run.go"))
        (set! %load-compiled-path (cons ccache %load-compiled-path))))
    (let ((ext (string-append top "/core/guile/.libs")))
      (when (and (not (getenv "INSTAR_EXTENSION_DIR")) (file-exists? ext))
        (setenv "INSTAR_EXTENSION_DIR" ext)))
    (let ((cli (string-append top "/core/cli/instar-img")))
      (when (and (not (getenv "INSTAR_IMG")) (file-exists? cli))
        (setenv "INSTAR_IMG" cli)))))
