;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; driver.scm -- automake test driver for SRFI-64 suites.
;;;
;;; Called as SCM_LOG_DRIVER:
;;;   guile driver.scm --test-name NAME --log-file LOG --trs-file TRS
;;;         [--color-tests yes|no] [--expect-failure yes|no]
;;;         [--enable-hard-errors yes|no] [--] TEST-FILE
;;; Loads TEST-FILE with a test runner that records every test case and
;;; writes one ":test-result: PASS|FAIL|XFAIL|XPASS|SKIP NAME" line per case
;;; into TRS (what `make check' and .ci/run count), a readable LOG, and a
;;; PASS:/FAIL: line per case on stdout.  An error escaping the suite, or a
;;; suite that ran no test at all, is an ERROR result: never a silent pass.

(use-modules (srfi srfi-64)
             (srfi srfi-1)
             (ice-9 match)
             (ice-9 format))

(define (parse-args args)
  (let loop ((args args) (opts '()))
    (match args
      (("--" file . _) (acons 'file file opts))
      (((? (lambda (a) (string-prefix? "--" a)) opt) value . rest)
       (loop rest (acons (string->symbol (substring opt 2)) value opts)))
      ((file . _) (acons 'file file opts))
      (() opts))))

(define opts (parse-args (cdr (command-line))))
(define (opt name default)
  (or (assq-ref opts name) default))

(define test-file (opt 'file #f))
(define test-name (opt 'test-name test-file))
(define log-file (opt 'log-file (string-append test-name ".log")))
(define trs-file (opt 'trs-file (string-append test-name ".trs")))
(define color? (string=? (opt 'color-tests "no") "yes"))
(define expect-failure? (string=? (opt 'expect-failure "no") "yes"))

(define log (open-output-file log-file))
(define results '())                    ; (result . name), newest first

(define colors
  '((PASS . "\x1b[0;32m") (FAIL . "\x1b[0;31m") (XFAIL . "\x1b[1;32m")
    (XPASS . "\x1b[0;31m") (SKIP . "\x1b[1;34m") (ERROR . "\x1b[0;35m")))

(define (report! result name)
  (set! results (cons (cons result name) results))
  (format #t "~a~a~a: ~a - ~a~%"
          (if color? (assq-ref colors result) "") result (if color? "\x1b[m" "")
          test-name name)
  (format log "~a: ~a~%" result name))

(define (case-name runner)
  (let ((path (test-runner-group-path runner))
        (name (or (test-runner-test-name runner) "")))
    (string-join (append path (list (if (string-null? name)
                                        (format #f "#~a" (+ 1 (length results)))
                                        name)))
                 " / ")))

(define (kind->result kind)
  (case kind
    ((pass) 'PASS)
    ((fail) (if expect-failure? 'XFAIL 'FAIL))
    ((xfail) 'XFAIL)
    ((xpass) 'XPASS)
    ((skip) 'SKIP)
    (else 'ERROR)))

(define (make-driver-runner)
  (let ((runner (test-runner-null)))
    (test-runner-on-test-end!
     runner
     (lambda (r)
       (let* ((result (kind->result (test-result-kind r)))
              (name (case-name r)))
         (report! result name)
         (unless (memq result '(PASS XFAIL SKIP))
           (for-each (lambda (key)
                       (let ((v (test-result-ref r key)))
                         (when v (format log "    ~a: ~s~%" key v))))
                     '(source-file source-line source-form expected-value
                       actual-value expected-error actual-error))))))
    (test-runner-on-bad-end-name!
     runner
     (lambda (r begin-name end-name)
       (report! 'ERROR (format #f "test-end ~s does not match ~s" end-name begin-name))))
    runner))

(test-runner-factory make-driver-runner)

(define (run-suite)
  (catch #t
    (lambda ()
      (load (canonicalize-path test-file))
      #t)
    (lambda (key . args)
      (report! 'ERROR (format #f "uncaught ~a while loading the suite" key))
      (format log "~a: ~s~%" key args)
      #f)
    (lambda (key . args)
      (display-backtrace (make-stack #t) log))))

(format log "SRFI-64 suite ~a~%" test-file)
(run-suite)
(when (null? results)
  (report! 'ERROR "the suite ran no test"))
(close-port log)

(define ordered (reverse results))
(define (bad? r) (memq (car r) '(FAIL XPASS ERROR)))
(call-with-output-file trs-file
  (lambda (port)
    (for-each (lambda (r) (format port ":test-result: ~a ~a~%" (car r) (cdr r)))
              ordered)
    (format port ":global-test-result: ~a~%"
            (cond ((any bad? ordered) (if (assq 'ERROR ordered) "ERROR" "FAIL"))
                  ((every (lambda (r) (eq? (car r) 'SKIP)) ordered) "SKIP")
                  (else "PASS")))
    (format port ":recheck: ~a~%" (if (any bad? ordered) "yes" "no"))
    (format port ":copy-in-global-log: ~a~%" (if (any bad? ordered) "yes" "no"))))
(exit 0)
