#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A Guile script run as a program: no auto-compilation (the modules are
# compiled by make; Guile would otherwise compile this file and say so).
exec "${GUILE:-guile}" --no-auto-compile -s "$0" "$@"
!#
;;; resize-consistency.scm -- resize VHD, VHDX and VMDK; qemu-img reads.
;;;
;;;   guile -s recipes/resize-consistency.scm --seed 42
;;;
;;; qemu-img cannot resize vpc (VHD), vhdx or vmdk images, so there is no
;;; reference result to compare with.  qemu-img creates the start image
;;; and qemu-io writes patterns; the engine under test resizes it; then
;;; qemu-img is the reader oracle:
;;;   size      `info' reports the new size (vpc: rounded up to its CHS
;;;             geometry: within one cylinder, 1 MiB up to 31.5 GiB, 2 MiB past it)
;;;   check     `check' finds no errors, corruptions or leaks (qemu-img
;;;             has no check for vpc)
;;;   kept      every pattern byte below the new end reads back
;;;   zero      the grown range reads as zeros (its first and last MiB)
;;; Every case is labelled with a refusal family (see `classify-resize' in
;;; (instar pickers)): the manual's limits and refusals say whether the
;;; engine must resize it or refuse it.  A refusal is a verdict: it must
;;; leave the file byte-identical, and only a rule for its family (the
;;; same rules as resize-diff's) excuses it, so a refusal of a supported
;;; case is a finding ("unexpected refusal") and an engine that refuses
;;; everything never passes.  Accepting a case whose family must be
;;; refused is a finding too.
;;; Every independent reader found on the machine (or those --readers
;;; names) then reads the same image: it opens, shows qemu's size and the
;;; same bytes in those ranges ((instar readers): libvhdi and 7-Zip for vpc
;;; and vhdx, libvmdk and 7-Zip for vmdk).  A reader's documented limits
;;; are whitelist rules (reader-rules in (instar whitelist)).
;;; A VMDK's descriptor is read too (scm/instar/vmdk-descriptor.py): its
;;; extent lines and BIOS geometry must state qemu's new size.

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (srfi srfi-1)
             (instar run) (instar pickers) (instar chain)
             (instar oracles) (instar readers) (instar whitelist))

;;; --readers LIST: this recipe's own option, taken out before run-recipe
;;; sees the arguments.
(define-values (readers recipe-args)
  (take-readers-option "resize-consistency" (cdr (command-line))))
(define reader-tally   ; the readers of this recipe's formats
  (make-reader-tally (filter (lambda (r) (any (lambda (f) (member f (reader-formats r)))
                                              (list "vpc" "vhdx" "vmdk")))
                             readers)))

(define (case-readers case)
  (readers-for-format readers (assoc-ref case "format")))

(define (execute case ctx)
  "The consistency chain with a step per reader, judged by the
consistency oracle of (instar oracles), the readers' verdicts added."
  (let* ((fmt (assoc-ref case "format"))
         (start (parse-size-string (assoc-ref case "size")))
         (end (resolve-spec start (assoc-ref (vector-ref (assoc-ref case "resizes") 0) "spec")))
         (chain (append (consistency-chain case)
                        (map (lambda (r)
                               (reader-step r fmt (consistency-check-ranges case start (max end 0))))
                             (case-readers case))
                        (if (equal? fmt "vmdk") (list (vmdk-descriptor-step)) '())))
         (trace (run-chain chain (context-engine ctx)
                           #:qemu-img (context-qemu-img ctx) #:qemu-io (context-qemu-io ctx)
                           #:timeout (context-timeout ctx) #:tmpdir (context-tmpdir ctx))))
    (call-with-values
        (lambda ()
          (judge-consistency case trace
                             #:more-diffs (lambda (vsize start end)
                                            (append
                                             (reader-oracles case trace vsize start end)
                                             (if (equal? (assoc-ref case "format") "vmdk")
                                                 (vmdk-descriptor-diffs
                                                  (trace-result trace "descriptor" "engine") vsize)
                                                 '())))))
      (lambda (verdict diffs reason)
        (values verdict diffs reason chain trace)))))

(define (reader-oracles case trace vsize start end)
  "Every reader's diffs for CASE, tallied per reader."
  (append-map
   (lambda (r)
     (let* ((res (trace-result trace (string-append "reader:" r) "engine"))
            (ds (reader-diffs r res vsize (consistency-check-ranges case start (max end 0))
                              #:grown-from (and (> end start) start))))
       (tally-reader! reader-tally r "read")
       (if (null? ds)
           (tally-reader! reader-tally r "agree")
           (call-with-values (lambda () (apply-whitelist reader-rules case ds))
             (lambda (left ids)
               (tally-reader! reader-tally r (if (null? left) "whitelisted" "disagree")))))
       ds))
   (case-readers case)))

(define help "\
usage: guile -s resize-consistency.scm [OPTIONS]

Resize VHD (vpc), VHDX and VMDK images with the engine under test and let
qemu-img read the result: new size, check clean, data kept, new range
zero; then every independent reader (libvhdi, libvmdk, 7-Zip) reads the
same image: it must open it with qemu's size and bytes.  Each case knows
whether the manual says it must be resized or refused: an unexpected
refusal, a refusal that changes the file, or an accepted case that must
be refused is a finding.  Options as resize-diff (see resize-diff(1));
--formats vpc,vhdx,vmdk (default: all); --only-formats (as resize-diff);
--readers LIST
(libvhdi,libvmdk,7zip; default: every one installed; a listed reader
that is missing is an environment error, exit 3).  The per-reader counts
(every read, the reducer's replays of a finding included) go to standard
error and OUT/readers.json.
")

(dynamic-wind
  (lambda () #t)
  (lambda ()
(run-recipe "resize-consistency" recipe-args
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-consistency-case rng #:formats formats)))
            #:execute execute
            ;; The refusal families these formats can draw (no qcow2 ones),
            ;; and the readers' documented limits.
            #:rules (append
                     (filter (lambda (r)
                               (not (member (rule-id r)
                                            '("refuses-corrupt" "refuses-v2-snapshots"
                                              "refuses-bad-create-option" "refuses-held"))))
                             resize-refusal-rules)
                     reader-rules)
            #:default-ops '("consistency")
            #:default-formats '("vpc" "vhdx" "vmdk")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help))
  (lambda () (report-reader-tally reader-tally (recipe-out-directory recipe-args))))
