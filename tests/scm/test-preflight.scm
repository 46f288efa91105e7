;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-preflight.scm -- (instar preflight): which reference failures
;;; are the environment's (the run stops, exit 3) and which are results
;;; (compared, or made inconclusive by the oracles).
(use-modules (srfi srfi-64) (instar process) (instar preflight) (instar holder))

(define (res prog class status out err)
  (make-result (list prog "x") class status #f out err 0.1))

(define (fails? . steps) (and (reference-failure steps) #t))

(test-begin "preflight")

(test-group "reference steps"
  (test-assert "a silent failure is the environment's"
    (fails? (list "create" "reference" (res "/bin/false" 'error 1 "" ""))))
  (test-assert "the message names the tool, its path and the step"
    (let ((m (reference-failure
              (list (list "info" "reference" (res "/x/wrap" 'ok 0 "garbage {" ""))))))
      (and m (string-contains m "qemu-img (/x/wrap)") (string-contains m "step info")
           (string-contains m "no valid JSON"))))
  (test-assert "info on the engine's image printing no JSON, too"
    (fails? (list "info" "engine" (res "qemu-img" 'ok 0 "nope" ""))))
  (test-assert "check printing no JSON with a status that promises it"
    (fails? (list "check" "reference" (res "qemu-img" 'error 2 "" "oops"))))
  (test-assert "a full disk on the reference's image"
    (fails? (list "resize" "reference"
                  (res "qemu-img" 'error 1 "" "qemu-img: Could not resize file: No space left on device\n"))))
  (test-assert "a tool that cannot be started"
    (fails? (list "write-pattern" "reference" (res "qemu-io" 'spawn-failed #f "" "cannot run")))))

(test-group "results, not the environment"
  (test-equal "File too large is qemu-img's refusal of huge sizes" #f
    (reference-failure
     (list (list "resize" "reference"
                 (res "qemu-img" 'error 1 "" "qemu-img: Could not resize file: File too large\n")))))
  (test-equal "an ordinary refusal" #f
    (reference-failure
     (list (list "resize" "reference"
                 (res "qemu-img" 'error 1 "" "qemu-img: Use the --shrink option to perform a shrink operation.\n")))))
  (test-equal "the engine's own steps are never the reference's fault" #f
    (reference-failure
     (list (list "create" "engine" (res "engine" 'error 1 "" ""))
           (list "resize-2" "engine" (res "engine" 'error 1 "" "No space left on device")))))
  (test-equal "an errno about the engine's image may be the engine's doing" #f
    (reference-failure
     (list (list "verify" "engine" (res "qemu-io" 'ok 0 "" "Permission denied")))))
  (test-equal "check of an unsupported format (63) prints no JSON, rightly" #f
    (reference-failure
     (list (list "check" "engine"
                 (res "qemu-img" 'error 63 "" "qemu-img: This image format does not support checks\n")))))
  (test-equal "values that are not results are skipped" #f
    (reference-failure (list (list "length" "reference" 1048576)))))

;; qemu-img's own refusals, one per refusal family the pickers draw (and
;; the held mode's lock failure): each is a result to judge, never the
;; environment's fault, whichever side it ran on.
(test-group "qemu-img's refusals are results"
  (let* ((qemu-img (or (getenv "QEMU_IMG") "qemu-img"))
         (qemu-io (or (getenv "QEMU_IO") "qemu-io"))
         (dir (make-private-directory (or (getenv "TMPDIR") "/tmp") "test-preflight."))
         (q (string-append dir "/a.qcow2"))
         (raw (string-append dir "/a.raw")))
    (define (run . argv) (run-command argv #:timeout 60 #:scratch dir))
    (define (screen label r)
      (test-assert (string-append label ": refused") (eq? (result-class r) 'error))
      (test-equal (string-append label ": not the environment") #f
        (reference-failure (list (list "resize" "reference" r)
                                 (list "resize:before" "reference" '(16777216 . "x"))))))
    (run qemu-img "create" "-q" "-f" "qcow2" q "16M")
    (run qemu-img "create" "-q" "-f" "raw" raw "16M")
    (screen "shrink-without-flag" (run qemu-img "resize" "-f" "qcow2" q "-1M"))
    (screen "prealloc-not-growing"
            (run qemu-img "resize" "--shrink" "--preallocation=full" "-f" "qcow2" q "-1M"))
    (screen "unaligned" (run qemu-img "resize" "-f" "qcow2" q "+145"))
    (screen "past-limit" (run qemu-img "resize" "-f" "qcow2" q
                              (number->string (+ 512 (* 4194304 8192 65536)))))
    (screen "non-positive" (run qemu-img "resize" "-f" "raw" raw "+8E"))
    (screen "bad-spec" (run qemu-img "resize" "-f" "raw" raw ""))
    (screen "prealloc-unsupported"
            (run qemu-img "resize" "--preallocation=metadata" "-f" "raw" raw "+1M"))
    (let ((r (run qemu-img "create" "-q" "-f" "qcow2" "-o" "refcount_bits=3"
                  (string-append dir "/b.qcow2") "16M")))
      (test-equal "bad-create-option: not the environment" #f
        (reference-failure (list (list "create" "reference" r)))))
    (let ((h (start-holder qemu-io "qcow2" q)))
      (test-assert "a holder holds the image" h)
      (when h
        (let ((r (run qemu-img "resize" "-f" "qcow2" q "+1M")))
          (stop-holder! h)
          (screen "held" r))))
    (delete-tree dir)))

(test-group "the reference checked up front"
  (test-assert "/bin/false is not a usable qemu-img"
    (let ((m (check-reference "/bin/false" (or (getenv "QEMU_IO") "qemu-io"))))
      (and m (string-contains m "qemu-img (/bin/false)") (string-contains m "--version"))))
  (test-equal "the installed qemu-img and qemu-io are" #f
    (check-reference (or (getenv "QEMU_IMG") "qemu-img") (or (getenv "QEMU_IO") "qemu-io"))))

(test-end "preflight")
