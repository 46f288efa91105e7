;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar run) -- the differential run: flags, iterations, findings.
;;;
;;; `run-recipe' is the whole command line of a recipe.  Iteration I of
;;; master seed S draws its case from (iteration-seed S I), so the same
;;; seed gives the same cases and findings whatever --jobs or --shard is.
;;; Workers are threads; each case runs in its own private directory.
;;; A run is regression-first: after the checks below, before drawing any
;;; case, it replays the open (and flaky) findings this recipe stored in
;;; --out against the current engine, `replay-count' times each, and
;;; marks each open, fixed or flaky (see (instar store)).
;;; The exit status convention is defined here once (`exit-status-help',
;;; appended to every recipe's --help and quoted by the manual).
;;;
;;; Before the first case: the options are checked (--out, --tmpdir and
;;; --junit must be usable: exit 2 when the argument is wrong, 3 when the
;;; machine refuses) and the reference is checked once ((instar
;;; preflight)).  SIGINT, SIGTERM and SIGHUP stop the run: running
;;; children and their process groups are killed, each worker unwinds (its
;;; case directory removed), the cases that completed are summarised in
;;; summary.json with "interrupted": true, and the recipe exits 128 + the
;;; signal number.  A second signal exits at once after the same cleanup,
;;; without the summary.

(define-module (instar run)
  #:use-module (instar util)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 getopt-long)
  #:use-module (ice-9 threads)
  #:use-module (ice-9 regex)
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar pickers)
  #:use-module (instar engine)
  #:use-module (instar chain)
  #:use-module (instar oracles)
  #:use-module (instar whitelist)
  #:use-module (instar findings)
  #:use-module (instar store)
  #:use-module (instar config)
  #:use-module (instar reduce)
  #:use-module (instar report)
  #:use-module (instar preflight)
  #:use-module (instar fingerprint)
  #:export (run-recipe
            exit-no-findings
            exit-findings
            exit-usage
            exit-environment
            exit-interrupted
            exit-status-help
            default-execute
            make-context
            context-engine
            context-qemu-img
            context-qemu-io
            context-timeout
            context-tmpdir
            parse-shard
            usage-error))

(define-record-type <context>
  (make-context engine qemu-img qemu-io timeout tmpdir)
  context?
  (engine context-engine)
  (qemu-img context-qemu-img)     ; an external engine record
  (qemu-io context-qemu-io)       ; path
  (timeout context-timeout)
  (tmpdir context-tmpdir))

(define (default-execute case ctx)
  "Run CASE as a chain on both sides; (values VERDICT DIFFS REASON CHAIN TRACE)."
  (let* ((chain (case->chain case))
         (trace (run-chain chain (context-engine ctx)
                           #:qemu-img (context-qemu-img ctx)
                           #:qemu-io (context-qemu-io ctx)
                           #:timeout (context-timeout ctx)
                           #:tmpdir (context-tmpdir ctx))))
    (call-with-values (lambda () (judge case chain trace))
      (lambda (verdict diffs reason)
        (values verdict diffs reason chain trace)))))

;;; Exit status: the one definition.

(define exit-no-findings 0)
(define exit-findings 1)
(define exit-usage 2)
(define exit-environment 3)
(define (exit-interrupted signal)
  "The exit status after SIGNAL stopped a run: 128 + its number, as a
shell reports a process the signal killed (130 for SIGINT, 143 SIGTERM)."
  (+ 128 signal))

(define exit-status-help "\
Every run first replays the open findings stored in --out (3 times each)
and marks them open, fixed or flaky.
Exit status: 0 no finding fails, 1 a finding fails (new, seen again, or
stored and still failing), 2 usage error (a bad option or argument, --out
naming a file), 3 environment error (a missing or broken
qemu-img/qemu-io/engine, an unwritable --out or --tmpdir), 128+N stopped
by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP): the cases that
completed are in summary.json (\"interrupted\": true), no case directory
or child process is left behind, no stored finding is marked fixed.
")

;;; Flags.

(define option-spec
  '((seed (value #t))
    (iterations (value #t))
    (jobs (single-char #\j) (value #t))
    (shard (value #t))
    (out (single-char #\o) (value #t))
    (replay (value #t))
    (instar (value #t))
    (qemu-img (value #t))
    (qemu-io (value #t))
    (timeout (value #t))
    (ops (value #t))
    (formats (value #t))
    (only-formats (value #t))
    (junit (value #t))
    (reduce-time (value #t))
    (tmpdir (value #t))
    (quiet (single-char #\q))
    (help (single-char #\h))))

(define (usage-error name fmt . args)
  "Print NAME: and the message FMT with ARGS (format directives) and a
--help hint to standard error, and exit with `exit-usage' (2)."
  (apply format (current-error-port) (string-append name ": " fmt "~%") args)
  (format (current-error-port) "Try '~a --help' for more information.~%" name)
  (exit exit-usage))

(define (env-error name fmt . args)
  (apply format (current-error-port) (string-append name ": " fmt "~%") args)
  (abort-cleanup!)
  (exit exit-environment))

;;; Stopping on a signal.

