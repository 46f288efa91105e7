;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-docstrings.scm -- every exported procedure of every (instar ...)
;;; module has a docstring (`,describe' and the manual rely on it); each
;;; primitive of the C extension has one source for it, its SCM_DEFINE;
;;; and the generated .go build order covers every import.
(use-modules (srfi srfi-64) (srfi srfi-1) (ice-9 match) (ice-9 ftw) (ice-9 rdelim)
             (ice-9 regex) (system vm program))

(define srcdir (or (getenv "abs_top_srcdir") "."))
(define builddir (or (getenv "abs_top_builddir") "."))

;; Every module: the files under scm/instar/ (the generated (instar
;; config) included) and the umbrella (instar).
(define modules
  (append
   (map (lambda (f) (list 'instar (string->symbol (basename f ".scm"))))
        (delete-duplicates
         (append (scandir (string-append srcdir "/scm/instar")
                          (lambda (f) (string-suffix? ".scm" f)))
                 '("config.scm"))))
   '((instar))))

(define (exported-procedures name)
  "(SYMBOL . PROCEDURE) for every procedure NAME exports."
  (let ((iface (resolve-interface name)) (acc '()))
    (module-for-each (lambda (sym var)
                       (when (and (variable-bound? var) (procedure? (variable-ref var)))
                         (set! acc (cons (cons sym (variable-ref var)) acc))))
                     iface)
    (sort acc (lambda (a b) (string<? (symbol->string (car a)) (symbol->string (car b)))))))

(define (documented? proc)
  (let ((doc (procedure-documentation proc)))
    (and (string? doc) (not (string-null? (string-trim-both doc))))))

(define (primitive? proc)
  (and (program? proc) (primitive-code? (program-code proc))))

(test-begin "docstrings")

(test-assert "the module list is not empty" (> (length modules) 15))

;; One test per exported procedure (the re-exports of (instar) are the
;; same procedures: each is checked once, under its own module).
(let ((seen (make-hash-table)))
  (for-each
   (lambda (name)
     (for-each
      (match-lambda
        ((sym . proc)
         (unless (hashq-ref seen proc)
           (hashq-set! seen proc #t)
           (test-assert (format #f "~s ~a has a docstring" name sym) (documented? proc)))))
      (exported-procedures name)))
   modules))

;; The primitives' docstrings come from their SCM_DEFINE (registered by
;; the extension when it loads): (instar core) must not carry a second,
;; diverging copy.
(define core-primitives
  (filter-map (match-lambda ((sym . proc) (and (primitive? proc) sym)))
              (exported-procedures '(instar core))))

(define (symbols-in datum)
  (cond ((symbol? datum) (list datum))
        ((pair? datum) (append (symbols-in (car datum)) (symbols-in (cdr datum))))
        (else '())))

(define core-documented-in-scheme
  ;; Every symbol inside a form of core.scm that sets a documentation
  ;; property (set-procedure-property!, or a macro named document...).
  (call-with-input-file (string-append srcdir "/scm/instar/core.scm")
    (lambda (port)
      (let loop ((acc '()))
        (let ((d (read port)))
          (if (eof-object? d)
              acc
              (loop
               (append acc
                       (let walk ((d d))
                         (match d
                           (((or 'set-procedure-property! (? (lambda (s)
                                                               (and (symbol? s)
                                                                    (string-prefix? "document"
                                                                                    (symbol->string s))))))
                             . rest)
                            (symbols-in rest))
                           ((a . b) (append (walk a) (walk b)))
                           (_ '())))))))))))

(test-assert "(instar core) exports primitives" (> (length core-primitives) 20))
(for-each
 (lambda (sym)
   (test-assert (format #f "~a: docstring only in its SCM_DEFINE" sym)
     (not (memq sym core-documented-in-scheme))))
 core-primitives)

;; The build order: every (instar ...) module a module imports is one of
;; its .go prerequisites in the generated scm/instar-deps.mk.
(define deps
  (call-with-input-file (string-append builddir "/scm/instar-deps.mk")
    (lambda (port)
      (let loop ((acc '()))
        (let ((line (read-line port)))
          (cond ((eof-object? line) acc)
                ((string-match "^([^ :#]+\\.go):(.*)$" line)
                 => (lambda (m)
                      (loop (acons (match:substring m 1)
                                   (string-tokenize (match:substring m 2))
                                   acc))))
                (else (loop acc))))))))

(define (go-file name)
  (string-append "scm/" (string-join (map symbol->string name) "/") ".go"))

(for-each
 (lambda (name)
   (let ((imports (filter-map (lambda (iface)
                                (let ((n (module-name iface)))
                                  (and (pair? n) (eq? (car n) 'instar) (pair? (cdr n))
                                       (not (equal? n name))
                                       n)))
                              (module-uses (resolve-module name)))))
     (for-each
      (lambda (i)
        (test-assert (format #f "~a is built after ~a" (go-file name) (go-file i))
          (member (go-file i) (or (assoc-ref deps (go-file name)) '()))))
      imports)))
 (filter (lambda (n) (pair? (cdr n))) modules))

(test-end "docstrings")
