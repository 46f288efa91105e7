;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar report) -- progress, the summary, summary.json and JUnit XML.

(define-module (instar report)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 format)
  #:use-module (instar findings)
  #:export (make-progress
            progress-update!
            progress-finish!
            print-summary
            write-junit
            xml-escape))

;;; Progress: a bar redrawn in place on a terminal, plain lines otherwise.

(define (now)
  (let ((t (gettimeofday))) (+ (car t) (/ (cdr t) 1e6))))

(define* (make-progress name total #:key (port (current-error-port)) (quiet? #f))
  (let ((tty? (and (not quiet?) (false-if-exception (isatty? port)))))
    (vector name total port tty? (now) -1 0.0 quiet?)))

(define (fmt-seconds s)
  (let* ((s (inexact->exact (round s))))
    (format #f "~d:~2,'0d" (quotient s 60) (modulo s 60))))

(define (progress-update! p done findings)
  (let* ((name (vector-ref p 0)) (total (vector-ref p 1)) (port (vector-ref p 2))
         (tty? (vector-ref p 3)) (t0 (vector-ref p 4)) (last-done (vector-ref p 5))
         (last-time (vector-ref p 6)) (quiet? (vector-ref p 7))
         (elapsed (- (now) t0))
         (rate (if (> elapsed 0) (/ done elapsed) 0.0))
         (eta (if (> rate 0) (/ (- total done) rate) 0.0)))
    (cond
     (quiet? #t)
     (tty?
      (when (or (> (- (now) last-time) 0.1) (= done total))
        (let* ((width 30)
               (fill (if (> total 0) (quotient (* width done) total) width)))
          (format port "\r~a [~a~a] ~d/~d ~,1f it/s ETA ~a findings ~d "
                  name (make-string fill #\#) (make-string (- width fill) #\.)
                  done total rate (if (> rate 0) (fmt-seconds eta) "-:--") findings)
          (force-output port)
          (vector-set! p 6 (now)))))
     ;; Plain lines: about every tenth of the run, and at the end.
     ((and (not (= done last-done))
           (or (= done total)
               (>= (- done (max last-done 0)) (max 1 (quotient total 10)))))
      (format port "~a: ~d/~d done, ~,1f it/s, ETA ~a, ~d findings~%"
              name done total rate (fmt-seconds eta) findings)
      (force-output port)
      (vector-set! p 5 done)))))

(define (progress-finish! p)
  (when (and (vector-ref p 3) (not (vector-ref p 7)))
    (newline (vector-ref p 2))))

;;; Summary.

(define (print-summary s port)
  (define (get k) (assoc-ref s k))
  (format port "~%== ~a summary ==~%" (get "recipe"))
  (format port "seed ~a, ~a iterations~a, jobs ~a, ~,1fs (~,2f it/s)~%"
          (get "seed")
          ;; A run stopped early says how far it got.
          (let ((ran (get "iterations-run")))
            (if (and ran (not (eqv? ran (get "iterations"))))
                (format #f "~a of ~a" ran (get "iterations"))
                (get "iterations")))
          (if (equal? (get "shard") "1/1") "" (string-append ", shard " (get "shard")))
          (get "jobs") (get "seconds") (get "rate"))
  (format port "engine: ~a; reference: ~a~%" (get "engine") (get "reference"))
  (when (get "interrupted")
    (format port "interrupted by ~a: the cases that completed are summarised; new findings stored, not reduced~%"
            (get "signal")))
  (let ((env (get "environment-error")))
    (when (string? env)
      (format port "stopped by an environment error: ~a~%" env)))
  (let ((v (get "verdicts")))
    (format port "verdicts: ~a match, ~a divergence, ~a known, ~a inconclusive~a~%"
            (assoc-ref v "match") (assoc-ref v "divergence") (assoc-ref v "known")
            (assoc-ref v "inconclusive")
            (let ((r (assoc-ref v "refused")))
              (if (and r (> r 0)) (format #f ", ~a refused" r) ""))))
  (let ((r (get "replayed")))
    (when r
      (format port "~a stored finding~:p replayed: ~a still fail, ~a fixed, ~a flaky~%"
              (assoc-ref r "findings") (assoc-ref r "still-fail") (assoc-ref r "fixed")
              (assoc-ref r "flaky"))))
  (let ((fs (vector->list (get "findings"))))
    (format port "findings: ~a (~a new)~%" (length fs) (get "new-findings"))
    (for-each (lambda (f)
                (format port "  ~a ~a ~a hit~:p (~a in total)~%    ~a~%~@[    ~a~%~]"
                        (assoc-ref f "signature")
                        (if (assoc-ref f "new") "NEW " "seen")
                        (assoc-ref f "hits") (assoc-ref f "total-hits")
                        (assoc-ref f "shape")
                        (assoc-ref f "title")))
              fs))
  (for-each (lambda (r)
              (format port "whitelist ~a: ~a hit~:p~%" (car r) (cdr r)))
            (get "whitelist"))
  (let ((nm (vector->list (get "never-matched-rules"))))
    (unless (null? nm)
      (format port "whitelist rules that never matched: ~a~%" (string-join nm ", "))))
  (let ((why (get "inconclusive-reasons")))
    (unless (null? why)
      (for-each (lambda (r) (format port "inconclusive: ~a x ~a~%" (cdr r) (car r))) why)))
  (let ((why (get "refusals")))
    (when (and why (pair? why))
      (for-each (lambda (r) (format port "refused: ~a x ~a~%" (cdr r) (car r))) why)))
  (format port "output: ~a~%" (get "out")))

;;; JUnit XML: one test case per iteration.

(define (xml-escape s)
  (string-concatenate
   (map (lambda (c)
          (case c
            ((#\<) "&lt;") ((#\>) "&gt;") ((#\&) "&amp;") ((#\") "&quot;")
            (else (string c))))
        (string->list s))))

(define (write-junit file recipe rows seconds)
  "ROWS: list of (NAME VERDICT DETAIL) with VERDICT a symbol."
  (call-with-output-file file
    (lambda (p)
      (format p "<?xml version=\"1.0\" encoding=\"UTF-8\"?>~%")
      (format p "<testsuite name=\"~a\" tests=\"~d\" failures=\"~d\" skipped=\"~d\" time=\"~,3f\">~%"
              (xml-escape recipe) (length rows)
              (count (lambda (r) (eq? (cadr r) 'divergence)) rows)
              (count (lambda (r) (eq? (cadr r) 'inconclusive)) rows)
              seconds)
      (for-each
       (lambda (r)
         (format p "  <testcase classname=\"~a\" name=\"~a\">" (xml-escape recipe)
                 (xml-escape (car r)))
         (case (cadr r)
           ((divergence)
            (format p "<failure message=\"~a\"/>" (xml-escape (caddr r))))
           ((inconclusive)
            (format p "<skipped message=\"~a\"/>" (xml-escape (caddr r))))
           (else #t))
         (format p "</testcase>~%"))
       rows)
      (format p "</testsuite>~%"))))
