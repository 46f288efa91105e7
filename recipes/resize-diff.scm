#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A Guile script run as a program: no auto-compilation (the modules are
# compiled by make; Guile would otherwise compile this file and say so).
exec "${GUILE:-guile}" --no-auto-compile -s "$0" "$@"
!#
;;; resize-diff.scm -- differential fuzzing of resize against qemu-img.
;;;
;;;   guile -s recipes/resize-diff.scm --seed 42 [--iterations 200] [--jobs 2]
;;;
;;; Each iteration picks a raw or qcow2 case (start size, create options,
;;; patterns, end spec, --shrink, preallocation) from its own seed, runs it
;;; on the engine under test and on qemu-img, and compares exit classes,
;;; `qemu-img info', `qemu-img check', the guest-visible data and (raw) the
;;; file length.  Every independent reader of the format found on the
;;; machine (libqcow for qcow2; --readers LIST) then reads both results
;;; of a case qemu's oracles passed: it must see the same size and bytes
;;; in each pattern range and the last MiB.  The in-process engine's
;;; dry-run plan of each resize must say what the resize did (action, new
;;; size: `plan-diffs').  See resize-diff(1) and the manual's "Differential fuzzing"
;;; chapter.

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (ice-9 match) (srfi srfi-1) (json)
             (instar run) (instar pickers) (instar chain) (instar oracles)
             (instar readers) (instar whitelist) (instar process))

(define-values (readers recipe-args)
  (take-readers-option "resize-diff" (cdr (command-line))))
(define reader-tally   ; the readers of this recipe's formats
  (make-reader-tally (filter (lambda (r) (any (lambda (f) (member f (reader-formats r)))
                                              (list "raw" "qcow2")))
                             readers)))

(define (reader-ranges case)
  "(BYTE OFFSET LENGTH) for each pattern (the byte is not used: both
sides' bytes are compared) and the last MiB of the final size."
  (let* ((ends (filter positive? (case-end-bytes case)))
         (size (if (null? ends) (parse-size-string (assoc-ref case "size")) (last ends)))
         (mib (* 1024 1024)))
    (append
     (filter-map (lambda (p)
                   (let ((off (assoc-ref p "offset")) (len (assoc-ref p "length")))
                     (and (< off size) (list 0 off (min len (- size off))))))
                 (vector->list (assoc-ref case "patterns")))
     (list (list 0 (max 0 (- size mib)) (min mib size))))))

(define (execute case ctx)
  "The default chain and judgement, then each reader on both results."
  (let* ((fmt (assoc-ref case "format"))
         (rs (readers-for-format readers fmt))
         (chain (append (case->chain case)
                        (map (lambda (r)
                               (let ((st (reader-step r fmt (reader-ranges case))))
                                 (map (lambda (kv) (if (equal? (car kv) "side")
                                                       (cons "side" "both") kv))
                                      st)))
                             rs)))
         (trace (run-chain chain (context-engine ctx)
                           #:qemu-img (context-qemu-img ctx) #:qemu-io (context-qemu-io ctx)
                           #:timeout (context-timeout ctx) #:tmpdir (context-tmpdir ctx))))
    (call-with-values (lambda () (judge case chain trace))
      (lambda (verdict diffs reason)
        ;; Readers judge what qemu's own oracles passed: with other
        ;; differences they add nothing (and the finding keeps its shape).
        (if (not (eq? verdict 'match))
            (values verdict diffs reason chain trace)
            (let ((rd (append-map
                       (lambda (r)
                         (let* ((n (string-append "reader:" r))
                                (ds (reader-pair-diffs r (trace-result trace n "engine")
                                                       (trace-result trace n "reference"))))
                           (tally-reader! reader-tally r "read")
                           (if (null? ds)
                               (tally-reader! reader-tally r "agree")
                               (tally-reader! reader-tally r "disagree"))
                           ds))
                       rs)))
              (let ((pd (plan-check case chain trace)))
                (if (and (null? diffs) (null? rd) (null? pd))
                    (values verdict diffs reason chain trace)
                    (values 'divergence (append diffs rd pd) reason chain trace)))))))))

(define (plan-check case chain trace)
  "The in-process engine's dry-run plans against what each resize did
(`plan-diffs'): the last resize's new size against qemu-img info's."
  (let* ((names (filter-map (lambda (s) (and (equal? (assoc-ref s "step") "resize")
                                             (assoc-ref s "name")))
                            chain))
         (info (trace-result trace "info" "engine"))
         (json (and info (result-ok? info)
                    (false-if-exception (json-string->scm (result-stdout info)))))
         (vsize (and json (assoc-ref json "virtual-size"))))
    (append-map (lambda (n)
                  (let ((r (trace-result trace n "engine")))
                    (if (and r (result-ok? r))
                        (plan-diffs trace n (assoc-ref case "format")
                                    (and (equal? n (last names)) vsize))
                        '())))
                names)))

(define help "\
usage: guile -s resize-diff.scm [OPTIONS]

Differential fuzzing of resize: the engine under test against qemu-img.

  --seed N           master seed (default: from the clock, printed)
  --iterations N     iterations (default 200; 0: only replay stored findings)
  --jobs N           parallel workers (default 1); results do not depend on it
  --shard K/N        run only iterations I with I mod N = K-1
  --out DIR          output directory (default ./instar-out, reused so
                     findings accumulate)
  --replay SIG|S:I   re-run one finding (with the engine it recorded unless
                     --instar), or iteration I of seed S, alone
  --instar PATH      test an external qemu-img-compatible binary instead of
                     the in-process engine
  --qemu-img PATH    the reference (default: $QEMU_IMG or qemu-img on PATH)
  --qemu-io PATH     writes the patterns (default: $QEMU_IO or qemu-io)
  --timeout S        per child process (default 120)
  --ops LIST         resize,resize-shared,regrow,resize-held,resize-backing
                     (default: all; resize-held, an image qemu-io holds
                     open, is drawn for 1 in 20 qcow2 resize cases, or for
                     every qcow2 case when it is the only op;
                     resize-backing, an overlay over a longer backing
                     image, for 1 in 4 other supported qcow2 cases, or for
                     each it can take when it is the only op)
  --formats LIST     raw,qcow2 (default: both)
  --only-formats LIST  draw every case as usual, run only those of these
                     formats (the others are skipped after the draw, so
                     each kept case is the one a full run draws)
  --junit FILE       write a JUnit XML report
  --reduce-time S    time to reduce each new finding (default 30)
  --tmpdir DIR       where private case directories go (default $TMPDIR or /tmp)
  --readers LIST     independent readers of the results (libqcow for
                     qcow2; default: every one installed; a listed
                     reader that is missing exits 3); per-reader counts
                     go to standard error and OUT/readers.json
  -q, --quiet        no progress output
")

(dynamic-wind
  (lambda () #t)
  (lambda ()
(run-recipe "resize-diff" recipe-args
            #:execute execute
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-resize-case rng #:formats formats #:ops ops)))
            #:default-ops resize-ops
            #:default-formats '("raw" "qcow2")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help))
  (lambda () (report-reader-tally reader-tally (recipe-out-directory recipe-args))))
