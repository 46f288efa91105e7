#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A Guile script run as a program: no auto-compilation (the modules are
# compiled by make; Guile would otherwise compile this file and say so).
exec "${GUILE:-guile}" --no-auto-compile -s "$0" "$@"
!#
;;; create-diff.scm -- differential fuzzing of create against qemu-img.
;;;
;;;   guile -s recipes/create-diff.scm --seed 42 [--formats raw,qcow2,...]
;;;
;;; Each iteration picks a format (raw, qcow2, vpc, vhdx, vmdk), a size
;;; (ladder, odd byte counts, 0, and one case in ten exactly at the
;;; format's limit or past it) and create options (valid ones, and one
;;; qcow2 case in ten a combination qemu-img must refuse); both tools create the
;;; image and the results are compared through exit classes, `qemu-img
;;; info', `qemu-img check', the data and (raw) the file length.
;;; Formats our engine does not create yet show as divergences: they are.

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (instar run) (instar pickers) (instar whitelist) (srfi srfi-1))

(define help "\
usage: guile -s create-diff.scm [OPTIONS]

Differential fuzzing of create: the engine under test against qemu-img.
Options as resize-diff (see resize-diff(1)); --ops takes `create',
--formats raw,qcow2,vpc,vhdx,vmdk (default: all).
")

(define rules
  ;; Documented gaps of create (whitelist rules, see (instar whitelist)).
  `((("id" . "vmdk-create-monolithicSparse-only")
     ("reason" . "instar creates VMDK images as monolithicSparse only; other subformats are refused with unsupported-subformat rather than written half-right.")
     ("reference" . "doc/fmt-vmdk.texi (subformat)")
     ("when" . (and (format "vmdk")
                    (or (option "subformat" "monolithicFlat")
                        (option "subformat" "streamOptimized")
                        (option "subformat" "twoGbMaxExtentSparse")
                        (option "subformat" "twoGbMaxExtentFlat"))))
     ("explains" . ("exit-class:create:error/ok")))
    ;; A refusal is a verdict: only options qemu-img refuses too are
    ;; expected refusals (any other refused create is a finding).
    ,@(filter (lambda (r) (member (rule-id r) '("refuses-bad-create-option" "refuses-past-limit")))
              resize-refusal-rules)))

(run-recipe "create-diff" (cdr (command-line))
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-create-case rng #:formats formats)))
            ;; The resize whitelist does not apply to create.
            #:rules rules
            #:default-ops '("create")
            #:default-formats '("raw" "qcow2" "vpc" "vhdx" "vmdk")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help)
