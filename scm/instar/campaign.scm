;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar campaign) -- one recipe campaign split into deterministic
;;; shards and run on an existing engine: a Slurm job array, or GNU
;;; parallel over ssh; then the shard stores merged into one.
;;;
;;; DIR/campaign.json   what the campaign is (recipe, seed, iterations,
;;;                     shards, the recipe's other options): a second
;;;                     submission must be the same campaign
;;; DIR/shards/K/       shard K's --out (summary.json, stats.jsonl,
;;;                     findings/), K = 1..N
;;; DIR/slurm/          the batch scripts, the job ids, Slurm's logs
;;; DIR/parallel/       parallel's job log
;;; DIR/merged/         the merged store, stats.jsonl (every shard's
;;;                     lines, tagged with the shard), summary.json (the
;;;                     campaign: totals and per shard)
;;;
;;; Shard K runs iterations I with I mod N = K-1, so the merged summary
;;; of a complete campaign equals one local run of the same seed and
;;; iterations, finding for finding.  A shard is complete when its
;;; summary.json says it ran every iteration of its share, uninterrupted;
;;; only the other shards run again when a campaign is resubmitted.

(define-module (instar campaign)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 textual-ports)
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar findings)
  #:use-module (instar store)
  #:export (make-campaign
            campaign?
            campaign-recipe
            campaign-seed
            campaign-iterations
            campaign-shards
            campaign-args
            campaign-dir
            campaign-reserved-options
            shard-iterations
            shard-directory
            shard-complete?
            incomplete-shards
            open-campaign!
            read-campaign
            shard-run-arguments
            shell-quote
            slurm-scripts!
            slurm-submit!
            slurm-wait
            parallel-arguments
            parallel-run!
            merge-campaign!))

(define-record-type <campaign>
  (make-campaign dir recipe seed iterations shards args)
  campaign?
  (dir campaign-dir)                ; absolute
  (recipe campaign-recipe)          ; name (or file) as `instar-fuzz run' takes it
  (seed campaign-seed)
  (iterations campaign-iterations)  ; of the whole campaign
  (shards campaign-shards)          ; N
  (args campaign-args))             ; the recipe's other options

(define campaign-reserved-options
  ;; Set by the campaign for each shard, or meaningless in one.
  '("--seed" "--iterations" "--shard" "--out" "-o" "--replay" "--junit" "--help" "-h"))

;;; Shards.

(define (shard-iterations c k)
  "How many iterations shard K of campaign C runs: those I < iterations
with I mod N = K-1."
  (let ((m (campaign-iterations c)) (n (campaign-shards c)))
    (if (< (- k 1) m) (+ 1 (quotient (- m k) n)) 0)))

(define (shard-directory c k)
  "Shard K's output directory."
  (format #f "~a/shards/~a" (campaign-dir c) k))

(define (shard-summary c k)
  (let ((f (string-append (shard-directory c k) "/summary.json")))
    (and (file-exists? f) (false-if-exception (read-json-file f)))))

(define (shard-complete? c k)
  "#t when shard K's summary.json is this shard's (seed, K/N, its share
of the iterations) and says every iteration ran, with no signal and no
environment error."
  (let ((s (shard-summary c k)))
    (and s
         (equal? (assoc-ref s "seed") (campaign-seed c))
         (equal? (assoc-ref s "shard") (format #f "~a/~a" k (campaign-shards c)))
         (equal? (assoc-ref s "iterations") (shard-iterations c k))
         (equal? (assoc-ref s "iterations-run") (shard-iterations c k))
         (not (eq? (assoc-ref s "interrupted") #t))
         (eq? (assoc-ref s "environment-error") 'null))))

(define (incomplete-shards c)
  "The shards (1..N) not complete yet."
  (remove (lambda (k) (shard-complete? c k)) (iota (campaign-shards c) 1)))

;;; campaign.json

(define (campaign->json c)
  `(("recipe" . ,(campaign-recipe c)) ("seed" . ,(campaign-seed c))
    ("iterations" . ,(campaign-iterations c)) ("shards" . ,(campaign-shards c))
    ("args" . ,(list->vector (campaign-args c)))))

