;;; (instar run) -- the differential run: flags, iterations, findings.
;;;
;;; `run-recipe' is the whole command line of a recipe.  Iteration I of
;;; master seed S draws its case from (iteration-seed S I), so the same
;;; seed gives the same cases and findings whatever --jobs or --shard is.
;;; Workers are threads; each case runs in its own private directory.
;;; A run is regression-first: before drawing any case it replays the
;;; open (and flaky) findings this recipe stored in --out against the
;;; current engine, `replay-count' times each, and marks each open, fixed
;;; or flaky (see (instar store)).
;;; Exit status: 0 no finding fails (none new, none seen again, no stored
;;; one still failing), 1 some finding fails, 2 usage error,
;;; 3 environment error (qemu-img or the engine missing).

(define-module (instar run)
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
  #:export (run-recipe
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
    (junit (value #t))
    (reduce-time (value #t))
    (tmpdir (value #t))
    (quiet (single-char #\q))
    (help (single-char #\h))))

(define (usage-error name fmt . args)
  (apply format (current-error-port) (string-append name ": " fmt "~%") args)
  (format (current-error-port) "Try '~a --help' for more information.~%" name)
  (exit 2))

(define (env-error name fmt . args)
  (apply format (current-error-port) (string-append name ": " fmt "~%") args)
  (exit 3))

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

(define (now)
  (let ((t (gettimeofday))) (+ (car t) (/ (cdr t) 1e6))))

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
      (if (eq? verdict 'divergence)
          (call-with-values (lambda () (apply-whitelist rules case diffs))
            (lambda (left hits)
              (if (null? left)
                  (values 'known diffs reason chain trace hits #f)
                  (values 'divergence left reason chain trace hits (signature left)))))
          (values verdict diffs reason chain trace '() #f)))))

(define (run-one i master ctx pick execute rules)
  (let* ((seed (iteration-seed master i))
         (case (pick (make-rng seed))))
    (call-with-values (lambda () (judge-case case ctx execute rules))
      (lambda (verdict diffs reason chain trace known sig)
        (make-outcome i seed case verdict diffs reason chain
                      (and (eq? verdict 'divergence) trace) known sig)))))

(define (print-diffs diffs port)
  (for-each (lambda (d)
              (format port "  ~a ~a ~a: engine ~a, reference ~a~%"
                      (assoc-ref d "op") (assoc-ref d "oracle") (assoc-ref d "field")
                      (assoc-ref d "engine") (assoc-ref d "reference")))
            diffs))

;;; The recipe's command line.

(define* (run-recipe name args #:key pick-with (execute default-execute)
                     (rules default-rules) (default-ops '()) (default-formats '())
                     (instar-img #f) (help-text "")
                     (refusal-verdict? #f))
  "PICK-WITH: (lambda (ops formats) (lambda (rng) CASE))."
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
           (pick (pick-with ops formats)))
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
        (mkdir-p out)
        (campaign name #:seed seed #:iterations iterations #:jobs jobs #:shard shard
                  #:out out #:ctx ctx #:pick pick #:execute execute #:rules rules
                  #:reduce-time reduce-time #:junit (opt 'junit) #:quiet? quiet?
                  #:ops ops #:formats formats))))))

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
                (cons (pick (make-rng (iteration-seed s i))) (format #f "seed ~a iteration ~a" s i)))
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
        (format #t "verdict: ~a~@[ (~a)~]~%" verdict reason)
        (unless (null? diffs) (print-diffs diffs (current-output-port)))
        (unless (null? known) (format #t "whitelist: ~a~%" (string-join known ", ")))
        (when sig
          (format #t "signature: ~a~%shape: ~a~%" sig (canonical-shape diffs))
          (when (and (not (string-index what #\:)) (not (equal? sig what)))
            (format #t "note: the signature changed (was ~a)~%" what)))
        (exit (if (eq? verdict 'divergence) 1 0))))))

;;; Regression first: the stored findings, replayed.

(define (engine-label e)
  (format #f "~a (~a~@[ ~a~])" (engine-name e) (engine-kind e)
          (and (eq? (engine-kind e) 'external) (engine-program e))))

(define (replay-passes case sig ctx execute rules)
  "How many of `replay-count' replays of CASE did NOT show SIG.  An
inconclusive replay (a timeout) proves nothing, so it is not a pass."
  (count (lambda (_)
           (catch #t
             (lambda ()
               (call-with-values (lambda () (judge-case case ctx execute rules))
                 (lambda (verdict diffs reason chain trace known s)
                   (not (or (eq? verdict 'inconclusive) (equal? s sig))))))
             (lambda _ #f)))
         (iota replay-count)))

(define (replay-stored! name out ctx execute rules quiet?)
  "Replay the open and flaky findings RECIPE NAME stored under OUT; returns
a list of (ID . STATUS) with the status each now has."
  (let* ((ids (filter (lambda (id)
                        (let ((f (read-finding out id)))
                          (and f
                               (equal? (finding-ref f "recipe") name)
                               (member (finding-ref f "status") '("open" "flaky"))
                               (finding-ref f "case"))))
                      (list-findings out)))
         (engine-id (engine-identity (context-engine ctx))))
    (map (lambda (id)
           (let* ((f (read-finding out id))
                  (passes (replay-passes (finding-ref f "case") id ctx execute rules))
                  (g (note-replay! out id #:failures (- replay-count passes)
                                   #:tries replay-count #:engine engine-id)))
             (unless quiet?
               (format (current-error-port) "~a: stored finding ~a: ~a (~a of ~a replays fail)~%"
                       name id (finding-ref g "status") (- replay-count passes) replay-count))
             (cons id (finding-ref g "status"))))
         ids)))

;;; The campaign.

(define (host-name) (or (false-if-exception (gethostname)) "unknown"))

(define* (campaign name #:key seed iterations jobs shard out ctx pick execute rules
                   reduce-time junit quiet? ops formats)
  (let* ((started (current-time))
         (engine-id (engine-identity (context-engine ctx)))
         (reference-version (tool-version (engine-program (context-qemu-img ctx))))
         (replayed (replay-stored! name out ctx execute rules quiet?))
         (replay-counts (map (lambda (st) (cons st (count (lambda (r) (equal? (cdr r) st)) replayed)))
                             '("open" "fixed" "flaky")))
         (run-id (format #f "~a-~a" (iso-time started) (getpid)))
         (stats-port (begin (mkdir-p out) (open-file (string-append out "/stats.jsonl") "a")))
         (indices (filter (lambda (i) (= (modulo i (cdr shard)) (- (car shard) 1)))
                          (iota iterations)))
         (total (length indices))
         (results (make-vector total #f))
         (known-before (list-findings out))
         (next 0)
         (done 0)
         (live-sigs '())
         (mutex (make-mutex))
         (t0 (now))
         (progress (make-progress name total #:quiet? quiet?)))
    (reset-child-seconds!)
    (define (worker)
      (let loop ()
        (let ((k (with-mutex mutex
                   (and (< next total) (let ((k next)) (set! next (+ next 1)) k)))))
          (when k
            (let ((o (catch #t
                       (lambda () (run-one (list-ref indices k) seed ctx pick execute rules))
                       (lambda (key . args)
                         (make-outcome (list-ref indices k) (iteration-seed seed (list-ref indices k))
                                       #f 'inconclusive '()
                                       (format #f "internal error: ~a ~s" key args)
                                       #f #f '() #f)))))
              (with-mutex mutex
                (vector-set! results k o)
                (set! done (+ done 1))
                (when (and (outcome-sig o) (not (member (outcome-sig o) live-sigs)))
                  (set! live-sigs (cons (outcome-sig o) live-sigs)))
                ;; One line per iteration as it completes (never rewritten).
                (scm->json `(("run" . ,run-id) ("recipe" . ,name)
                             ("t" . ,(- (now) t0)) ("seed" . ,seed)
                             ("iteration" . ,(outcome-index o))
                             ("verdict" . ,(symbol->string (outcome-verdict o)))
                             ("signature" . ,(or (outcome-sig o) 'null))
                             ("done" . ,done) ("total" . ,total)
                             ("findings" . ,(length live-sigs)))
                           stats-port)
                (newline stats-port)
                (force-output stats-port)))
            (loop)))))
    (let ((threads (map (lambda (_) (call-with-new-thread worker)) (iota (min jobs (max total 1))))))
      (let wait ()
        (progress-update! progress (with-mutex mutex done) (with-mutex mutex (length live-sigs)))
        (unless (every thread-exited? threads)
          (usleep 50000)
          (wait)))
      (for-each join-thread threads))
    (close-port stats-port)
    (progress-update! progress total (length live-sigs))
    (progress-finish! progress)
    ;; Aggregate in iteration order (deterministic whatever --jobs).
    (let ((counter (make-rule-counter rules))
          (verdicts (map (lambda (v) (cons v 0)) '("match" "divergence" "known" "inconclusive" "refused")))
          (reasons '())
          (refusals '())
          (first-of '())            ; sig -> outcome
          (hits '())                ; sig -> count this run
          (rows '()))
      (for-each
       (lambda (o)
         (let ((v (outcome-verdict o)))
           (set! verdicts (tally verdicts (symbol->string v)))
           ;; A rule is hit when it explains a whole divergence (a partial
           ;; explanation leaves a finding, and is not counted).
           (when (eq? v 'known) (count-rule-hits! counter (outcome-known o)))
           (when (eq? v 'inconclusive)
             (set! reasons (tally reasons (or (outcome-reason o) "?"))))
           (when (eq? v 'refused)
             ;; Sizes in messages vary; tally the message's shape.
             (set! refusals (tally refusals (regexp-substitute/global
                                             #f "[0-9]+" (or (outcome-reason o) "?")
                                             'pre "N" 'post))))
           (when (eq? v 'divergence)
             (let ((sig (outcome-sig o)))
               (set! hits (tally hits sig))
               (unless (assoc sig first-of)
                 (set! first-of (append first-of (list (cons sig o)))))
               (record-hit! out sig seed (outcome-index o))))
           (set! rows (cons (list (format #f "~a:~a ~a ~a" seed (outcome-index o)
                                          (or (and (outcome-case o) (assoc-ref (outcome-case o) "op")) "?")
                                          (or (and (outcome-case o) (assoc-ref (outcome-case o) "format")) "?"))
                                  v
                                  (cond ((outcome-sig o) => (lambda (s) (string-append "finding " s)))
                                        ((outcome-reason o) => identity)
                                        (else "")))
                            rows))))
       (vector->list results))
      ;; Store new findings, then reduce them.
      (let* ((new-sigs (filter (lambda (sig) (not (member sig known-before))) (map car first-of))))
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
                                             ("formats" . ,(string-join formats ","))))
             (reduce-finding! name out sig o ctx execute rules reduce-time quiet?)))
         new-sigs)
        ;; Hits, last seen, and a fixed finding hit again is open again.
        (for-each (lambda (f) (note-seen! out (car f))) first-of)
        (let* ((seconds (- (now) t0))
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
                  ("rate" . ,(if (> seconds 0) (/ total seconds) 0))
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
                         (append (map (lambda (r)
                                        (list (string-append "stored " (car r))
                                              (if (equal? (cdr r) "fixed") 'match 'divergence)
                                              (string-append "finding " (car r) " " (cdr r))))
                                      replayed)
                                 (reverse rows))
                         seconds))
          ;; Any finding failing now -- new, seen again, or a stored one
          ;; still failing its replays -- fails the run: a reused --out
          ;; never turns a red run green.
          (exit (if (and (null? first-of) (null? still-failing)) 0 1)))))))

(define (reduce-finding! name out sig o ctx execute rules seconds quiet?)
  (let ((t0 (now)))
    (define (signature-of case)
      (catch #t
        (lambda ()
          (call-with-values (lambda () (judge-case case ctx execute rules))
            (lambda (verdict diffs reason chain trace known s) s)))
        (lambda _ #f)))
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
