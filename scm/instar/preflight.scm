;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar preflight) -- is the reference usable, before the first case?
;;;
;;; A broken reference (a missing binary, `--qemu-img /bin/false', a
;;; wrapper whose `info' prints garbage) would otherwise turn every case
;;; into a "finding" blamed on the engine, or into a quiet run of
;;; inconclusive cases that exits 0.  `check-reference' runs the tools the
;;; recipes rely on once, in a private directory, on a tiny qcow2 image:
;;; --version, create, info --output=json, check --output=json, compare,
;;; and a qemu-io write and read-back.  `reference-failure' applies the
;;; same standards to one case's trace: a reference tool that fails
;;; without a message, prints no valid JSON where qemu-img prints JSON,
;;; cannot be started, or reports an environmental errno (disk full,
;;; read-only file system, ...) is an environment error, not a verdict.

(define-module (instar preflight)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 control)
  #:use-module (json)
  #:use-module (instar process)
  #:export (check-reference
            reference-failure
            environmental-message?))

(define (parse-json s)
  (false-if-exception (json-string->scm s)))

(define (json-object? v)
  (and (pair? v) (pair? (car v)) (string? (caar v))))

(define (first-line s)
  (let ((l (string-split (string-trim-both s) #\newline)))
    (if (null? l) "" (car l))))

(define environmental-errors
  ;; strerror texts of errnos that say the machine, not the image, failed.
  ;; Not EFBIG, ENOMEM or EIO: qemu-img 7.2 answers huge sizes with "File
  ;; too large" (raw, the qcow2 L1 table) as a refusal both sides must
  ;; share, and reports some image problems as ENOMEM or EIO.  (The
  ;; pickers keep preallocation small, so ENOSPC is the machine's.)
  '("No space left on device" "Read-only file system" "Disk quota exceeded"
    "Too many open files" "Permission denied"))

(define (environmental-message? s)
  "Whether S (a tool's output) reports an errno of the environment (disk
full, read-only file system, permissions, memory, ...)."
  (any (lambda (e) (string-contains s e)) environmental-errors))

(define (describe r)
  "Why result R failed, in a few words."
  (let ((out (first-line (string-append (result-stderr r) "\n" (result-stdout r)))))
    (match (result-class r)
      ('timeout "timed out")
      ('spawn-failed (if (string-null? out) "could not be started" out))
      ('signal (format #f "was killed by signal ~a" (result-signal r)))
      (_ (if (string-null? out)
             (format #f "exited with status ~a and printed nothing" (result-status r))
             (format #f "exited with status ~a: ~a" (result-status r) out))))))

(define* (check-reference qemu-img qemu-io #:key (tmpdir "/tmp") (timeout 30))
  "Run the reference tools once on a 1 MiB qcow2 image in a private
directory under TMPDIR.  Returns #f when QEMU-IMG and QEMU-IO (paths)
behave as the recipes need, else a message naming the tool that does not."
  (let ((dir (make-private-directory tmpdir "instar-preflight.")))
    (dynamic-wind
      (lambda () #t)
      (lambda ()
        (let ((img (string-append dir "/probe.qcow2")))
          (define (run argv) (run-command argv #:timeout timeout #:scratch dir))
          (define (tool-name prog)
            (if (string=? prog qemu-img) "qemu-img" "qemu-io"))
          (define (bad prog what why)
            (format #f "the reference ~a (~a) is not usable: `~a' ~a"
                    (tool-name prog) prog what why))
          (let/ec return
            (define (expect prog what argv ok?)
              ;; Returns the result when OK? holds, else leaves with a message.
              (let ((r (run (cons prog argv))))
                (cond ((not (memq (result-class r) '(ok error)))
                       (return (bad prog what (describe r))))
                      ((ok? r) r)
                      ((result-ok? r)
                       (return (bad prog what
                                    (let ((o (first-line (result-stdout r))))
                                      (if (string-null? o)
                                          "printed nothing it should"
                                          (format #f "printed unexpected output: ~a" o))))))
                      (else (return (bad prog what (describe r)))))))
            (expect qemu-img "--version" '("--version")
                    (lambda (r) (and (result-ok? r)
                                     (string-prefix? "qemu-img version" (result-stdout r)))))
            (expect qemu-io "--version" '("--version")
                    (lambda (r) (and (result-ok? r)
                                     (string-prefix? "qemu-io version" (result-stdout r)))))
            (expect qemu-img "create" `("create" "-q" "-f" "qcow2" ,img "1M")
                    (lambda (r) (and (result-ok? r) (file-exists? img))))
            (let ((r (run (list qemu-img "info" "--output=json" "-f" "qcow2" img))))
              (unless (result-ok? r)
                (return (bad qemu-img "info --output=json" (describe r))))
              (let ((j (parse-json (result-stdout r))))
                (unless (json-object? j)
                  (return (bad qemu-img "info --output=json" "printed no valid JSON")))
                (unless (and (eqv? (assoc-ref j "virtual-size") 1048576)
                             (equal? (assoc-ref j "format") "qcow2"))
                  (return (bad qemu-img "info --output=json"
                               "does not report the 1 MiB qcow2 image it created")))))
            (let ((r (run (list qemu-img "check" "--output=json" "-f" "qcow2" img))))
              (unless (result-ok? r)
                (return (bad qemu-img "check --output=json" (describe r))))
              (unless (json-object? (parse-json (result-stdout r)))
                (return (bad qemu-img "check --output=json" "printed no valid JSON"))))
            (let ((r (run (list qemu-io "-f" "qcow2" "-c" "write -P 0x5a 0 64k"
                                "-c" "read -P 0x5a 0 64k" img))))
              (unless (and (result-ok? r)
                           (string-contains (result-stdout r) "wrote 65536/65536")
                           (string-contains (result-stdout r) "read 65536/65536")
                           (not (string-contains (result-stdout r) "fail"))
                           (not (string-contains (result-stderr r) "error")))
                (return (bad qemu-io "write/read -P" (if (result-ok? r)
                                                         "did not write and read back 64 KiB"
                                                         (describe r))))))
            (expect qemu-img "compare" `("compare" "-f" "qcow2" "-F" "qcow2" ,img ,img)
                    result-ok?)
            #f)))
      (lambda () (delete-tree dir)))))

;;; One case's trace.

(define (engine-step? name side)
  ;; The engine under test's own steps; every other step runs a reference
  ;; tool (qemu-img, qemu-io, cp).
  (and (equal? side "engine")
       (or (equal? name "create") (string-prefix? "resize" name))))

(define (step-tool name)
  ;; Which reference tool a chain step runs (for messages).
  (cond ((member name '("write-pattern" "verify" "tail-zero")) "qemu-io")
        ((equal? name "copy") "copy tool")
        ((equal? name "held-unchanged") "cmp")
        (else "qemu-img")))

(define (reference-failure trace-steps)
  "TRACE-STEPS: a trace's steps, (NAME SIDE RESULT-OR-VALUE).  A message
when a reference tool failed for reasons of the environment (see the
module's header), else #f."
  (any (lambda (s)
         (match s
           ((name side (? result? r))
            (and (not (engine-step? name side))
                 (let ((prog (car (result-argv r)))
                       (json (parse-json (result-stdout r))))
                   (define (fail why)
                     (format #f "the reference ~a (~a), step ~a on the ~a side, ~a"
                             (step-tool name) prog name side why))
                   (cond
                    ((eq? (result-class r) 'spawn-failed) (fail (describe r)))
                    ;; Only about the reference's own image: an error on
                    ;; the engine's image may be the engine's doing.
                    ((and (equal? side "reference")
                          (environmental-message? (string-append (result-stderr r)
                                                                 (result-stdout r))))
                     (fail (describe r)))
                    ;; cmp -s answers "differ" with a silent status 1:
                    ;; that is the held-unchanged oracle's verdict.
                    ((and (equal? name "held-unchanged") (eqv? (result-status r) 1))
                     #f)
                    ((and (eq? (result-class r) 'error)
                          (string-null? (string-trim-both (result-stderr r)))
                          (string-null? (string-trim-both (result-stdout r))))
                     (fail (describe r)))
                    ((and (equal? name "info") (result-ok? r) (not (json-object? json)))
                     (fail "printed no valid JSON for `info --output=json'"))
                    ((and (equal? name "check") (memv (result-status r) '(0 2 3))
                          (not (json-object? json)))
                     (fail "printed no valid JSON for `check --output=json'"))
                    (else #f)))))
           (_ #f)))
       trace-steps))