(define (read-campaign dir)
  "The campaign recorded in DIR/campaign.json, or #f when there is none."
  (let ((f (string-append dir "/campaign.json")))
    (and (file-exists? f)
         (let ((j (read-json-file f)))
           (make-campaign dir (assoc-ref j "recipe") (assoc-ref j "seed")
                          (assoc-ref j "iterations") (assoc-ref j "shards")
                          (vector->list (assoc-ref j "args")))))))

(define (open-campaign! c)
  "Record campaign C in its directory, or check that the one recorded
there is the same (recipe, seed, iterations, shards, options): returns #t,
or a string saying what differs (and then writes nothing)."
  (let ((old (read-campaign (campaign-dir c))))
    (cond
     ((not old)
      (mkdir-p (string-append (campaign-dir c) "/shards"))
      (write-json-file (string-append (campaign-dir c) "/campaign.json") (campaign->json c))
      #t)
     ((equal? (campaign->json old) (campaign->json c)) #t)
     (else
      (format #f "~a holds another campaign (~a, seed ~a, ~a iterations, ~a shards~@[, ~a~]); \
use another --out, or the same parameters to resume it"
              (campaign-dir c) (campaign-recipe old) (campaign-seed old)
              (campaign-iterations old) (campaign-shards old)
              (and (pair? (campaign-args old)) (string-join (campaign-args old) " ")))))))

(define* (shard-run-arguments c k #:key (out (shard-directory c k)))
  "The arguments of `instar-fuzz run' for shard K (OUT: its --out)."
  (append (list (campaign-recipe c)
                "--seed" (number->string (campaign-seed c))
                "--iterations" (number->string (campaign-iterations c))
                "--shard" (format #f "~a/~a" k (campaign-shards c))
                "--out" out)
          (campaign-args c)))

;;; Slurm.

(define (shell-quote s)
  "S as one word of a POSIX shell script."
  (string-append "'" (string-join (string-split s #\') "'\\''") "'"))

(define (write-script file lines)
  (call-with-output-file file
    (lambda (p) (for-each (lambda (l) (display l p) (newline p)) lines)))
  (chmod file #o755))

(define (slurm-scripts! c program)
  "Write DIR/slurm/shard.sh (one array task: `PROGRAM campaign
run-shard DIR $SLURM_ARRAY_TASK_ID') and DIR/slurm/merge.sh; returns
(SHARD-SCRIPT . MERGE-SCRIPT).  The scripts carry no recipe option: the
shard reads them from campaign.json, so nothing is quoted twice."
  (let* ((dir (string-append (campaign-dir c) "/slurm"))
         (shard (string-append dir "/shard.sh"))
         (merge (string-append dir "/merge.sh")))
    (mkdir-p dir)
    (write-script shard
                  (list "#!/bin/sh"
                        "# Written by instar-fuzz campaign slurm: one shard of the campaign."
                        (string-append "exec " (shell-quote program) " campaign run-shard "
                                       (shell-quote (campaign-dir c))
                                       " \"${SLURM_ARRAY_TASK_ID:?not a Slurm array task}\"")))
    (write-script merge
                  (list "#!/bin/sh"
                        "# Written by instar-fuzz campaign slurm: merge the shards."
                        (string-append "exec " (shell-quote program) " campaign merge "
                                       (shell-quote (campaign-dir c)))))
    (cons shard merge)))

(define (array-spec ks)
  "1,2,5 as Slurm's --array takes it (runs collapsed: 1-4,7)."
  (let loop ((ks ks) (acc '()))
    (match ks
      (() (string-join (reverse acc) ","))
      ((a . _)
       (let run ((b a) (rest (cdr ks)))
         (if (and (pair? rest) (= (car rest) (+ b 1)))
             (run (car rest) (cdr rest))
             (loop rest (cons (if (= a b) (number->string a) (format #f "~a-~a" a b)) acc))))))))

(define (sbatch argv)
  "Run sbatch ARGV (--parsable): the job id, or raise 'campaign-error."
  (let ((r (run-command (cons "sbatch" argv) #:timeout 120)))
    (unless (result-ok? r)
      (throw 'campaign-error (format #f "sbatch failed (~a): ~a" (result-class r)
                                     (string-trim-both (result-stderr r)))))
    (let ((id (car (string-split (string-trim-both (result-stdout r)) #\;))))
      (unless (string->number id)
        (throw 'campaign-error (format #f "sbatch printed no job id: ~s" (result-stdout r))))
      id)))

(define (live-jobs ids)
  "The job ids among IDS Slurm still has pending or running."
  (filter (lambda (id)
            ;; One id at a time: squeue refuses ids it has forgotten
            ;; (those are not live).
            (let ((r (run-command (list "squeue" "-h" "-o" "%A" "-j" id))))
              (and (result-ok? r) (member id (string-tokenize (result-stdout r))) #t)))
          ids))

(define (recorded-jobs c)
  (let ((f (string-append (campaign-dir c) "/slurm/jobs")))
    (if (file-exists? f)
        (string-tokenize (call-with-input-file f get-string-all))
        '())))

(define* (slurm-submit! c #:key program partition (extra '()))
  "Submit campaign C: a job array of its incomplete shards and a merge
job that waits for all of them (afterany: a shard with findings exits 1
and must still be merged).  PROGRAM is the absolute instar-fuzz to run
on the nodes; PARTITION a Slurm partition or #f; EXTRA more sbatch
options.  Refuses (raises 'campaign-error) while jobs of an earlier
submission are still queued.  Returns (ARRAY-ID-or-#f MERGE-ID SHARDS)."
  (let ((live (live-jobs (recorded-jobs c))))
    (unless (null? live)
      (throw 'campaign-error
             (format #f "jobs ~a of this campaign are still queued or running; \
wait for them (or scancel them) before resubmitting" (string-join live ",")))))
  (let* ((scripts (slurm-scripts! c program))
         (dir (campaign-dir c))
         (logs (string-append dir "/slurm"))
         (common (append (list "--parsable" "--export=ALL" "--chdir" dir)
                         (if partition (list "--partition" partition) '())
                         extra))
         (todo (incomplete-shards c))
         (array-id
          (and (pair? todo)
               (sbatch (append common
                               (list "--job-name" "instar-shard"
                                     "--array" (array-spec todo)
                                     "--output" (string-append logs "/shard-%a-%A.log")
                                     (car scripts))))))
         (merge-id
          (sbatch (append common
                          (list "--job-name" "instar-merge")
                          (if array-id (list (string-append "--dependency=afterany:" array-id)) '())
                          (list "--output" (string-append logs "/merge-%j.log")
                                (cdr scripts))))))
    ;; Every job id submitted, so a resubmission sees the live ones.
    (let ((ids (append (recorded-jobs c) (filter identity (list array-id merge-id)))))
      (call-with-output-file (string-append logs "/jobs")
        (lambda (p) (for-each (lambda (id) (display id p) (newline p)) ids))))
    (list array-id merge-id todo)))

(define* (slurm-wait id #:key (poll 1))
  "Return when Slurm no longer has job ID pending or running."
  (let loop ()
    (unless (null? (live-jobs (list id)))
      (sleep poll)
      (loop))))

;;; GNU parallel over ssh.

(define* (parallel-arguments c shards #:key sshloginfile ssh (program "instar-fuzz")
                             transferfile (workdir "...") joblog)
  "The argument list of GNU parallel running SHARDS of campaign C on the
hosts of SSHLOGINFILE (SSH: parallel's --ssh command), each shard into
a directory named by its number in the remote work directory, brought
back with --return and removed there with --cleanup.  PROGRAM is the
instar-fuzz to run on the hosts, unless TRANSFERFILE (an executable
taking instar-fuzz's arguments) is sent along and run instead.  Run it
from DIR/shards."
  (let* ((tf (and transferfile
                  ;; dir/./name: sent to (and run as) ./name in the work directory
                  (string-append (dirname transferfile) "/./" (basename transferfile))))
         (prog (if tf (string-append "./" (basename transferfile)) program))
         (n (number->string (campaign-shards c))))
    (append
     (list "parallel" "--sshloginfile" sshloginfile)
     (if ssh (list "--ssh" ssh) '())
     (list "--workdir" workdir "--return" "{}" "--cleanup")
     (if tf (list "--transferfile" tf) '())
     (if joblog (list "--joblog" joblog) '())
     ;; -q: each argument quoted for the remote shell, so an option
     ;; value is never split or expanded there.
     (list "-q" "--tag" "--line-buffer")
     (list prog "run" (campaign-recipe c)
           "--seed" (number->string (campaign-seed c))
           "--iterations" (number->string (campaign-iterations c))
           "--shard" (string-append "{}/" n) "--out" "{}" "-q")
     (campaign-args c)
     (list ":::")
     (map number->string shards))))

(define* (parallel-run! c #:key sshloginfile ssh program transferfile workdir)
  "Run the incomplete shards of campaign C with GNU parallel over ssh
(see `parallel-arguments'); returns (EXIT-STATUS . SHARDS).  parallel's
status counts the shards that exited non-zero: shards with findings
exit 1, so only the merge says what happened."
  (let ((todo (incomplete-shards c))
        (dir (string-append (campaign-dir c) "/parallel")))
    (mkdir-p dir)
    (if (null? todo)
        (cons 0 todo)
        (let ((argv (parallel-arguments c todo #:sshloginfile sshloginfile #:ssh ssh
                                        #:program (or program "instar-fuzz")
                                        #:transferfile transferfile
                                        #:workdir (or workdir "...")
                                        #:joblog (string-append dir "/joblog")))
              (old (getcwd)))
          ;; --return brings {} back relative to the current directory.
          (chdir (string-append (campaign-dir c) "/shards"))
          (let ((st (apply system* argv)))
            (chdir old)
            (cons (or (status:exit-val st) 255) todo))))))

;;; The merge.

(define (sum-alists alists)
  "Key-wise sums of ALISTS of numbers, keys in first-seen order."
  (fold (lambda (al acc)
          (fold (lambda (kv acc)
                  (if (assoc (car kv) acc)
                      (map (lambda (e) (if (equal? (car e) (car kv))
                                           (cons (car e) (+ (cdr e) (cdr kv))) e))
                           acc)
                      (append acc (list kv))))
                acc al))
        '() alists))

(define (merge-findings c summaries into)
  "One entry per signature over the shard SUMMARIES: hits added, the
first iteration the smallest, title and shape from that first hit (as a
single run reports them), total hits from the merged store INTO."
  (let ((table '()))
    (for-each
     (lambda (s)
       (for-each
        (lambda (f)
          (let* ((sig (assoc-ref f "signature")) (old (assoc-ref table sig)))
            (set! table
              (if old
                  (let ((first (if (< (assoc-ref f "first-iteration")
                                      (assoc-ref old "first-iteration"))
                                   f old)))
                    (assoc-set! (alist-copy table) sig
                                `(("signature" . ,sig)
                                  ("shape" . ,(assoc-ref first "shape"))
                                  ("title" . ,(assoc-ref first "title"))
                                  ("hits" . ,(+ (assoc-ref old "hits") (assoc-ref f "hits")))
                                  ("first-iteration" . ,(assoc-ref first "first-iteration")))))
                  (append table
                          (list (cons sig `(("signature" . ,sig)
                                            ("shape" . ,(assoc-ref f "shape"))
                                            ("title" . ,(assoc-ref f "title"))
                                            ("hits" . ,(assoc-ref f "hits"))
                                            ("first-iteration" . ,(assoc-ref f "first-iteration"))))))))))
        (vector->list (or (assoc-ref s "findings") #()))))
     summaries)
    (map (lambda (e)
           (append (cdr e)
                   (list (cons "total-hits" (finding-hit-count into (car e))))))
         (sort table (lambda (a b) (< (assoc-ref (cdr a) "first-iteration")
                                      (assoc-ref (cdr b) "first-iteration")))))))

(define (merge-stats! c ks into)
  "INTO/stats.jsonl: every line of the shards' stats.jsonl, each tagged
with its shard (rewritten at each merge: it is derived)."
  (let ((tmp (string-append into "/stats.jsonl.tmp")))
    (call-with-output-file tmp
      (lambda (p)
        (for-each
         (lambda (k)
           (let ((f (string-append (shard-directory c k) "/stats.jsonl"))
                 (tag (format #f "~a/~a" k (campaign-shards c))))
             (when (file-exists? f)
               (call-with-input-file f
                 (lambda (in)
                   (let loop ()
                     (let ((line (get-line in)))
                       (unless (eof-object? line)
                         (let ((j (false-if-exception (json-string->scm line))))
                           (when (pair? j)
                             (scm->json (append j (list (cons "shard" tag))) p)
                             (newline p)))
                         (loop)))))))))
         ks)))
    (rename-file tmp (string-append into "/stats.jsonl"))))

(define (merge-campaign! c)
  "Merge the shard stores of campaign C into DIR/merged and write its
summary.json: totals over the shards (iterations, verdicts, whitelist
hits, findings as one run of the same seed reports them) and one entry
per shard.  Returns the summary."
  (let* ((dir (campaign-dir c))
         (into (string-append dir "/merged"))
         (ks (iota (campaign-shards c) 1))
         (present (filter (lambda (k) (file-exists? (shard-directory c k))) ks))
         (summaries (filter-map (lambda (k) (shard-summary c k)) ks))
         (complete (filter (lambda (k) (shard-complete? c k)) ks)))
    (mkdir-p into)
    (merge-stores! (map (lambda (k) (shard-directory c k)) present) into)
    (merge-stats! c present into)
    (let* ((findings (merge-findings c summaries into))
           (sum (lambda (key) (apply + (map (lambda (s) (or (assoc-ref s key) 0)) summaries))))
           (secs (map (lambda (s) (or (assoc-ref s "seconds") 0)) summaries))
           (summary
            `(("recipe" . ,(campaign-recipe c))
              ("campaign" . ,dir)
              ("seed" . ,(campaign-seed c))
              ("iterations" . ,(campaign-iterations c))
              ("iterations-run" . ,(sum "iterations-run"))
              ("shards" . ,(campaign-shards c))
              ("complete" . ,(= (length complete) (campaign-shards c)))
              ("incomplete-shards" . ,(list->vector (lset-difference = ks complete)))
              ("args" . ,(list->vector (campaign-args c)))
              ("seconds" . ,(if (null? secs) 0 (apply max secs)))
              ("shard-seconds" . ,(apply + secs))
              ("verdicts" . ,(sum-alists (map (lambda (s) (or (assoc-ref s "verdicts") '()))
                                              summaries)))
              ("whitelist" . ,(sum-alists (map (lambda (s) (or (assoc-ref s "whitelist") '()))
                                               summaries)))
              ("inconclusive-reasons"
               . ,(sum-alists (map (lambda (s) (or (assoc-ref s "inconclusive-reasons") '()))
                                   summaries)))
              ("refusals" . ,(sum-alists (map (lambda (s) (or (assoc-ref s "refusals") '()))
                                              summaries)))
              ("findings" . ,(list->vector findings))
              ("stored-findings" . ,(length (list-findings into)))
              ("per-shard"
               . ,(list->vector
                   (map (lambda (k)
                          (let ((s (shard-summary c k)))
                            `(("shard" . ,(format #f "~a/~a" k (campaign-shards c)))
                              ("out" . ,(shard-directory c k))
                              ("complete" . ,(and (member k complete) #t))
                              ("planned" . ,(shard-iterations c k))
                              ("iterations-run" . ,(if s (assoc-ref s "iterations-run") 0))
                              ("host" . ,(if s (assoc-ref s "host") 'null))
                              ("seconds" . ,(if s (assoc-ref s "seconds") 'null))
                              ("findings" . ,(if s (vector-length (assoc-ref s "findings")) 0)))))
                        ks)))
              ("out" . ,into))))
      (write-json-file (string-append into "/summary.json") summary)
      summary)))
