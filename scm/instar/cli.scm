;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar cli) -- the instar-fuzz command: one entry point for recipes,
;;; replays, the findings database and the libFuzzer runner.
;;;
;;;   instar-fuzz run RECIPE [OPTIONS...]     a recipe, found by name
;;;   instar-fuzz replay ID|S:I [--out DIR] [--instar PATH] [--recipe NAME]
;;;   instar-fuzz findings list [--json] [DIR...]
;;;   instar-fuzz findings show ID [DIR...]
;;;   instar-fuzz findings merge A B... --into C
;;;   instar-fuzz fuzz TARGET [--time S] [--jobs N] [--out DIR] [--instar BIN]
;;;   instar-fuzz status [--json] OUT...
;;;   instar-fuzz report OUT... --html FILE
;;;   instar-fuzz campaign slurm|parallel|merge|run-shard ...  (see campaign-help)
;;;   instar-fuzz corpus-diff [OPTIONS...]     the corpus-diff recipe
;;;   instar-fuzz recipes | repl [ARGS] | --version | --help
;;;
;;; Exit status: 0 no failing finding, 1 a finding fails (new, seen again
;;; or stored and still failing), 2 usage error, 3 environment error.
;;; The launcher (instar-fuzz.in) sets INSTAR_GUILE and
;;; INSTAR_RECIPES_PATH (the build tree's recipes first under
;;; pre-inst-env, then the installed ones); `fuzz' needs a build tree
;;; (INSTAR_SRCDIR and INSTAR_BUILDDIR, set by pre-inst-env).

(define-module (instar cli)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 textual-ports)
  #:use-module (json)
  #:use-module (instar config)
  #:use-module (instar process)
  #:use-module (instar engine)
  #:use-module (instar findings)
  #:use-module (instar store)
  #:use-module (instar status)
  #:use-module (instar html-report)
  #:use-module (instar campaign)
  #:export (instar-fuzz-main
            recipe-path
            find-recipe
            format-findings-table
            replay-fuzz-finding))

(define program "instar-fuzz")

(define (usage-error fmt . args)
  (apply format (current-error-port) (string-append program ": " fmt "~%") args)
  (format (current-error-port) "Try '~a --help' for more information.~%" program)
  (exit 2))

(define (exception-text key args)
  (if (and (pair? args) (pair? (cdr args)) (string? (cadr args)))
      (apply format #f (cadr args) (if (pair? (cddr args)) (caddr args) '()))
      (format #f "~a ~s" key args)))

(define (env-error fmt . args)
  (apply format (current-error-port) (string-append program ": " fmt "~%") args)
  (exit 3))

(define help-text "\
usage: instar-fuzz COMMAND [ARGS...]

  run RECIPE [OPTIONS]       run a recipe (resize-diff, create-diff,
                             resize-consistency, or a file name); its
                             options as in resize-diff(1)
  recipes                    list the recipes found
  replay ID|S:I [--out DIR] [--instar PATH] [--recipe NAME]
                             replay a stored finding (with the engine it
                             recorded unless --instar), or iteration I of
                             seed S of --recipe
  findings list [--json] [DIR...]
                             one table of the findings of any number of
                             output directories (default ./instar-out)
  findings show ID [DIR...]  one finding in full (ID may be a prefix)
  findings merge A B... --into C
                             merge stores: hits added, statuses combined
  fuzz TARGET [--time S] [--jobs N] [--out DIR] [--instar BIN]
             [--findings DIR]
                             replay TARGET's stored libFuzzer findings,
                             fuzz it for S seconds (build tree only; 0:
                             replay only), bring core/fuzz/run.sh's
                             findings (--findings, default the build's
                             fuzz-findings/) into the store
  status [--json] OUT...     how far a campaign is: per output directory
                             (shard) and in total, iterations done and
                             planned, it/s, verdicts, open findings; the
                             libFuzzer work directories named (execs,
                             exec/s, coverage, corpus, crashes)
  report OUT... --html FILE  one static HTML page with plots of the same
                             (drawn by gnuplot) and the findings table
  campaign slurm|parallel ... RECIPE [OPTIONS]
                             run a recipe as N shards on Slurm or over
                             ssh with GNU parallel, then merge them
                             (`campaign --help')
  campaign merge DIR         merge a campaign's shards (again)
  corpus-diff [OPTIONS]      judge a libFuzzer corpus against qemu-img
                             (recipe corpus-diff: --corpus DIR,
                             --planner-corpus DIR, --new-only, and
                             resize-diff's options)
  repl [ARGS]                instar-fuzz-repl
  --version, --help

Exit status: 0 no failing finding, 1 a finding fails (new, seen again, or
stored and still failing), 2 usage error, 3 environment error.
See instar-fuzz(1).
")

;;; Recipes by name.

(define (recipe-path)
  "The directories searched for recipes: $INSTAR_RECIPES_PATH (colon
separated; the launcher puts the build tree's first under pre-inst-env,
then the installed directory)."
  (filter (lambda (d) (not (string-null? d)))
          (string-split (or (getenv "INSTAR_RECIPES_PATH") "") #\:)))

(define (find-recipe name)
  "The recipe file for NAME: a file name as it is, else NAME.scm in the
first directory of `recipe-path' holding it; #f when none does."
  (cond ((and (string-index name #\/) (file-exists? name)) name)
        (else (any (lambda (d)
                     (let ((f (string-append d "/" name ".scm")))
                       (and (file-exists? f) f)))
                   (recipe-path)))))

(define (recipe-names)
  (delete-duplicates
   (append-map (lambda (d)
                 (map (lambda (f) (substring f 0 (- (string-length f) 4)))
                      (or (scandir d (lambda (f) (and (string-suffix? ".scm" f)
                                                      (not (equal? f "load-paths.scm")))))
                          '())))
               (recipe-path))))

(define (guile-program) (or (getenv "INSTAR_GUILE") "guile"))

(define (exec-recipe file args)
  "Replace this process with the recipe: its exit status is ours."
  (let ((g (guile-program)))
    (apply execlp g g "--no-auto-compile" "-s" file args)))

(define (cmd-run args)
  (match args
    (() (usage-error "run: which recipe? (~a)" (string-join (recipe-names) ", ")))
    ((name . rest)
     (let ((file (find-recipe name)))
       (unless file
         (usage-error "run: no recipe ~a (known: ~a)" name (string-join (recipe-names) ", ")))
       (exec-recipe file rest)))))

;;; Options of the subcommands: --flag VALUE pairs, the rest positional.

(define (parse-flags args valued switches)
  "(values ALIST POSITIONAL) from ARGS; VALUED flags take the next
argument (or --flag=VALUE), SWITCHES none."
  (let loop ((args args) (flags '()) (pos '()))
    (match args
      (() (values (reverse flags) (reverse pos)))
      (("--" . rest) (values (reverse flags) (append (reverse pos) rest)))
      (((? (lambda (a) (string-prefix? "--" a)) a) . rest)
       (let* ((eq (string-index a #\=))
              (name (substring a 2 (or eq (string-length a)))))
         (cond
          ((member name switches) (loop rest (acons name #t flags) pos))
          ((not (member name valued)) (usage-error "unknown option ~a" a))
          (eq (loop rest (acons name (substring a (+ eq 1)) flags) pos))
          ((null? rest) (usage-error "option ~a needs a value" a))
          (else (loop (cdr rest) (acons name (car rest) flags) pos)))))
      ((a . rest) (loop rest flags (cons a pos))))))

(define (flag flags name default) (or (assoc-ref flags name) default))

;;; findings list / show / merge

(define (check-store dir)
  (unless (file-exists? dir)
    (usage-error "no such output directory: ~a" dir)))

(define (short-time t)
  "2026-01-02T03:04:05Z as 2026-01-02 03:04:05."
  (if (string? t) (string-trim-right (string-replace-all t "T" " ") #\Z) "-"))

(define (string-replace-all s from to)
  (string-join (string-split s (string-ref from 0)) to))

(define (format-findings-table rows port)
  "Print ROWS (as `list-store' returns them) as the findings table."
  (format port "~16a ~11a ~6a ~5@a  ~19a ~19a ~a~%"
          "ID" "KIND" "STATUS" "HITS" "FIRST SEEN" "LAST SEEN" "TITLE")
  (for-each
   (lambda (f)
     (format port "~16a ~11a ~6a ~5@a  ~19a ~19a ~a~%"
             (substring (finding-ref f "id") 0 (min 16 (string-length (finding-ref f "id"))))
             (finding-ref f "kind") (finding-ref f "status") (finding-ref f "hits")
             (short-time (finding-ref f "first-seen")) (short-time (finding-ref f "last-seen"))
             (finding-ref f "title")))
   rows)
  (let ((n (lambda (st) (count (lambda (f) (equal? (finding-ref f "status") st)) rows))))
    (format port "~a finding~:p: ~a open, ~a flaky, ~a fixed~%"
            (length rows) (n "open") (n "flaky") (n "fixed"))))

(define (cmd-findings args)
  (match args
    (("list" . rest)
     (call-with-values (lambda () (parse-flags rest '() '("json")))
       (lambda (flags dirs)
         (let ((dirs (if (null? dirs) '("instar-out") dirs)))
           (for-each check-store dirs)
           (let ((rows (list-store dirs)))
             (if (flag flags "json" #f)
                 (begin
                   (scm->json (list->vector
                               (map (lambda (f)
                                      (filter (lambda (kv)
                                                (member (car kv)
                                                        '("id" "kind" "title" "status" "hits"
                                                          "first-seen" "last-seen" "stores")))
                                              (map (lambda (kv)
                                                     (if (equal? (car kv) "stores")
                                                         (cons "stores" (list->vector (cdr kv)))
                                                         kv))
                                                   f)))
                                    rows))
                              (current-output-port) #:pretty #t)
                   (newline))
                 (format-findings-table rows (current-output-port)))
             (exit 0))))))
    (("show" id . dirs)
     (let ((dirs (if (null? dirs) '("instar-out") dirs)))
       (for-each check-store dirs)
       (match (catch #t (lambda () (find-finding dirs id))
                (lambda (key . a) (usage-error "~a" (exception-text key a))))
         (#f (usage-error "findings show: no finding ~a in ~a" id (string-join dirs " ")))
         ((out . full) (show-finding out full) (exit 0)))))
    (("merge" . rest)
     (call-with-values (lambda () (parse-flags rest '("into") '()))
       (lambda (flags sources)
         (let ((into (flag flags "into" #f)))
           (unless into (usage-error "findings merge: --into DIR is required"))
           (when (null? sources) (usage-error "findings merge: which stores?"))
           (for-each check-store sources)
           (let ((n (merge-stores! sources into)))
             (format #t "merged ~a store~:p into ~a: ~a finding~:p~%" (length sources) into n)
             (exit 0))))))
    (_ (usage-error "findings: list, show or merge"))))

(define (show-finding out id)
  (let* ((f (read-finding out id))
         (dir (finding-directory out id))
         (engine (finding-ref f "engine"))
         (replay (finding-ref f "last-replay")))
    (define (line k v) (when v (format #t "~13a ~a~%" (string-append k ":") v)))
    (line "id" id)
    (line "title" (finding-ref f "title"))
    (line "kind" (finding-ref f "kind"))
    (line "status" (finding-ref f "status"))
    (line "hits" (finding-ref f "hits"))
    (line "first seen" (finding-ref f "first-seen"))
    (line "last seen" (finding-ref f "last-seen"))
    (line "signature" (finding-ref f "shape"))
    (line "recipe" (finding-ref f "recipe"))
    (when (pair? engine)
      (line "engine" (format #f "~a~@[ ~a~]~@[ ~a~]~@[ (library ~a)~]"
                             (finding-ref engine "kind") (finding-ref engine "program")
                             (finding-ref engine "hash") (finding-ref engine "library-version"))))
    (line "reference" (finding-ref f "reference-version"))
    (when (pair? replay)
      (line "last replay" (format #f "~a: ~a of ~a failed" (finding-ref replay "time")
                                  (finding-ref replay "failures") (finding-ref replay "tries"))))
    (line "directory" dir)
    (for-each (lambda (file)
                (when (file-exists? (string-append dir "/" file))
                  (line file (string-append dir "/" file))))
              '("repro.sh" "reduced.json" "input" "minimized" "report.txt"))
    (line "replay" (format #f "instar-fuzz replay ~a --out ~a" id out))))

;;; replay

(define (cmd-replay args)
  (call-with-values (lambda () (parse-flags args '("out" "instar" "recipe") '()))
    (lambda (flags pos)
      (let ((out (flag flags "out" "instar-out")))
        (match pos
          ((what)
           (if (string-index what #\:)
               (let ((recipe (flag flags "recipe" #f)))
                 (unless recipe (usage-error "replay ~a: which recipe? (--recipe NAME)" what))
                 (exec-recipe (or (find-recipe recipe) (usage-error "no recipe ~a" recipe))
                              (append (list "--replay" what "--out" out)
                                      (if (flag flags "instar" #f)
                                          (list "--instar" (flag flags "instar" #f)) '()))))
               (match (catch #t (lambda () (find-finding (list out) what))
                        (lambda (key . a) (usage-error "~a" (exception-text key a))))
                 (#f (usage-error "replay: no finding ~a under ~a/findings" what out))
                 ((_ . id)
                  (let ((f (read-finding out id)))
                    (if (finding-ref f "target")
                        (let ((fails (replay-fuzz-finding out id f
                                                          #:program (flag flags "instar" #f)
                                                          #:verbose? #t)))
                          (exit (if (> fails 0) 1 0)))
                        (let ((recipe (or (flag flags "recipe" #f) (finding-ref f "recipe"))))
                          (exec-recipe (or (find-recipe recipe)
                                           (env-error "replay: the finding's recipe ~a is not found"
                                                      recipe))
                                       (append (list "--replay" id "--out" out)
                                               (if (flag flags "instar" #f)
                                                   (list "--instar" (flag flags "instar" #f))
                                                   '()))))))))))
          (_ (usage-error "replay: one finding ID or S:I")))))))

;;; libFuzzer findings

(define* (replay-fuzz-finding out id f #:key (program #f) (tries 1) (verbose? #f)
                              (timeout 60))
  "Run the fuzz target recorded in finding F (or PROGRAM) on its input
TRIES times; returns how many runs failed (a non-zero exit, a signal or a
timeout).  A libFuzzer binary and the gcc replay driver both take the
input file as their argument."
  (let* ((engine (finding-ref f "engine"))
         (bin (or program (and (pair? engine) (finding-ref engine "program"))))
         (input (string-append (finding-directory out id) "/input")))
    (unless (and bin (file-exists? bin) (access? bin X_OK))
      (env-error "replay ~a: the fuzz target ~a is not available (use --instar PATH)" id
                 (or bin "?")))
    (count (lambda (_)
             (let ((r (run-command (list bin input) #:timeout timeout)))
               (when verbose?
                 (format #t "~a ~a: ~a~@[ ~a~]~%" bin input (result-class r)
                         (or (result-status r) (result-signal r)))
                 (display (result-stderr r)))
               (not (result-ok? r))))
           (iota tries))))

(define fuzz-make-targets
  '(("fuzz_resize_planners" . "fuzz-resize") ("fuzz_resize_engine" . "fuzz-engine")))

(define (absolute p) (if (string-prefix? "/" p) p (string-append (getcwd) "/" p)))

(define (cmd-fuzz args)
  (call-with-values (lambda () (parse-flags args '("time" "jobs" "out" "findings" "instar") '()))
    (lambda (flags pos)
      (let* ((target (match pos ((t) t) (_ (usage-error "fuzz: one TARGET (~a)"
                                                        (string-join (map car fuzz-make-targets) ", ")))))
             (_ (unless (assoc target fuzz-make-targets)
                  (usage-error "fuzz: unknown target ~a (known: ~a)" target
                               (string-join (map car fuzz-make-targets) ", "))))
             (time (let ((n (string->number (flag flags "time" "60"))))
                     (unless (and n (exact-integer? n) (>= n 0))
                       (usage-error "fuzz: --time wants seconds >= 0"))
                     n))
             (jobs (flag flags "jobs" "1"))
             (out (absolute (flag flags "out" "instar-out")))
             (srcdir (getenv "INSTAR_SRCDIR"))
             (builddir (getenv "INSTAR_BUILDDIR"))
             (raw (absolute (flag flags "findings"
                                  (if builddir (string-append builddir "/fuzz-findings")
                                      "fuzz-findings"))))
             (override (let ((p (flag flags "instar" #f)))
                         (and p (begin
                                  (unless (and (file-exists? p) (access? p X_OK))
                                    (env-error "fuzz: --instar ~a: not an executable" p))
                                  (absolute p)))))
             ;; make's FUZZ_DIR / FUZZ_WORK when it runs us (relative to
             ;; the build tree), else the build tree's defaults.
             (fuzz-dir (let ((d (or (getenv "FUZZ_DIR") "fuzz-build")))
                         (if (or (string-prefix? "/" d) (not builddir)) d
                             (string-append builddir "/" d))))
             (fuzz-work (let ((d (or (getenv "FUZZ_WORK") "fuzz-work")))
                          (if (or (string-prefix? "/" d) (not builddir)) d
                              (string-append builddir "/" d))))
             (bin-of (lambda () (string-append fuzz-dir "/" target))))
        (mkdir-p out)
        ;; 1. Regression first: the stored findings of this target.
        (let* ((recipe (string-append "fuzz:" target))
               (ids (filter (lambda (id)
                              (let ((f (read-finding out id)))
                                (and f
                                     (equal? (finding-ref f "recipe") recipe)
                                     (member (finding-ref f "status") '("open" "flaky")))))
                            (list-findings out)))
               (replayed
                (map (lambda (id)
                       (let* ((f (read-finding out id))
                              (fails (replay-fuzz-finding out id f #:tries replay-count
                                                          #:program override))
                              (e (if override
                                     (engine-identity (make-external-engine target override))
                                     (finding-ref f "engine")))
                              (g (note-replay! out id #:failures fails #:tries replay-count
                                               #:engine e)))
                         (format #t "fuzz: stored finding ~a: ~a (~a of ~a replays fail)~%"
                                 id (finding-ref g "status") fails replay-count)
                         (finding-ref g "status")))
                     ids))
               (n (lambda (st) (count (lambda (s) (equal? s st)) replayed))))
          (format #t "~a stored finding~:p replayed: ~a still fail, ~a fixed, ~a flaky~%"
                  (length replayed) (n "open") (n "fixed") (n "flaky"))
          ;; Before the session's own output, not after it.
          (force-output)
          ;; 2. The libFuzzer session (core/fuzz/run.sh), then its findings
          ;; brought into the store.
          (let* ((session
                  (if (zero? time)
                      0
                      (begin
                        (unless (and srcdir builddir)
                          (env-error "fuzz: needs a build tree (run it through ./pre-inst-env)"))
                        (unless (zero? (status:exit-val
                                        (system* "make" "-C" builddir "--no-print-directory"
                                                 (string-append "FUZZ_DIR=" fuzz-dir)
                                                 (bin-of))))
                          (env-error "fuzz: could not build ~a" target))
                        (let ((st (status:exit-val
                                   (with-environment
                                    `(("FUZZ_TIME" . ,(number->string time))
                                      ("FUZZ_JOBS" . ,jobs)
                                      ("FUZZ_DIR" . ,fuzz-dir)
                                      ("FUZZ_WORK" . ,fuzz-work)
                                      ("FUZZ_FINDINGS" . ,raw)
                                      ("srcdir" . ,srcdir))
                                    (lambda ()
                                      (system* "sh" (string-append srcdir "/core/fuzz/run.sh")
                                               target))))))
                          (when (and st (>= st 2))
                            (env-error "fuzz: ~a did not run (status ~a)" target st))
                          st))))
                 (before (map (lambda (id) (cons id (finding-hit-count out id))) (list-findings out)))
                 (engine (cond (override (engine-identity (make-external-engine target override)))
                               ((and builddir (file-exists? (bin-of)))
                                (engine-identity (make-external-engine target (bin-of))))
                               (else #f)))
                 (new (if (file-exists? (string-append raw "/" target))
                          (import-fuzz-findings! raw target out #:engine engine)
                          '()))
                 (again (filter (lambda (b) (> (finding-hit-count out (car b)) (cdr b))) before))
                 (failing (+ (n "open") (n "flaky") (length new) (length again))))
            (for-each (lambda (b) (note-seen! out (car b))) again)
            (let ((s (and builddir (false-if-exception
                                    (call-with-input-file
                                        (string-append fuzz-work "/" target "/summary")
                                      get-line)))))
              (append-stats! out
                             (list `(("time" . ,(iso-time (current-time)))
                                     ("target" . ,target)
                                     ("seconds" . ,time)
                                     ("session" . ,(if (string? s) s 'null))
                                     ("replayed" . ,(length replayed))
                                     ("new-findings" . ,(length new))
                                     ("seen-again" . ,(length again))))))
            (format #t "fuzz: ~a new finding~:p, ~a seen again; store ~a~%"
                    (length new) (length again) out)
            (exit (if (zero? failing) 0 1))))))))

(define (with-environment vars thunk)
  (let ((old (map (lambda (kv) (cons (car kv) (getenv (car kv)))) vars)))
    (for-each (lambda (kv) (setenv (car kv) (cdr kv))) vars)
    (let ((r (thunk)))
      (for-each (lambda (kv) (if (cdr kv) (setenv (car kv) (cdr kv)) (unsetenv (car kv)))) old)
      r)))

;;; status and report (the work is in (instar status) and (instar html-report)).

(define (campaign-or-usage-error dirs what)
  (when (null? dirs) (usage-error "~a: which output directories?" what))
  (catch #t
    (lambda () (campaign-status dirs))
    (lambda (key . a) (usage-error "~a: ~a" what (exception-text key a)))))

(define (cmd-status args)
  (call-with-values (lambda () (parse-flags args '() '("json")))
    (lambda (flags dirs)
      (let ((c (campaign-or-usage-error dirs "status")))
        (if (flag flags "json" #f)
            (begin (scm->json (status->json c) (current-output-port) #:pretty #t) (newline))
            (print-status c (current-output-port)))
        (exit 0)))))

(define (cmd-report args)
  (call-with-values (lambda () (parse-flags args '("html" "title") '()))
    (lambda (flags dirs)
      (let ((html (flag flags "html" #f)))
        (unless html (usage-error "report: --html FILE is required"))
        (when (false-if-exception (eq? 'directory (stat:type (stat html))))
          (usage-error "report: --html ~a: is a directory" html))
        (let ((c (campaign-or-usage-error dirs "report")))
          (catch #t
            (lambda ()
              (write-html-report c html #:title (flag flags "title" #f))
              (format #t "report: ~a~%" html)
              (exit 0))
            (lambda (key . a)
              (case key
                ((instar-report-error) (env-error "report: ~a" (car a)))
                ((system-error) (env-error "report: ~a" (exception-text key a)))
                (else (apply throw key a))))))))))
;;; campaign (the work is in (instar campaign))

(define campaign-help "\
usage: instar-fuzz campaign slurm --shards N --seed S [--iterations M]
                 [--partition P] [--wait] --out DIR RECIPE [OPTIONS]
       instar-fuzz campaign parallel --sshloginfile FILE --shards N --seed S
                 [--iterations M] [--ssh CMD] [--program PATH]
                 [--transferfile FILE] [--workdir W] --out DIR RECIPE [OPTIONS]
       instar-fuzz campaign init --shards N --seed S [--iterations M]
                 --out DIR RECIPE [OPTIONS]
       instar-fuzz campaign run-shard DIR K
       instar-fuzz campaign merge DIR

RECIPE's iterations 0..M-1 (default 200) of seed S run as N shards
(--shard K/N) into DIR/shards/K; the shard stores are merged into
DIR/merged (findings, stats.jsonl, summary.json).  OPTIONS after RECIPE
go to every shard (not --seed, --iterations, --shard, --out, --replay,
--junit).  Submitting again resumes: complete shards do not run again.

  slurm     a job array (--array of the incomplete shards) and a merge job
            (--dependency=afterany); DIR must be on a filesystem the nodes
            share.  --wait: return when the merge job has ended.
  parallel  GNU parallel runs the shards on the hosts of the sshloginfile
            (--ssh: its ssh command), --return brings them back, then the
            merge runs here.  --program: instar-fuzz on the hosts (default
            instar-fuzz in their PATH); --transferfile: an executable sent
            to each host and run as instar-fuzz there.
  merge     merge the shards present (idempotent); exit 0 no finding, 1
            findings, 3 a shard incomplete.
  init      only record the campaign in DIR (for another engine: each
            task runs `run-shard DIR K', then one runs `merge DIR').
  run-shard shard K of the campaign in DIR (what the Slurm tasks run);
            exit 0 at once when the shard is complete already.
")

(define (self-program)
  "The absolute file name of this instar-fuzz launcher (INSTAR_FUZZ, set
by the launcher, else instar-fuzz in PATH)."
  (let ((p (or (getenv "INSTAR_FUZZ") "instar-fuzz")))
    (cond ((string-prefix? "/" p) p)
          ((string-index p #\/) (string-append (getcwd) "/" p))
          (else (or (search-path (parse-path (or (getenv "PATH") "")) p)
                    (env-error "campaign: instar-fuzz is not in PATH"))))))

(define (parse-campaign-args args valued switches)
  "(values FLAGS RECIPE RECIPE-ARGS): the campaign's flags up to the
first argument that is not one (the recipe), everything after it the
recipe's."
  (let loop ((args args) (flags '()))
    (match args
      (() (values (reverse flags) #f '()))
      (((? (lambda (a) (string-prefix? "--" a)) a) . rest)
       (let* ((eq (string-index a #\=))
              (name (substring a 2 (or eq (string-length a)))))
         (cond
          ((member name switches) (loop rest (acons name #t flags)))
          ((not (member name valued)) (usage-error "campaign: unknown option ~a" a))
          (eq (loop rest (acons name (substring a (+ eq 1)) flags)))
          ((null? rest) (usage-error "campaign: option ~a needs a value" a))
          (else (loop (cdr rest) (acons name (car rest) flags))))))
      ((recipe . rest) (values (reverse flags) recipe rest)))))

(define (count-flag flags name default minimum)
  (let* ((s (flag flags name default)) (n (and s (string->number s))))
    (unless (and n (exact-integer? n) (>= n minimum))
      (usage-error "campaign: --~a wants an integer >= ~a~@[, not '~a'~]" name minimum s))
    n))

(define (campaign-from-flags flags recipe recipe-args)
  (unless recipe (usage-error "campaign: which recipe?"))
  (unless (find-recipe recipe)
    (usage-error "campaign: no recipe ~a (known: ~a)" recipe (string-join (recipe-names) ", ")))
  (for-each (lambda (a)
              (when (member (car (string-split a #\=)) campaign-reserved-options)
                (usage-error "campaign: ~a is set by the campaign, not a recipe option here" a)))
            recipe-args)
  (let ((out (flag flags "out" #f)))
    (unless out (usage-error "campaign: --out DIR is required"))
    (unless (flag flags "seed" #f) (usage-error "campaign: --seed S is required"))
    (make-campaign (absolute out)
                   ;; A recipe given as a file must be found from the nodes.
                   (if (string-index recipe #\/) (absolute recipe) recipe)
                   (count-flag flags "seed" #f 0)
                   (count-flag flags "iterations" "200" 0)
                   (count-flag flags "shards" #f 1)
                   recipe-args)))

(define (open-or-refuse c)
  (match (catch #t (lambda () (open-campaign! c))
           (lambda (key . a) (env-error "campaign: ~a: ~a" (campaign-dir c) (exception-text key a))))
    (#t #t)
    (why (usage-error "campaign: ~a" why))))

(define (campaign-error-handler key . args)
  (env-error "campaign: ~a" (if (and (pair? args) (string? (car args)))
                                (car args)
                                (exception-text key args))))

(define (report-merge c summary)
  (format #t "campaign ~a: ~a of ~a iterations in ~a of ~a shards complete; ~a finding~:p~%"
          (campaign-dir c) (assoc-ref summary "iterations-run") (campaign-iterations c)
          (- (campaign-shards c) (vector-length (assoc-ref summary "incomplete-shards")))
          (campaign-shards c) (vector-length (assoc-ref summary "findings")))
  (for-each (lambda (f)
              (format #t "  ~a ~5@a hits  ~a~%" (substring (assoc-ref f "signature") 0 16)
                      (assoc-ref f "hits") (assoc-ref f "title")))
            (vector->list (assoc-ref summary "findings")))
  (format #t "merged store: ~a (summary.json, stats.jsonl)~%" (assoc-ref summary "out"))
  ;; The HTML report, where this instar-fuzz has the report command.
  (when (string-contains help-text "\n  report ")
    (let* ((html (string-append (campaign-dir c) "/report.html"))
           (st (apply system* (self-program) "report" (assoc-ref summary "out")
                      (append (map (lambda (k) (shard-directory c k))
                                   (iota (campaign-shards c) 1))
                              (list "--html" html)))))
      (when (zero? (or (status:exit-val st) 1))
        (format #t "report: ~a~%" html)))))

(define (merge-exit-status summary)
  (cond ((not (assoc-ref summary "complete")) 3)
        ((positive? (vector-length (assoc-ref summary "findings"))) 1)
        (else 0)))

(define (cmd-campaign args)
  (match args
    ((or () ((or "-h" "--help") . _)) (display campaign-help) (exit 0))
    (("slurm" . rest)
     (call-with-values
         (lambda () (parse-campaign-args rest '("shards" "seed" "iterations" "partition" "out")
                                         '("wait")))
       (lambda (flags recipe recipe-args)
         (let ((c (campaign-from-flags flags recipe recipe-args)))
           (open-or-refuse c)
           (match (catch 'campaign-error
                    (lambda () (slurm-submit! c #:program (self-program)
                                              #:partition (flag flags "partition" #f)))
                    campaign-error-handler)
             ((array-id merge-id todo)
              (format #t "campaign ~a: ~a~%" (campaign-dir c)
                      (if array-id
                          (format #f "job array ~a (shards ~a of ~a), merge job ~a" array-id
                                  (string-join (map number->string todo) ",")
                                  (campaign-shards c) merge-id)
                          (format #f "every shard complete; merge job ~a" merge-id)))
              (force-output)
              (if (flag flags "wait" #f)
                  (begin
                    (slurm-wait merge-id)
                    (let ((f (string-append (campaign-dir c) "/merged/summary.json")))
                      (unless (file-exists? f)
                        (env-error "campaign: the merge job ~a wrote no ~a (see ~a/slurm/merge-~a.log)"
                                   merge-id f (campaign-dir c) merge-id))
                      (let ((s (read-json-file f)))
                        (report-merge c s)
                        (exit (merge-exit-status s)))))
                  (exit 0))))))))
    (("parallel" . rest)
     (call-with-values
         (lambda () (parse-campaign-args rest '("shards" "seed" "iterations" "out" "sshloginfile"
                                                "ssh" "program" "transferfile" "workdir")
                                         '()))
       (lambda (flags recipe recipe-args)
         (let ((c (campaign-from-flags flags recipe recipe-args))
               (login (flag flags "sshloginfile" #f))
               (tf (flag flags "transferfile" #f)))
           (unless login (usage-error "campaign parallel: --sshloginfile FILE is required"))
           (unless (file-exists? login) (usage-error "campaign parallel: no file ~a" login))
           (when (and tf (not (and (file-exists? tf) (access? tf X_OK))))
             (usage-error "campaign parallel: --transferfile ~a: not an executable" tf))
           (open-or-refuse c)
           (match (parallel-run! c #:sshloginfile (absolute login) #:ssh (flag flags "ssh" #f)
                                 #:program (flag flags "program" #f)
                                 #:transferfile (and tf (absolute tf))
                                 #:workdir (flag flags "workdir" #f))
             ((st . todo)
              (format #t "campaign ~a: parallel ran shard~p ~a (status ~a)~%" (campaign-dir c)
                      (length todo) (string-join (map number->string todo) ",") st)
              (let ((s (merge-campaign! c)))
                (report-merge c s)
                (exit (merge-exit-status s)))))))))
    (("merge" dir)
     (let ((c (or (read-campaign (absolute dir))
                  (usage-error "campaign merge: no campaign.json in ~a" dir))))
       (let ((s (merge-campaign! c)))
         (report-merge c s)
         (exit (merge-exit-status s)))))
    (("run-shard" dir k)
     (let* ((c (or (read-campaign (absolute dir))
                   (usage-error "campaign run-shard: no campaign.json in ~a" dir)))
            (n (string->number k)))
       (unless (and n (exact-integer? n) (<= 1 n (campaign-shards c)))
         (usage-error "campaign run-shard: K must be 1..~a, not ~a" (campaign-shards c) k))
       ;; A task run again (a requeue, a resubmitted Job) does not redo
       ;; a complete shard.
       (when (shard-complete? c n)
         (format #t "campaign ~a: shard ~a/~a is complete already~%" (campaign-dir c) n
                 (campaign-shards c))
         (exit 0))
       (cmd-run (shard-run-arguments c n))))
    (("init" . rest)
     (call-with-values
         (lambda () (parse-campaign-args rest '("shards" "seed" "iterations" "out") '()))
       (lambda (flags recipe recipe-args)
         (let ((c (campaign-from-flags flags recipe recipe-args)))
           (open-or-refuse c)
           (format #t "campaign ~a: ~a, seed ~a, ~a iterations in ~a shards; incomplete: ~a~%"
                   (campaign-dir c) (campaign-recipe c) (campaign-seed c)
                   (campaign-iterations c) (campaign-shards c)
                   (let ((todo (incomplete-shards c)))
                     (if (null? todo) "none" (string-join (map number->string todo) ","))))
           (exit 0)))))
    (_ (usage-error "campaign: slurm, parallel, init, run-shard or merge (see 'campaign --help')"))))

;;; Entry point.

(define (instar-fuzz-main args)
  "The instar-fuzz command: ARGS is (command-line)."
  (match (if (pair? args) (cdr args) '())
    ((or () ((or "-h" "--help" "help") . _)) (display help-text) (exit 0))
    (("--version" . _) (format #t "instar-fuzz ~a~%" %instar-version) (exit 0))
    (("run" . rest) (cmd-run rest))
    (("recipes" . _)
     (for-each (lambda (n) (format #t "~a ~a~%" n (find-recipe n))) (recipe-names))
     (exit 0))
    (("replay" . rest) (cmd-replay rest))
    (("findings" . rest) (cmd-findings rest))
    (("fuzz" . rest) (cmd-fuzz rest))
    (("status" . rest) (cmd-status rest))
    (("report" . rest) (cmd-report rest))
    (("campaign" . rest) (cmd-campaign rest))
    (("corpus-diff" . rest) (cmd-run (cons "corpus-diff" rest)))
    (("repl" . rest)
     ((module-ref (resolve-interface '(instar repl)) 'instar-repl-main)
      (cons "instar-fuzz repl" rest)))
    ((cmd . _) (usage-error "unknown command ~a" cmd))))
