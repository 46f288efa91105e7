;;; test-preflight.scm -- (instar preflight): which reference failures
;;; are the environment's (the run stops, exit 3) and which are results
;;; (compared, or made inconclusive by the oracles).
(use-modules (srfi srfi-64) (instar process) (instar preflight))

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

(test-group "the reference checked up front"
  (test-assert "/bin/false is not a usable qemu-img"
    (let ((m (check-reference "/bin/false" (or (getenv "QEMU_IO") "qemu-io"))))
      (and m (string-contains m "qemu-img (/bin/false)") (string-contains m "--version"))))
  (test-equal "the installed qemu-img and qemu-io are" #f
    (check-reference (or (getenv "QEMU_IMG") "qemu-img") (or (getenv "QEMU_IO") "qemu-io"))))

(test-end "preflight")