(define (signal-name sig)
  (cond ((eqv? sig SIGINT) "SIGINT") ((eqv? sig SIGTERM) "SIGTERM")
        ((eqv? sig SIGHUP) "SIGHUP") (else (format #f "signal ~a" sig))))

(define (install-stop-handlers! name)
  ;; The handler runs as an async in this (the main) thread; workers see
  ;; the request through run-command.  A second signal does not wait.
  ;; A signal the caller ignores stays ignored (nohup, a shell's
  ;; background job), as the convention is.
  (for-each
   (lambda (sig)
     (unless (eqv? (car (sigaction sig)) SIG_IGN)
      (sigaction sig
       (lambda (s)
         (if (abort-requested)
             (begin
               (abort-cleanup!)
               (format (current-error-port) "~a: ~a again: stopped at once~%"
                       name (signal-name s))
               (primitive-exit (exit-interrupted s)))
             (request-abort! s))))))
   (list SIGINT SIGTERM SIGHUP)))

(define (stopped-by-signal)
  (let ((why (abort-requested))) (and (integer? why) why)))

(define (exit-after-signal name)
  (abort-cleanup!)
  (let ((sig (stopped-by-signal)))
    (if sig
        (begin
          (format (current-error-port) "~a: interrupted by ~a~%" name (signal-name sig))
          (exit (exit-interrupted sig)))
        ;; Only a signal aborts outside a campaign; anything else that
        ;; stopped the children is the environment's doing.
        (begin
          (format (current-error-port) "~a: stopped: ~a~%" name (abort-requested))
          (exit exit-environment)))))

;;; Output places: checked before the first case.

(define (check-directory name flag dir)
  "Create DIR if needed and prove it writable; exit 2 when DIR names
something that is not a directory, 3 when the machine refuses."
  (let ((st (false-if-exception (stat dir))))
    (when (and st (not (eq? (stat:type st) 'directory)))
      (usage-error name "--~a ~a: not a directory" flag dir)))
  (catch 'system-error
    (lambda ()
      (let loop ((d dir))
        (unless (file-exists? d)
          (loop (dirname d))
          (mkdir d #o755)))
      (let* ((port (mkstemp (string-append dir "/.instar-probe-XXXXXX")))
             (file (port-filename port)))
        (close-port port)
        (delete-file file)))
    (lambda (key subr msg margs rest)
      (let ((errno (and (pair? rest) (car rest))))
        (if (eqv? errno ENOTDIR)
            (usage-error name "--~a ~a: a parent is not a directory" flag dir)
            (env-error name "--~a ~a: cannot write there: ~a" flag dir
                       (apply format #f msg margs)))))))

(define (check-output-file name flag file)
  "Open FILE for writing now (it is written at the end): exit 2 when it
names a directory or lies under a non-directory, 3 when it cannot be
written."
  (let ((st (false-if-exception (stat file))))
    (when (and st (eq? (stat:type st) 'directory))
      (usage-error name "--~a ~a: is a directory" flag file)))
  (catch 'system-error
    (lambda () (close-port (open-output-file file)))
    (lambda (key subr msg margs rest)
      (if (eqv? (and (pair? rest) (car rest)) ENOTDIR)
          (usage-error name "--~a ~a: a parent is not a directory" flag file)
          (env-error name "--~a ~a: cannot write it: ~a" flag file
                     (apply format #f msg margs))))))

(define (parse-count name flag s minimum)
  (let ((n (and s (string->number s))))
    (unless (and n (exact-integer? n) (>= n minimum))
      (usage-error name "--~a wants an integer >= ~a, not '~a'" flag minimum s))
    n))

(define (parse-shard s)
  "K/N with 1 <= K <= N, as (K . N), or #f."
  (let ((parts (string-split s #\/)))
    (and (= (length parts) 2)
         (let ((k (string->number (car parts))) (n (string->number (cadr parts))))
           (and k n (exact-integer? k) (exact-integer? n) (<= 1 k n) (cons k n))))))

(define (find-program name explicit env)
  (let ((p (or explicit (getenv env))))
    (cond ((and p (string-index p #\/)) (and (file-exists? p) (access? p X_OK) p))
          (p (search-path (parse-path (getenv "PATH")) p))
          (else (search-path (parse-path (getenv "PATH")) name)))))

(define (absolute p)
  "P as an absolute file name (findings and repro.sh must work from any
directory); absolute names are kept as given."
  (if (string-prefix? "/" p) p (canonicalize-path p)))

(define (split-list s) (string-split s #\,))

(define (tally alist key)
  (let ((cell (assoc key alist)))
    (if cell
        (begin (set-cdr! cell (+ 1 (cdr cell))) alist)
        (append alist (list (cons key 1))))))

;;; One iteration, fully judged (whitelist and signature included).

(define-record-type <outcome>
  (make-outcome index seed case verdict diffs reason chain trace known sig)
  outcome?
  (index outcome-index)
  (seed outcome-seed)
  (case outcome-case)
  (verdict outcome-verdict)     ; match divergence known inconclusive refused
  (diffs outcome-diffs)
  (reason outcome-reason)
  (chain outcome-chain)
  (trace outcome-trace)
  (known outcome-known)         ; rule ids
  (sig outcome-sig))

(define (judge-case case ctx execute rules)
  (call-with-values (lambda () (execute case ctx))
    (lambda (verdict diffs reason chain trace)
      (cond
       ;; A reference tool failing for the machine's reasons says nothing
       ;; about the engine: the run stops (exit 3), whatever the oracles said.
       ((and (trace? trace) (reference-failure (trace-steps trace)))
        => (lambda (why) (values 'environment '() why chain trace '() #f)))
       ((eq? verdict 'divergence)
          (call-with-values (lambda () (apply-whitelist rules case diffs))
            (lambda (left hits)
              (cond
               ((pair? left)
                (values 'divergence left reason chain trace hits (signature left)))
               ;; Refusals every one of which a family rule expects.
               ((every refusal-diff? diffs)
                (values 'refused diffs
                        (or reason
                            (string-join
                             (map (lambda (d)
                                    (format #f "~a ~a: ~a" (assoc-ref case "format")
                                            (assoc-ref d "op") (assoc-ref d "field")))
                                  diffs)
                             ", "))
                        chain trace hits #f))
               (else (values 'known diffs reason chain trace hits #f))))))
        (else (values verdict diffs reason chain trace '() #f))))))

(define* (run-one i master ctx pick execute rules #:optional (keep? (const #t)))
  "Draw iteration I's case and judge it: an outcome, or 'skipped when
KEEP? (--only-formats) rejects the case.  The draw comes first, so a
kept case is exactly the case a run without the filter draws."
  (let* ((seed (iteration-seed master i))
         (case (pick (make-rng seed) i)))
    (if (not (keep? case))
        'skipped
    (call-with-values (lambda () (judge-case case ctx execute rules))
      (lambda (verdict diffs reason chain trace known sig)
        (make-outcome i seed case verdict diffs reason chain
                      (and (eq? verdict 'divergence) trace) known sig))))))

(define (print-diffs diffs port)
  (for-each (lambda (d)
              (format port "  ~a ~a ~a: engine ~a, reference ~a~%"
                      (assoc-ref d "op") (assoc-ref d "oracle") (assoc-ref d "field")
                      (assoc-ref d "engine") (assoc-ref d "reference")))
            diffs))

;;; The recipe's command line.

(define* (run-recipe name args #:key pick-with (pick-index #f) (execute default-execute)
                     (rules default-rules) (default-ops '()) (default-formats '())
                     (instar-img #f) (help-text "")
                     (refusal-verdict? #f))
  "Run a recipe with the command-line arguments ARGS.  PICK-WITH:
(lambda (ops formats) (lambda (rng) CASE)).  PICK-INDEX, when given,
replaces it: (lambda (I) CASE), iteration I's case whatever the seed (a
recipe over a fixed list of cases, such as corpus-diff).  HELP-TEXT is printed by
--help, followed by the exit status convention.  Never returns: exits
with the status `exit-status-help' describes."
  (define opts
    (catch #t
      (lambda () (getopt-long (cons name args) option-spec))
      (lambda (key . rest)
        (usage-error name "~a" (if (and (pair? rest) (pair? (cdr rest)))
                                   (apply format #f (cadr rest) (caddr rest))
                                   rest)))))
  (define (opt k) (option-ref opts k #f))
  (when (opt 'help)
    (display help-text)
    (newline)
    (display exit-status-help)
    (exit 0))
  (unless (null? (option-ref opts '() '()))
    (usage-error name "unexpected argument '~a'" (car (option-ref opts '() '()))))
  (let* ((seed (if (opt 'seed) (parse-count name "seed" (opt 'seed) 0)
                   (logand (inexact->exact (round (* 1000 (now)))) #xffffffff)))
         (iterations (if (opt 'iterations) (parse-count name "iterations" (opt 'iterations) 0) 200))
         (jobs (if (opt 'jobs) (parse-count name "jobs" (opt 'jobs) 1) 1))
         (shard (if (opt 'shard)
                    (or (parse-shard (opt 'shard))
                        (usage-error name "--shard wants K/N with 1 <= K <= N, not '~a'" (opt 'shard)))
                    '(1 . 1)))
         (timeout (if (opt 'timeout) (parse-count name "timeout" (opt 'timeout) 1) 120))
         (reduce-time (if (opt 'reduce-time) (parse-count name "reduce-time" (opt 'reduce-time) 0) 30))
         (ops (if (opt 'ops) (split-list (opt 'ops)) default-ops))
         (formats (if (opt 'formats) (split-list (opt 'formats)) default-formats))
         (only-formats (and (opt 'only-formats) (split-list (opt 'only-formats))))
         (out (or (opt 'out) "instar-out"))
         (tmpdir (or (opt 'tmpdir) (getenv "TMPDIR") "/tmp"))
         (quiet? (opt 'quiet)))
    (for-each (lambda (o) (unless (member o default-ops)
                            (usage-error name "unknown op '~a' (known: ~a)" o
                                         (string-join default-ops ","))))
              ops)
    (for-each (lambda (f) (unless (member f default-formats)
                            (usage-error name "unknown format '~a' (known: ~a)" f
                                         (string-join default-formats ","))))
              formats)
    (when (or (null? ops) (null? formats))
      (usage-error name "--ops and --formats must not be empty"))
    (for-each (lambda (f) (unless (member f default-formats)
                            (usage-error name "--only-formats: unknown format '~a' (known: ~a)" f
                                         (string-join default-formats ","))))
              (or only-formats '()))
    (when (and only-formats (null? only-formats))
      (usage-error name "--only-formats must not be empty"))
    ;; From here on a signal stops the run cleanly.
    (install-stop-handlers! name)
    ;; Where results go, before any case runs (a --replay only reads).
    (check-directory name "tmpdir" tmpdir)
    (unless (opt 'replay)
      (check-directory name "out" out)
      (when (opt 'junit) (check-output-file name "junit" (opt 'junit))))
    (let ((st (false-if-exception (stat out))))
      (when (and st (not (eq? (stat:type st) 'directory)))
        (usage-error name "--out ~a: not a directory" out)))
    (let* ((qemu-img-path (absolute
                           (or (find-program "qemu-img" (opt 'qemu-img) "QEMU_IMG")
                               (env-error name "qemu-img not found (use --qemu-img PATH)"))))
           (qemu-io (absolute
                     (or (find-program "qemu-io" (opt 'qemu-io) "QEMU_IO")
                         (env-error name "qemu-io not found (use --qemu-io PATH)"))))
           (qemu-img (make-external-engine "qemu-img" qemu-img-path))
           (engine
            (cond
             ((opt 'instar)
              (let ((p (find-program "instar-img" (opt 'instar) "INSTAR_ENGINE_UNUSED")))
                (unless p (env-error name "--instar ~a: not an executable" (opt 'instar)))
                (make-external-engine (basename p) (absolute p))))
             ((in-process-available?)
              (make-in-process-engine (or instar-img "instar-img")))
             ((and instar-img (file-exists? instar-img))
              (format (current-error-port)
                      "~a: (instar core) is not available; testing ~a instead~%"
                      name instar-img)
              (make-external-engine "instar-img" (absolute instar-img)))
             (else (env-error name "neither (instar core) nor instar-img found (use --instar PATH)"))))
           (ctx (make-context engine qemu-img qemu-io timeout tmpdir))
           ;; (lambda (rng i) CASE): the seeded draw, or the I-th case.
           (pick (if pick-index
                     (lambda (rng i) (pick-index i))
                     (let ((p (pick-with ops formats))) (lambda (rng i) (p rng))))))
      (catch 'instar-abort
        (lambda ()
          ;; The reference, once: a broken one is the environment's fault.
          (let ((why (check-reference qemu-img-path qemu-io #:tmpdir tmpdir
                                      #:timeout (min timeout 30))))
            (when why (env-error name "~a" why)))
          (cond
           ((opt 'replay)
            => (lambda (r)
                 (replay name r out ctx pick execute rules
                         #:use-recorded-engine? (not (opt 'instar))
                         #:in-process (lambda ()
                                        (and (in-process-available?)
                                             (make-in-process-engine
                                              (if instar-img (absolute instar-img) "instar-img")))))))
           (else
            (campaign name #:seed seed #:iterations iterations #:jobs jobs #:shard shard
                      #:out out #:ctx ctx #:pick pick #:execute execute #:rules rules
                      #:reduce-time reduce-time #:junit (opt 'junit) #:quiet? quiet?
                      #:ops ops #:formats formats #:only-formats only-formats))))
        (lambda (key . args)
          (exit-after-signal name))))))

;;; --replay SIG or S:I

(define (recorded-context name ctx file use-recorded-engine? in-process)
  "CTX with the engine recorded in finding FILE, unless --instar chose one
(USE-RECORDED-ENGINE? #f): a finding replays against the engine that
showed it, not silently against another."
  (let ((id (assoc-ref (read-json-file file) "engine")))
    (if (or (not use-recorded-engine?) (not (pair? id)))
        ctx
        (let ((e (engine-from-identity id #:in-process in-process)))
          (unless e
            (env-error name "the finding's engine ~a is not available (use --instar PATH)"
                       (or (assoc-ref id "program") (assoc-ref id "name"))))
          (let ((h (assoc-ref id "hash")))
            (when (and (string? h) (eq? (engine-kind e) 'external)
                       (not (equal? h (file-content-hash (engine-program e)))))
              (format #t "note: ~a changed since the finding was stored~%" (engine-program e))))
          (make-context e (context-qemu-img ctx) (context-qemu-io ctx)
                        (context-timeout ctx) (context-tmpdir ctx))))))

(define* (replay name what out ctx pick execute rules
                 #:key (use-recorded-engine? #t) (in-process (const #f)))
  (let* ((si (string-split what #\:))
         (case+label
          (if (= (length si) 2)
              (let ((s (string->number (car si))) (i (string->number (cadr si))))
                (unless (and s i (exact-integer? s) (exact-integer? i) (>= i 0))
                  (usage-error name "--replay wants SIGNATURE or SEED:ITERATION, not '~a'" what))
                (cons (pick (make-rng (iteration-seed s i)) i) (format #f "seed ~a iteration ~a" s i)))
              (let ((file (string-append (finding-directory out what) "/finding.json")))
                (unless (file-exists? file)
                  (usage-error name "no finding ~a under ~a/findings" what out))
                (set! ctx (recorded-context name ctx file use-recorded-engine? in-process))
                (cons (assoc-ref (read-json-file file) "case")
                      (format #f "finding ~a" what)))))
         (case (car case+label)))
    (format #t "~a: replaying ~a~%engine: ~a~%case: ~a~%" name (cdr case+label)
            (engine-label (context-engine ctx)) (scm->json-string case))
    (call-with-values (lambda () (judge-case case ctx execute rules))
      (lambda (verdict diffs reason chain trace known sig)
        (when (eq? verdict 'environment)
          (env-error name "environment error: ~a" reason))
        (format #t "verdict: ~a~@[ (~a)~]~%" verdict reason)
        (unless (null? diffs) (print-diffs diffs (current-output-port)))
        (unless (null? known) (format #t "whitelist: ~a~%" (string-join known ", ")))
        (when sig
          (format #t "signature: ~a~%shape: ~a~%" sig (canonical-shape diffs))
          (when (and (not (string-index what #\:)) (not (equal? sig what)))
            (format #t "note: the signature changed (was ~a)~%" what)))
        (exit (if (eq? verdict 'divergence) exit-findings exit-no-findings))))))

;;; Regression first: the stored findings, replayed.

(define (engine-label e)
  (format #f "~a (~a~@[ ~a~])" (engine-name e) (engine-kind e)
          (and (eq? (engine-kind e) 'external) (engine-program e))))

(define (replay-passes name case sig ctx execute rules)
  "How many of `replay-count' replays of CASE did NOT show SIG.  An
inconclusive replay (a timeout) proves nothing, so it is not a pass.  A
reference failing for the machine's reasons stops the run (exit 3), and
an abort (a signal) is passed on: neither may mark a finding fixed."
  (count (lambda (_)
           (call-with-values
               (lambda ()
                 (catch #t
                   (lambda () (judge-case case ctx execute rules))
                   (lambda (key . args)
                     (if (abort-key? key)
                         (apply throw key args)
                         (values 'inconclusive '() #f #f #f '() #f)))))
             (lambda (verdict diffs reason chain trace known s)
               (when (eq? verdict 'environment)
                 (env-error name "environment error: ~a" reason))
               (not (or (eq? verdict 'inconclusive) (equal? s sig))))))
         (iota replay-count)))

(define (replay-stored! name out ctx execute rules quiet? on-replayed)
  "Replay the open and flaky findings RECIPE NAME stored under OUT,
calling ON-REPLAYED with (ID . STATUS), the status each now has, as each
is marked.  A signal ends it with 'instar-abort; the finding being
replayed then is left as it was."
  (let* ((ids (filter (lambda (id)
                        (let ((f (read-finding out id)))
                          (and f
                               (equal? (finding-ref f "recipe") name)
                               (member (finding-ref f "status") '("open" "flaky"))
                               (finding-ref f "case"))))
                      (list-findings out)))
         (engine-id (engine-identity (context-engine ctx))))
    (for-each
     (lambda (id)
       (when (abort-requested) (throw 'instar-abort (abort-requested)))
       (let* ((f (read-finding out id))
              (passes (replay-passes name (finding-ref f "case") id ctx execute rules))
              (g (note-replay! out id #:failures (- replay-count passes)
                               #:tries replay-count #:engine engine-id)))
         (unless quiet?
           (format (current-error-port) "~a: stored finding ~a: ~a (~a of ~a replays fail)~%"
                   name id (finding-ref g "status") (- replay-count passes) replay-count))
         (on-replayed (cons id (finding-ref g "status")))))
     ids)))

;;; The campaign.

(define (host-name) (or (false-if-exception (gethostname)) "unknown"))

(define* (campaign name #:key seed iterations jobs shard out ctx pick execute rules
                   reduce-time junit quiet? ops formats (only-formats #f))
  (let* ((keep? (if only-formats
                    (lambda (case) (member (assoc-ref case "format") only-formats))
                    (const #t)))
         (skipped 0)
         (started (current-time))
         (engine-id (engine-identity (context-engine ctx)))
         (reference-version (tool-version (engine-program (context-qemu-img ctx))))
         (replayed-rev '())
         ;; When each iteration (or stored replay) started and how long
         ;; it took, for the JUnit test cases.
         (timings (make-hash-table))
         (replay-clock (now))
         ;; A signal while replaying skips the cases (none is drawn) but
         ;; still ends in the summary; what was replayed so far counts.
         (replay-signal
          (catch 'instar-abort
            (lambda ()
              (replay-stored! name out ctx execute rules quiet?
                              (lambda (r)
                                (let ((t (now)))
                                  (hash-set! timings (car r) (cons replay-clock (- t replay-clock)))
                                  (set! replay-clock t))
                                (set! replayed-rev (cons r replayed-rev))))
              #f)
            (lambda _ (stopped-by-signal))))
         (replayed (reverse replayed-rev))
         (run-id (format #f "~a-~a" (iso-time started) (getpid)))
         (stats-port (open-file (string-append out "/stats.jsonl") "a"))
         (indices (list->vector
                   (filter (lambda (i) (= (modulo i (cdr shard)) (- (car shard) 1)))
                           (iota iterations))))
         (total (vector-length indices))
         (results (make-vector total #f))
         (known-before (list-findings out))
         (next 0)
         (done 0)
         (live-sigs '())
         (environment-failure #f)     ; the first reference failure, or #f
         (mutex (make-mutex))
         (t0 (now))
         (progress (make-progress name total #:quiet? quiet?)))
    (reset-child-seconds!)
    (define (worker)
      (let loop ()
        (let ((k (with-mutex mutex
                   (and (not (abort-requested)) (< next total)
                        (let ((k next)) (set! next (+ next 1)) k)))))
          (when k
            (let* ((i (vector-ref indices k))
                   (started (now))
                   (o (catch #t
                        (lambda () (run-one i seed ctx pick execute rules keep?))
                        (lambda (key . args)
                          ;; An abort abandons the case: it did not run.
                          (and (not (abort-key? key))
                               (make-outcome i (iteration-seed seed i) #f 'inconclusive '()
                                             (format #f "internal error: ~a ~s" key args)
                                             #f #f '() #f))))))
              (when (eq? o 'skipped)
                (with-mutex mutex
                  (set! skipped (+ skipped 1))
                  (set! done (+ done 1))))
              (when (outcome? o)
                (with-mutex mutex
                  (hash-set! timings i (cons started (- (now) started)))
                  (vector-set! results k o)
                  (set! done (+ done 1))
                  (when (and (outcome-sig o) (not (member (outcome-sig o) live-sigs)))
                    (set! live-sigs (cons (outcome-sig o) live-sigs)))
                  (when (and (eq? (outcome-verdict o) 'environment) (not environment-failure))
                    (set! environment-failure (outcome-reason o))
                    (request-abort! 'environment))
                  ;; One line per iteration as it completes (never
                  ;; rewritten).  A worker given up on after an abort
                  ;; may finish after the port is closed.
                  (unless (port-closed? stats-port)
                    (scm->json `(("run" . ,run-id) ("recipe" . ,name)
                                 ("t" . ,(- (now) t0)) ("seed" . ,seed)
                                 ("iteration" . ,(outcome-index o))
                                 ;; The drawn case: its format and a key
                                 ;; (XXH3-64 of its JSON), so runs can be
                                 ;; compared case by case.
                                 ("format" . ,(or (and (outcome-case o)
                                                       (assoc-ref (outcome-case o) "format"))
                                                  'null))
                                 ("case" . ,(if (outcome-case o)
                                                (string-xxh64 (scm->json-string (outcome-case o)))
                                                'null))
                                 ("verdict" . ,(symbol->string (outcome-verdict o)))
                                 ("signature" . ,(or (outcome-sig o) 'null))
                                 ("done" . ,done) ("total" . ,total)
                                 ("findings" . ,(length live-sigs))
                                 ;; For `instar-fuzz status' and report:
                                 ;; which shard, which whitelist rules.
                                 ("shard" . ,(format #f "~a/~a" (car shard) (cdr shard)))
                                 ("rules" . ,(list->vector
                                              (if (memq (outcome-verdict o) '(known refused))
                                                  (or (outcome-known o) '())
                                                  '()))))
                               stats-port)
                    (newline stats-port)
                    (force-output stats-port))))
              (loop))))))
    (let ((threads (map (lambda (_) (call-with-new-thread worker))
                        (iota (min jobs (max total 1))))))
      ;; After an abort, workers unwind within a poll interval; one stuck
      ;; in the in-process engine is given a few seconds, then left behind
      ;; (the process exits).
      (let wait ((deadline #f))
        (progress-update! progress (with-mutex mutex done) (with-mutex mutex (length live-sigs)))
        (unless (every thread-exited? threads)
          (let ((deadline (or deadline (and (abort-requested) (+ (now) 10)))))
            (unless (and deadline (> (now) deadline))
              (usleep 50000)
              (wait deadline)))))
      (for-each (lambda (t) (when (thread-exited? t) (join-thread t))) threads))
    (with-mutex mutex (close-port stats-port))
    (let ((signal (or replay-signal (stopped-by-signal))))
      (progress-update! progress (with-mutex mutex done) (length live-sigs))
      (progress-finish! progress)
      (when environment-failure
        (format (current-error-port) "~a: environment error: ~a~%" name environment-failure))
      ;; Every case directory is gone (each worker removed its own while
      ;; unwinding); make sure, and that no child survives.
      (when (abort-requested) (abort-cleanup!))
      (finish-campaign name #:seed seed #:total total #:jobs jobs #:shard shard
                       #:out out #:ctx ctx #:execute execute #:rules rules
                       #:reduce-time reduce-time #:junit junit #:quiet? quiet?
                       #:ops ops #:formats formats #:t0 t0 #:known-before known-before
                       #:only-formats only-formats #:skipped skipped
                       #:outcomes (filter (lambda (o)
                                            (and o (not (eq? (outcome-verdict o) 'environment))))
                                          (vector->list results))
                       #:signal signal #:environment-failure environment-failure
                       #:started started #:engine-id engine-id
                       #:reference-version reference-version #:replayed replayed
                       #:timings timings))))

(define* (finish-campaign name #:key seed total jobs shard out ctx execute rules
                          reduce-time junit quiet? ops formats t0 known-before outcomes
                          signal environment-failure started engine-id reference-version
                          replayed (timings (make-hash-table))
                          (only-formats #f) (skipped 0))
  "Aggregate OUTCOMES (the completed cases, in iteration order), store and
reduce new findings, write summary.json (and JUnit), print the summary and
exit.  SIGNAL or ENVIRONMENT-FAILURE: the run stopped early; findings are
stored but not reduced.  REPLAYED: the stored findings replayed first, as
(ID . STATUS).  TIMINGS: iteration index (or stored ID) -> (START .
SECONDS)."
  (let ((counter (make-rule-counter rules))
        (verdicts (map (lambda (v) (cons v 0)) '("match" "divergence" "known" "inconclusive" "refused")))
        (reasons '())
        (refusals '())
        (first-of '())            ; sig -> outcome
        (hits '())                ; sig -> count this run
        (rows '())
        (stopped? (or signal environment-failure)))
    (for-each
     (lambda (o)
       (let ((v (outcome-verdict o)))
         (set! verdicts (tally verdicts (symbol->string v)))
         ;; A rule is hit when it explains a whole divergence (a partial
         ;; explanation leaves a finding, and is not counted).
         (when (memq v '(known refused)) (count-rule-hits! counter (outcome-known o)))
         (when (eq? v 'inconclusive)
           (set! reasons (tally reasons (or (outcome-reason o) "?"))))
         (when (eq? v 'refused)
           ;; Sizes in messages vary; tally the message's shape (runs of
           ;; three digits or more, so qcow2 and v2 stay readable).
           (set! refusals (tally refusals (regexp-substitute/global
                                           #f "[0-9][0-9][0-9]+" (or (outcome-reason o) "?")
                                           'pre "N" 'post))))
         (when (eq? v 'divergence)
           (let ((sig (outcome-sig o)))
             (set! hits (tally hits sig))
             (unless (assoc sig first-of)
               (set! first-of (append first-of (list (cons sig o)))))
             (record-hit! out sig seed (outcome-index o))))
         (set! rows (cons (junit-row name out seed o (hash-ref timings (outcome-index o))) rows))))
     outcomes)
    ;; Store new findings, then reduce them (not after a stop: a signal
    ;; asks for an end, and the environment is broken).
    (let* ((new-sigs (filter (lambda (sig) (not (member sig known-before))) (map car first-of)))
           (signal
            (or signal
                (catch 'instar-abort
                  (lambda ()
                    (for-each
                     (lambda (sig)
                       (let ((o (assoc-ref first-of sig)))
                         (store-finding! out sig #:case (outcome-case o) #:chain (outcome-chain o)
                                         #:trace (outcome-trace o) #:diffs (outcome-diffs o)
                                         #:seed seed #:iteration (outcome-index o)
                                         #:engine (context-engine ctx) #:qemu-img (context-qemu-img ctx)
                                         #:qemu-io (context-qemu-io ctx) #:recipe name
                                         #:kind (recipe-kind name)
                                         #:title (finding-title (outcome-case o) (outcome-diffs o))
                                         #:engine-identity engine-id
                                         #:reference-version reference-version
                                         #:run-options `(("ops" . ,(string-join ops ","))
                                                         ("formats" . ,(string-join formats ","))))))
                     new-sigs)
                    ;; Hits, last seen, and a fixed finding hit again is
                    ;; open again (a stop does not change that: the hits
                    ;; happened).
                    (for-each (lambda (f) (note-seen! out (car f))) first-of)
                    (unless stopped?
                      (for-each
                       (lambda (sig)
                         (reduce-finding! name out sig (assoc-ref first-of sig) ctx execute rules
                                          reduce-time quiet?))
                       new-sigs))
                    #f)
                  (lambda _
                    (abort-cleanup!)
                    (stopped-by-signal)))))
           (seconds (- (now) t0))
           (ran (length outcomes))
           (replay-counts (map (lambda (st)
                                 (cons st (count (lambda (r) (equal? (cdr r) st)) replayed)))
                               '("open" "fixed" "flaky")))
           (still-failing (filter (lambda (r) (member (cdr r) '("open" "flaky"))) replayed))
           (summary
            `(("recipe" . ,name)
              ("timestamp" . ,(iso-time started))
              ("host" . ,(host-name))
              ("instar-fuzz-version" . ,%instar-version)
              ("qemu-img-version" . ,reference-version)
              ("engine-identity" . ,engine-id)
              ("seed" . ,seed)
              ("iterations" . ,total)
              ("iterations-run" . ,ran)
              ;; --only-formats: cases drawn but not run (another format).
              ("only-formats" . ,(if only-formats (list->vector only-formats) 'null))
              ("skipped" . ,skipped)
              ("interrupted" . ,(and signal #t))
              ("signal" . ,(if signal (signal-name signal) 'null))
              ("environment-error" . ,(or environment-failure 'null))
              ("shard" . ,(format #f "~a/~a" (car shard) (cdr shard)))
              ("jobs" . ,jobs)
              ("ops" . ,(list->vector ops))
              ("formats" . ,(list->vector formats))
              ("engine" . ,(format #f "~a (~a~@[ ~a~])" (engine-name (context-engine ctx))
                                   (engine-kind (context-engine ctx))
                                   (and (eq? (engine-kind (context-engine ctx)) 'external)
                                        (engine-program (context-engine ctx)))))
              ("reference" . ,(engine-program (context-qemu-img ctx)))
              ("seconds" . ,seconds)
              ("rate" . ,(if (> seconds 0) (/ ran seconds) 0))
              ("child-seconds" . ,(%child-seconds))
              ("verdicts" . ,verdicts)
              ("new-findings" . ,(length new-sigs))
              ("replayed" . (("findings" . ,(length replayed))
                             ("still-fail" . ,(assoc-ref replay-counts "open"))
                             ("fixed" . ,(assoc-ref replay-counts "fixed"))
                             ("flaky" . ,(assoc-ref replay-counts "flaky"))
                             ("tries" . ,replay-count)
                             ("statuses" . ,(map (lambda (r) (cons (car r) (cdr r))) replayed))))
              ("findings" . ,(list->vector
                              (map (lambda (f)
                                     (let ((sig (car f)))
                                       `(("signature" . ,sig)
                                         ("shape" . ,(canonical-shape (outcome-diffs (cdr f))))
                                         ("title" . ,(finding-title (outcome-case (cdr f))
                                                                    (outcome-diffs (cdr f))))
                                         ("new" . ,(and (member sig new-sigs) #t))
                                         ("hits" . ,(assoc-ref hits sig))
                                         ("total-hits" . ,(finding-hit-count out sig))
                                         ("first-iteration" . ,(outcome-index (cdr f))))))
                                   first-of)))
              ("whitelist" . ,(rule-counts counter))
              ("never-matched-rules" . ,(list->vector (never-matched counter)))
              ("inconclusive-reasons" . ,reasons)
              ("refusals" . ,refusals)
              ("out" . ,out))))
      (write-json-file (string-append out "/summary.json") summary)
      (print-summary summary (current-output-port))
      ;; The stored findings replayed first are test cases too: a
      ;; report must not read green while the run exits 1.
      (when junit
        (write-junit junit name
                     (append (map (lambda (r) (stored-junit-row name out r (hash-ref timings (car r))))
                                  replayed)
                             (reverse rows))
                     #:seconds seconds #:timestamp started #:hostname (host-name)
                     #:properties
                     `(("recipe" . ,name) ("seed" . ,seed)
                       ("iterations" . ,total) ("shard" . ,(format #f "~a/~a" (car shard) (cdr shard)))
                       ("jobs" . ,jobs) ("ops" . ,(string-join ops ","))
                       ("formats" . ,(string-join formats ","))
                       ("engine" . ,(assoc-ref summary "engine"))
                       ("engine-hash" . ,(let ((h (assoc-ref engine-id "hash")))
                                          (if (string? h) h "-")))
                       ("engine-library-version" . ,(let ((v (assoc-ref engine-id "library-version")))
                                                     (if (string? v) v "-")))
                       ("reference" . ,(engine-program (context-qemu-img ctx)))
                       ("reference-version" . ,reference-version)
                       ("instar-fuzz-version" . ,%instar-version)
                       ("out" . ,out))))
      (cond
       (signal
        (format (current-error-port) "~a: interrupted by ~a after ~a of ~a iterations~%"
                name (signal-name signal) ran total)
        (exit (exit-interrupted signal)))
       (environment-failure (exit exit-environment))
       ;; Any finding failing now -- new, seen again, or a stored one
       ;; still failing its replays -- fails the run: a reused --out
       ;; never turns a red run green.
       (else (exit (if (and (null? first-of) (null? still-failing))
                       exit-no-findings
                       exit-findings)))))))

;;; JUnit test cases (written by `write-junit', (instar report)).

(define (junit-row name out seed o timing)
  "Iteration outcome O as a JUnit case: its time, the iteration's seed,
the verdict, the whitelist rules, and for a divergence the title, the
differing fields and the commands that replay it."
  (let* ((c (outcome-case o))
         (i (outcome-index o))
         (sig (outcome-sig o)))
    `((name . ,(format #f "~a:~a ~a ~a" seed i
                       (or (and c (assoc-ref c "op")) "?") (or (and c (assoc-ref c "format")) "?")))
      (verdict . ,(outcome-verdict o))
      (time . ,(if timing (cdr timing) 0))
      (timestamp . ,(and timing (car timing)))
      (seed . ,(outcome-seed o))
      (reason . ,(outcome-reason o))
      (rules . ,(or (outcome-known o) '()))
      (signature . ,sig)
      (diffs . ,(outcome-diffs o))
      (title . ,(and sig c (finding-title c (outcome-diffs o))))
      (replay . ,(if sig
                     (list (format #f "instar-fuzz replay ~a --out ~a" sig out)
                           (format #f "instar-fuzz replay ~a:~a --recipe ~a" seed i name))
                     '())))))

(define (stored-junit-row name out r timing)
  "A stored finding replayed first, (ID . STATUS), as a JUnit case: a
failure unless it is now fixed."
  (let* ((id (car r))
         (f (read-finding out id)))
    `((name . ,(string-append "stored " id))
      (verdict . ,(if (equal? (cdr r) "fixed") 'match 'divergence))
      (time . ,(if timing (cdr timing) 0))
      (timestamp . ,(and timing (car timing)))
      (signature . ,id)
      (title . ,(format #f "~a (stored finding, ~a after ~a replays)"
                        (or (and f (finding-ref f "title")) id) (cdr r) replay-count))
      (diffs . ,(or (and f (let ((d (finding-ref f "diffs"))) (and (vector? d) (vector->list d))))
                    '()))
      (replay . ,(list (format #f "instar-fuzz replay ~a --out ~a" id out))))))

(define (reduce-finding! name out sig o ctx execute rules seconds quiet?)
  (let ((t0 (now)))
    (define (signature-of case)
      (catch #t
        (lambda ()
          (call-with-values (lambda () (judge-case case ctx execute rules))
            (lambda (verdict diffs reason chain trace known s) s)))
        (lambda (key . args)
          ;; An abort ends the reduction (the caller stops); anything
          ;; else is a variant that does not reproduce.
          (if (abort-key? key) (apply throw key args) #f))))
    (call-with-values
        (lambda () (reduce-case (outcome-case o) signature-of #:seconds seconds))
      (lambda (reduced accepted tries timed-out?)
        (let ((chain (case->chain reduced)))
          (write-json-file (string-append (finding-directory out sig) "/reduced.json")
                           `(("signature" . ,sig)
                             ("case" . ,reduced)
                             ("chain" . ,(list->vector chain))
                             ("steps-accepted" . ,accepted)
                             ("variants-tried" . ,tries)
                             ("seconds" . ,(- (now) t0))
                             ("time-limit-reached" . ,timed-out?)))
          ;; repro.sh reproduces the reduced case (finding.json keeps the
          ;; original one).
          (let ((file (string-append (finding-directory out sig) "/repro.sh")))
            (call-with-output-file file
              (lambda (p)
                (display (repro-script chain #:engine (context-engine ctx)
                                       #:qemu-img (context-qemu-img ctx)
                                       #:qemu-io (context-qemu-io ctx)
                                       #:title (canonical-shape (outcome-diffs o))
                                       #:replay sig)
                         p)))
            (chmod file #o755))
          (unless quiet?
            (format (current-error-port) "~a: reduced ~a in ~,1fs (~a step~:p, ~a tried)~%"
                    name sig (- (now) t0) accepted tries)))))))
