;;; resize-diff.scm -- differential fuzzing of resize against qemu-img.
;;;
;;;   guile -s recipes/resize-diff.scm --seed 42 [--iterations 200] [--jobs 2]
;;;
;;; Each iteration picks a raw or qcow2 case (start size, create options,
;;; patterns, end spec, --shrink, preallocation) from its own seed, runs it
;;; on the engine under test and on qemu-img, and compares exit classes,
;;; `qemu-img info', `qemu-img check', the guest-visible data and (raw) the
;;; file length.  See resize-diff(1) and the manual's "Differential
;;; fuzzing" chapter.

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (instar run) (instar pickers))

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
  --ops LIST         resize,resize-shared,regrow,resize-held (default: all;
                     resize-held, an image qemu-io holds open, is drawn
                     for 1 in 20 qcow2 resize cases, or for every qcow2
                     case when it is the only op)
  --formats LIST     raw,qcow2 (default: both)
  --junit FILE       write a JUnit XML report
  --reduce-time S    time to reduce each new finding (default 30)
  --tmpdir DIR       where private case directories go (default $TMPDIR or /tmp)
  -q, --quiet        no progress output
")

(run-recipe "resize-diff" (cdr (command-line))
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-resize-case rng #:formats formats #:ops ops)))
            #:default-ops resize-ops
            #:default-formats '("raw" "qcow2")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help)
