;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar reduce) -- shrink a finding's case while its signature holds.
;;;
;;; Greedy: try simpler variants of the case one at a time (preallocation
;;; off, one option fewer, fewer patterns, a smaller start size, a
;;; simpler end spec); keep the first variant whose divergence has the
;;; same signature, and start over from it.  Stops when no variant keeps
;;; the signature or when the time limit is reached.

(define-module (instar reduce)
  #:use-module (instar util)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (instar pickers)
  #:export (reduce-case
            case-variants
            normalise-case))

(define (set-field case key value)
  (map (lambda (kv) (if (equal? (car kv) key) (cons key value) kv)) case))

(define (normalise-case case)
  "`normalise-once' until nothing changes (a relabelled family can change
whether the --shrink flag is kept; two rounds settle it)."
  (let loop ((c (normalise-once case)) (n 0))
    (let ((next (normalise-once c)))
      (if (or (equal? next c) (> n 3)) c (loop next (+ n 1))))))

(define (normalise-once case)
  "Recompute what follows from the sizes: --shrink whenever a resize
shrinks (unless its family is about the flag: a shrink without it, or a
preallocation on a shrink), a regrow's target is the start size, and the
refusal labels (see `label-case')."
  (let* ((start (parse-size-string (assoc-ref case "size")))
         (resizes (vector->list (assoc-ref case "resizes")))
         (regrow? (equal? (assoc-ref case "op") "regrow")))
    (let loop ((cur start) (rs resizes) (i 0) (acc '()))
      (match rs
        (() (label-case (set-field case "resizes" (list->vector (reverse acc)))))
        ((r . rest)
         (let* ((spec (if (and regrow? (= i 1)) (assoc-ref case "size") (assoc-ref r "spec")))
                (end (resolve-spec cur spec))
                (keep? (member (assoc-ref r "family")
                               '("shrink-without-flag" "prealloc-not-growing")))
                (r (set-field (set-field r "spec" spec) "shrink"
                              (if keep? (assoc-ref r "shrink") (< end cur)))))
           (loop (if (> end 0) end cur) rest (+ i 1) (cons r acc))))))))

(define (variants-of-resize r start)
  (let ((spec (assoc-ref r "spec")))
    (append
     (if (string? (assoc-ref r "prealloc"))
         (list (set-field r "prealloc" 'null))
         '())
     (cond ((and (string-prefix? "+" spec) (not (equal? spec "+1M")))
            (list (set-field r "spec" "+1M")))
           ((and (string-prefix? "-" spec) (not (equal? spec "-1M"))
                 (> start (* 1024 1024)))
            (list (set-field r "spec" "-1M")))
           ((and (not (string-prefix? "-" spec)) (not (string-prefix? "+" spec)))
            (filter-map (lambda (s) (and (not (equal? s spec)) (set-field r "spec" s)))
                        '("4M" "+1M" "-1M")))
           (else '())))))

(define (case-variants case)
  "Simpler variants of CASE, simplest-first."
  (let* ((options (assoc-ref case "options"))
         (patterns (vector->list (assoc-ref case "patterns")))
         (resizes (vector->list (assoc-ref case "resizes")))
         (start (parse-size-string (assoc-ref case "size")))
         (regrow? (equal? (assoc-ref case "op") "regrow")))
    (map
     normalise-case
     (append
      (if (and (assoc-ref case "create-prealloc")
               (not (equal? (assoc-ref case "create-prealloc") "off")))
          (list (set-field case "create-prealloc" "off"))
          '())
      (map (lambda (o) (set-field case "options" (delete o options))) options)
      (if (> (length patterns) 1)
          (append (list (set-field case "patterns" (vector (car patterns))))
                  (map (lambda (p) (set-field case "patterns" (list->vector (delete p patterns))))
                       patterns))
          '())
      (filter-map (lambda (s)
                    (and (< (parse-size-string s) start)
                         (set-field (set-field case "size" s) "patterns"
                                    (list->vector
                                     (filter-map
                                      (lambda (p)
                                        (let ((lim (parse-size-string s)))
                                          (and (< (assoc-ref p "offset") lim)
                                               (set-field p "length"
                                                          (min (assoc-ref p "length")
                                                               (- lim (assoc-ref p "offset")))))))
                                      patterns)))))
                  '("1M" "16M" "64M" "256M"))
      (append-map (lambda (r i)
                    (if (and regrow? (= i 1))
                        '()
                        (map (lambda (v)
                               (set-field case "resizes"
                                          (list->vector (map (lambda (x j) (if (= j i) v x))
                                                             resizes (iota (length resizes))))))
                             (variants-of-resize r start))))
                  resizes (iota (length resizes)))))))

(define* (reduce-case case signature-of #:key (seconds 30))
  "SIGNATURE-OF runs a case and returns its signature (or #f).  Returns
(values REDUCED-CASE STEPS-ACCEPTED TRIES TIMED-OUT?)."
  (let ((target (signature-of case))
        (deadline (+ (now) seconds)))
    (let loop ((case case) (accepted 0) (tries 0))
      (let try ((vs (case-variants case)) (tries tries))
        (cond ((> (now) deadline) (values case accepted tries #t))
              ((null? vs) (values case accepted tries #f))
              ((and target (equal? (signature-of (car vs)) target))
               (loop (car vs) (+ accepted 1) (+ tries 1)))
              (else (try (cdr vs) (+ tries 1))))))))
