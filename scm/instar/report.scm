;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar report) -- progress, the summary, summary.json and JUnit XML.

(define-module (instar report)
  #:use-module (instar util)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 format)
  #:use-module (sxml simple)
  #:use-module (instar findings)
  #:export (make-progress
            progress?
            progress-update!
            progress-finish!
            print-summary
            write-junit
            xml-escape))

;;; Progress: a bar redrawn in place on a terminal, plain lines otherwise.

(define-record-type <progress>
  (%make-progress name total port tty? t0 last-done last-time quiet?)
  progress?
  (name progress-name)
  (total progress-total)
  (port progress-port)
  (tty? progress-tty?)                  ; redraw one line in place
  (t0 progress-t0)                      ; when the run started
  (last-done progress-last-done set-progress-last-done!)    ; last plain line
  (last-time progress-last-time set-progress-last-time!)    ; last redraw
  (quiet? progress-quiet?))

(define* (make-progress name total #:key (port (current-error-port)) (quiet? #f))
  "A progress reporter for a run NAME of TOTAL iterations, writing to
PORT: a bar redrawn in place when PORT is a terminal, otherwise a plain
line about every tenth of the run; nothing when QUIET?."
  (let ((tty? (and (not quiet?) (false-if-exception (isatty? port)) #t)))
    (%make-progress name total port tty? (now) -1 0.0 quiet?)))

(define (fmt-seconds s)
  (let* ((s (inexact->exact (round s))))
    (format #f "~d:~2,'0d" (quotient s 60) (modulo s 60))))

(define (progress-update! p done findings)
  "Report that DONE iterations have completed, with FINDINGS findings so
far: the rate and the time left are computed from the start."
  (let* ((name (progress-name p)) (total (progress-total p)) (port (progress-port p))
         (tty? (progress-tty? p)) (t0 (progress-t0 p)) (last-done (progress-last-done p))
         (last-time (progress-last-time p)) (quiet? (progress-quiet? p))
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
          (set-progress-last-time! p (now)))))
     ;; Plain lines: about every tenth of the run, and at the end.
     ((and (not (= done last-done))
           (or (= done total)
               (>= (- done (max last-done 0)) (max 1 (quotient total 10)))))
      (format port "~a: ~d/~d done, ~,1f it/s, ETA ~a, ~d findings~%"
              name done total rate (fmt-seconds eta) findings)
      (force-output port)
      (set-progress-last-done! p done)))))

(define (progress-finish! p)
  "End the progress output (a terminal's bar gets its newline)."
  (when (and (progress-tty? p) (not (progress-quiet? p)))
    (newline (progress-port p))))

;;; Summary.

(define (print-summary s port)
  "Print the summary S (the alist summary.json holds) to PORT, for people."
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

;;; JUnit XML: one test case per iteration, written with (sxml simple).
;;;
;;; <testsuite> has name, tests, failures, errors, skipped, time,
;;; timestamp (UTC, ISO 8601 without a zone, as the JUnit schema has it),
;;; hostname and <properties> (seed, shard, engine, versions...).  Each
;;; <testcase> has classname (the recipe), name, time (seconds) and
;;; timestamp, its own <properties> (iteration seed, verdict, whitelist
;;; rules), and
;;;   divergence     <failure type="divergence" message=TITLE> whose body
;;;                  is the title, the signature, each differing field
;;;                  (engine and reference values) and the replay commands
;;;   known          <skipped message="known: RULE, ..."> (whitelisted)
;;;   refused        <skipped message="refused: REASON (RULE)"> (a refusal
;;;                  both sides make, a family rule expects)
;;;   inconclusive   <skipped message="inconclusive: REASON">
;;;   internal error <error type="internal" message=REASON> (a bug in the
;;;                  tool, not in the engine)
;;;   match          nothing.

(define (xml-escape s)
  "S with the XML specials escaped (for hand-written XML; the JUnit
writer uses (sxml simple))."
  (string-concatenate
   (map (lambda (c)
          (case c
            ((#\<) "&lt;") ((#\>) "&gt;") ((#\&) "&amp;") ((#\") "&quot;")
            (else (string c))))
        (string->list s))))

(define (junit-time t)
  "Seconds since the epoch as 2026-12-03T11:34:35 (UTC)."
  (strftime "%Y-%m-%dT%H:%M:%S" (gmtime (inexact->exact (floor t)))))

(define (case-ref c k) (let ((v (assq-ref c k))) (if (eq? v 'null) #f v)))

(define (internal-error? c)
  (let ((r (case-ref c 'reason)))
    (and (eq? (case-ref c 'verdict) 'inconclusive) (string? r)
         (string-prefix? "internal error" r))))

(define (failure-body c)
  (string-append
   (or (case-ref c 'title) (case-ref c 'message) "")
   "\n"
   (if (case-ref c 'signature) (format #f "signature: ~a~%" (case-ref c 'signature)) "")
   (let ((diffs (or (case-ref c 'diffs) '())))
     (if (null? diffs)
         ""
         (string-append
          "differs:\n"
          (string-concatenate
           (map (lambda (d)
                  (format #f "  ~a ~a ~a: engine ~a, reference ~a~%"
                          (assoc-ref d "op") (assoc-ref d "oracle") (assoc-ref d "field")
                          (assoc-ref d "engine") (assoc-ref d "reference")))
                diffs)))))
   (string-concatenate
    (map (lambda (cmd) (format #f "replay: ~a~%" cmd)) (or (case-ref c 'replay) '())))))

(define (property name value)
  `(property (@ (name ,name) (value ,(if (string? value) value (format #f "~a" value))))))

(define (junit-case recipe c)
  (let* ((v (case-ref c 'verdict))
         (rules (or (case-ref c 'rules) '()))
         (reason (or (case-ref c 'reason) ""))
         (props (append
                 (if (case-ref c 'seed) (list (property "iteration-seed" (case-ref c 'seed))) '())
                 (list (property "verdict" (symbol->string v)))
                 (if (pair? rules) (list (property "whitelist" (string-join rules ","))) '()))))
    `(testcase
      (@ (classname ,recipe) (name ,(case-ref c 'name))
         (time ,(format #f "~,3f" (exact->inexact (or (case-ref c 'time) 0))))
         ,@(if (case-ref c 'timestamp) `((timestamp ,(junit-time (case-ref c 'timestamp)))) '()))
      (properties ,@props)
      ,@(cond
         ((internal-error? c)
          `((error (@ (type "internal") (message ,reason)) ,reason)))
         (else
          (case v
            ((divergence)
             `((failure (@ (type "divergence")
                           (message ,(or (case-ref c 'title) (case-ref c 'message) "divergence")))
                        ,(failure-body c))))
            ((known)
             `((skipped (@ (message ,(string-append "known: " (string-join rules ", ")))))))
            ((refused)
             `((skipped (@ (message ,(format #f "refused: ~a~@[ (~a)~]" reason
                                             (and (pair? rules) (string-join rules ", "))))))))
            ((inconclusive)
             `((skipped (@ (message ,(string-append "inconclusive: " reason))))))
            (else '())))))))

(define* (write-junit file recipe cases #:key (seconds 0) (timestamp (current-time))
                      (hostname #f) (properties '()))
  "Write CASES as a JUnit <testsuite> to FILE.  Each case is an alist:
name, verdict (match divergence known refused inconclusive), and as
known time, timestamp (seconds since the epoch), seed, reason, title,
signature, diffs (the differing fields), rules (whitelist rule ids) and
replay (command lines).  PROPERTIES: (NAME . VALUE) for the suite."
  (let* ((n (lambda (pred) (count pred cases)))
         (failures (n (lambda (c) (eq? (case-ref c 'verdict) 'divergence))))
         (errors (n internal-error?))
         (skipped (n (lambda (c) (and (memq (case-ref c 'verdict) '(known refused inconclusive))
                                      (not (internal-error? c))))))
         (suite
          `(testsuite
            (@ (name ,recipe) (tests ,(number->string (length cases)))
               (failures ,(number->string failures)) (errors ,(number->string errors))
               (skipped ,(number->string skipped))
               (time ,(format #f "~,3f" (exact->inexact seconds)))
               (timestamp ,(junit-time timestamp))
               ,@(if hostname `((hostname ,hostname)) '()))
            "\n  "
            (properties ,@(map (lambda (kv) (property (car kv) (cdr kv))) properties))
            ;; One test case per line (grep -c '<testcase' counts them).
            ,@(append-map (lambda (c) (list "\n  " (junit-case recipe c))) cases)
            "\n")))
    ;; In place: the run proved FILE writable before its first case.
    (call-with-output-file file
      (lambda (p)
        (display "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" p)
        (sxml->xml suite p)
        (newline p)))))
