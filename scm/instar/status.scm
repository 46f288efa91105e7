;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar status) -- what a campaign has done so far, read from its
;;; output directories: `instar-fuzz status' and the data behind
;;; `instar-fuzz report'.
;;;
;;; A source is one of
;;;   a recipe output directory  summary.json, stats.jsonl (one line per
;;;                              iteration, appended while the run goes)
;;;                              and/or findings/ (a merged store has only
;;;                              the findings);
;;;   a libFuzzer target's work  fuzz-work/TARGET/ with `stats' (one JSON
;;;   directory                  object per status line, core/fuzz/run.sh)
;;; and a directory given that is neither is searched one level down, so a
;;; campaign directory holding shard directories, or a whole fuzz-work/,
;;; can be named at once.  Everything is read, nothing is written: a
;;; running campaign can be watched.  The latest run of each output
;;; directory is its state; a line that does not parse (a run writing it
;;; just now) is skipped.

(define-module (instar status)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 rdelim)
  #:use-module (json)
  #:use-module (instar findings)
  #:use-module (instar store)
  #:export (find-sources
            source-kind
            source-dir
            source-label
            read-json-lines
            store-status
            fuzz-status
            campaign-status
            status-stores
            status-fuzz-targets
            status-total
            status-findings
            store-label
            store-dir
            store-summary
            store-runs
            store-latest
            store-fuzz-sessions
            stats-run-id
            stats-run-label
            stats-run-lines
            stats-run-recipe
            stats-run-shard
            stats-run-state
            stats-run-done
            stats-run-planned
            stats-run-rate
            stats-run-verdicts
            stats-run-rules
            stats-run-start
            stats-run-end
            fuzz-label
            fuzz-state
            fuzz-target
            fuzz-lines
            fuzz-last
            verdict-names
            parse-iso-time
            print-status
            status->json))

(define verdict-names '("match" "divergence" "known" "inconclusive" "refused"))

;;; Finding the sources.

(define (file? f) (false-if-exception (eq? 'regular (stat:type (stat f)))))
(define (dir? f) (false-if-exception (eq? 'directory (stat:type (stat f)))))

(define (store-dir? d)
  (or (file? (string-append d "/stats.jsonl"))
      (file? (string-append d "/summary.json"))
      (dir? (string-append d "/findings"))))

(define (fuzz-dir? d) (file? (string-append d "/stats")))

(define (subdirectories d)
  (filter (lambda (e) (dir? (string-append d "/" e)))
          (or (scandir d (lambda (e) (not (member e '("." ".."))))) '())))

(define (find-sources dirs)
  "The sources under the directories DIRS, as (KIND . DIRECTORY) with KIND
'store or 'fuzz: each directory that is one, and those one level below it
(shard directories of a campaign, the targets of a fuzz-work/).  A
directory that does not exist is an error."
  (delete-duplicates
   (append-map
    (lambda (d)
      (unless (dir? d)
        (error (format #f "not a directory: ~a" d)))
      (let ((here (append (if (store-dir? d) (list (cons 'store d)) '())
                          (if (fuzz-dir? d) (list (cons 'fuzz d)) '())))
            (below (append-map
                    (lambda (e)
                      (let ((s (string-append d "/" e)))
                        (append (if (and (store-dir? s) (not (equal? e "findings")))
                                    (list (cons 'store s)) '())
                                (if (fuzz-dir? s) (list (cons 'fuzz s)) '()))))
                    (subdirectories d))))
        (if (and (null? here) (null? below))
            (error (format #f "~a: no summary.json, stats.jsonl, findings/ or libFuzzer stats here or one level below"
                           d))
            (append here below))))
    dirs)))

(define (source-kind s)
  "The kind of source S: a symbol naming what the directory holds."
  (car s))
(define (source-dir s)
  "The directory of source S, as given."
  (cdr s))
(define (source-label s)
  "The directory, without a trailing slash."
  (string-trim-right (cdr s) #\/))

;;; Reading.

(define (read-json-lines file)
  "The JSON objects of FILE, one per line, in order; lines that do not
parse (one being written) are skipped.  '() when FILE is missing."
  (if (not (file? file))
      '()
      (call-with-input-file file
        (lambda (p)
          (let loop ((acc '()))
            (let ((l (read-line p)))
              (if (eof-object? l)
                  (reverse acc)
                  (let ((v (and (not (string-null? (string-trim-both l)))
                                (or (fast-stats-line l)
                                    (false-if-exception (json-string->scm l))))))
                    (loop (if (pair? v) (cons v acc) acc))))))))))

(define (ref a k) (let ((v (and (pair? a) (assoc-ref a k)))) (if (eq? v 'null) #f v)))

;; The iteration lines (run.scm writes them with scm->json: no spaces, no
;; escapes in these values) are read by searching for their keys, several
;; times faster than a JSON parser on a million lines; a line that is not
;; exactly that shape goes to the parser.
(define number-end (char-set #\, #\}))

(define (fast-stats-line l)
  (define (after key)
    (let ((i (string-contains l key))) (and i (+ i (string-length key)))))
  (define (str key)   ; KEY as "\"key\":\""
    (let* ((i (after key))
           (j (and i (string-index l #\" i))))
      (and j (not (string-index l #\\ i j)) (substring l i j))))
  (define (num key)   ; KEY as "\"key\":"
    (let* ((i (after key))
           (j (and i (string-index l number-end i))))
      (and j (string->number (substring l i j)))))
  (and (string-prefix? "{\"run\":\"" l)
       (string-suffix? "}" l)
       (let ((run (str "\"run\":\"")) (recipe (str "\"recipe\":\"")) (verdict (str "\"verdict\":\""))
             (shard (str "\"shard\":\"")) (t (num "\"t\":")) (seed (num "\"seed\":"))
             (iteration (num "\"iteration\":")) (done (num "\"done\":")) (total (num "\"total\":"))
             (findings (num "\"findings\":"))
             (rules (let* ((i (after "\"rules\":["))
                           (j (and i (string-index l #\] i))))
                      (and j (let ((body (substring l i j)))
                               (and (not (string-index body #\\))
                                    (list->vector
                                     (filter-map (lambda (x)
                                                   (let ((x (string-trim-both x #\")))
                                                     (and (not (string-null? x)) x)))
                                                 (string-split body #\,)))))))))
         (and run recipe verdict t seed iteration done total findings
              `(("run" . ,run) ("recipe" . ,recipe) ("t" . ,t) ("seed" . ,seed)
                ("iteration" . ,iteration) ("verdict" . ,verdict) ("done" . ,done)
                ("total" . ,total) ("findings" . ,findings)
                ,@(if shard `(("shard" . ,shard)) '())
                ,@(if rules `(("rules" . ,rules)) '()))))))

(define (parse-iso-time s)
  "Seconds since the epoch of an ISO 8601 UTC time (2026-12-03T11:34:35Z),
or #f."
  (and (string? s)
       (false-if-exception
        (let ((tm (car (strptime "%Y-%m-%dT%H:%M:%S" (string-trim-right s #\Z)))))
          (car (mktime tm "UTC"))))))

;;; One run of a recipe (the lines of stats.jsonl with one "run" id).

(define-record-type <run>
  (%make-stats-run label dir id recipe shard seed lines state done planned elapsed verdicts rules)
  run?
  (label stats-run-label)
  (dir stats-run-dir)
  (id stats-run-id)
  (recipe stats-run-recipe)
  (shard stats-run-shard)
  (seed stats-run-seed)
  (lines stats-run-lines)       ; the iteration lines, in file order
  (state stats-run-state)       ; "finished", "interrupted (SIGINT)", "running ...", ...
  (done stats-run-done)         ; iterations done (the largest "done")
  (planned stats-run-planned)   ; the last line's "total"
  (elapsed stats-run-elapsed)   ; seconds from the start to the last line
  ;; (VERDICT . COUNT) for every verdict name.
  (verdicts stats-run-verdicts)
  ;; (RULE . HITS): the whitelist rules the iterations were explained by,
  ;; from the lines' "rules"; #f when the lines do not record them
  ;; (stats written before they did).
  (rules stats-run-rules))

(define (make-stats-run label dir id recipe shard seed lines state)
  "A run, its figures taken from LINES in one pass (a shard of a
million iterations is read once, not once per column)."
  (let ((verdicts (make-hash-table)) (rules (make-hash-table)))
    (let loop ((ls lines) (done 0) (elapsed 0) (rules? #f))
      (match ls
        (()
         (%make-stats-run
          label dir id recipe shard seed lines state done
          (if (null? lines) 0 (or (ref (last lines) "total") 0))
          elapsed
          (map (lambda (v) (cons v (hash-ref verdicts v 0))) verdict-names)
          (and rules?
               (sort (hash-map->list cons rules) (lambda (a b) (string<? (car a) (car b)))))))
        ((l . rest)
         (let ((v (ref l "verdict")) (rs (ref l "rules")))
           (when (string? v) (hash-set! verdicts v (+ 1 (hash-ref verdicts v 0))))
           (when (vector? rs)
             (for-each (lambda (r) (hash-set! rules r (+ 1 (hash-ref rules r 0)))) (vector->list rs)))
           (loop rest (max done (or (ref l "done") 0)) (max elapsed (or (ref l "t") 0))
                 (or rules? (and (assoc "rules" l) #t)))))))))

(define (stats-run-rate r)
  "Iterations per second of this run so far."
  (let ((t (stats-run-elapsed r))) (if (> t 0) (/ (stats-run-done r) t) 0)))
(define (stats-run-start r)
  "When the run started (seconds), from its id (ISO time, then the pid)."
  (let ((id (stats-run-id r)))
    (and (string? id) (>= (string-length id) 20) (parse-iso-time (substring id 0 20)))))
(define (stats-run-end r)
  "When run R's last line was written (seconds since the epoch), or #f."
  (and (stats-run-start r) (+ (stats-run-start r) (stats-run-elapsed r))))

;;; A recipe output directory.

(define-record-type <store-status>
  (make-store-status label dir summary runs latest fuzz-sessions)
  store-status?
  (label store-label)
  (dir store-dir)
  (summary store-summary)          ; summary.json alist, or #f
  (runs store-runs)                ; every run in stats.jsonl
  (latest store-latest)            ; the last run, or #f
  (fuzz-sessions store-fuzz-sessions)) ; `instar-fuzz fuzz' lines

(define (group-runs* lines)
  "LINES grouped by their \"run\", in order of first appearance."
  (let ((t (make-hash-table)) (order '()))
    (for-each (lambda (l)
                (let ((id (ref l "run")))
                  (unless (hash-ref t id) (set! order (cons id order)))
                  (hash-set! t id (cons l (hash-ref t id '())))))
              lines)
    (map (lambda (id) (cons id (reverse (hash-ref t id)))) (reverse order))))

(define* (store-status dir #:key (now (current-time)))
  "The status of the recipe output directory DIR."
  (let* ((summary (let ((f (string-append dir "/summary.json")))
                    (and (file? f) (false-if-exception (read-json-file f)))))
         (all (read-json-lines (string-append dir "/stats.jsonl")))
         (iteration-lines (filter (lambda (l) (ref l "run")) all))
         (sessions (filter (lambda (l) (ref l "target")) all))
         (label (string-trim-right dir #\/))
         (mtime (false-if-exception (stat:mtime (stat (string-append dir "/stats.jsonl")))))
         (runs
          (map (match-lambda
                 ((id . lines)
                  (let* ((l0 (car lines))
                         (mine? (and summary (string? id)
                                     (string-prefix? (or (ref summary "timestamp") "\0") id)))
                         (shard (or (ref l0 "shard") (and mine? (ref summary "shard")) "?"))
                         (state (cond
                                 ((and mine? (ref summary "interrupted"))
                                  (format #f "interrupted (~a)" (or (ref summary "signal") "?")))
                                 ((and mine? (ref summary "environment-error")) "environment error")
                                 (mine? "finished")
                                 ((= (fold (lambda (l m) (max m (or (ref l "done") 0))) 0 lines)
                                     (or (ref (last lines) "total") -1))
                                  ;; Every iteration ran; the summary is
                                  ;; being written (or was lost).
                                  "done, no summary")
                                 (else
                                  (format #f "running or stopped (last line ~as ago)"
                                          (if mtime (max 0 (- now mtime)) "?"))))))
                    (make-stats-run label dir id (ref l0 "recipe") shard (ref l0 "seed") lines state))))
               (group-runs* iteration-lines)))
         ;; A run that drew no iteration (--iterations 0, or every
         ;; iteration in another shard) has no lines: its summary says.
         (runs (if (and summary (not (any (lambda (r) (string-prefix? (or (ref summary "timestamp") "\0")
                                                                      (or (stats-run-id r) "")))
                                          runs))
                        (= 0 (or (ref summary "iterations") 0)))
                   (append runs
                           (list (make-stats-run label dir (ref summary "timestamp") (ref summary "recipe")
                                           (ref summary "shard") (ref summary "seed") '()
                                           "finished")))
                   runs)))
    (make-store-status label dir summary runs (and (pair? runs) (last runs)) sessions)))

;;; A libFuzzer target's work directory.

(define-record-type <fuzz-status>
  (make-fuzz-status label dir target lines state)
  fuzz-status?
  (label fuzz-label)
  (dir fuzz-dir)
  (target fuzz-target)
  (lines fuzz-lines)    ; the status lines of core/fuzz/run.sh, in order
  (state fuzz-state))

(define (fuzz-last f)
  "The last status line of libFuzzer source F, or #f when it has none."
  (let ((ls (fuzz-lines f))) (and (pair? ls) (last ls))))

(define* (fuzz-status dir #:key (now (current-time)))
  "The status of the libFuzzer work directory DIR (fuzz-work/TARGET)."
  (let* ((file (string-append dir "/stats"))
         (lines (read-json-lines file))
         (last-line (and (pair? lines) (last lines)))
         (mtime (false-if-exception (stat:mtime (stat file)))))
    (make-fuzz-status (string-trim-right dir #\/) dir
                      (or (ref last-line "target") (basename dir))
                      lines
                      (cond ((not last-line) "no status yet")
                            ((eq? #t (ref last-line "final")) "finished")
                            (else (format #f "running or stopped (last line ~as ago)"
                                          (if mtime (max 0 (- now mtime)) "?")))))))

;;; A whole campaign.

(define-record-type <campaign>
  (make-campaign stores fuzz findings)
  campaign?
  (stores status-stores)            ; store-status records
  (fuzz status-fuzz-targets)        ; fuzz-status records
  (findings status-findings))       ; `list-store' rows over every store

(define* (campaign-status dirs #:key (now (current-time)))
  "The status of the campaign whose output lies under DIRS (see
`find-sources')."
  (let* ((sources (find-sources dirs))
         (stores (filter-map (lambda (s) (and (eq? (car s) 'store) (store-status (cdr s) #:now now)))
                             sources))
         (fuzz (filter-map (lambda (s) (and (eq? (car s) 'fuzz) (fuzz-status (cdr s) #:now now)))
                           sources)))
    (make-campaign stores fuzz (list-store (map store-dir stores)))))

(define (status-total c)
  "Totals over the latest run of every store: an alist with done,
planned, rate (iterations over the wall-clock span from the first start to
the last line, so shards running side by side add up and shards run one
after another do not), verdicts, runs."
  (let* ((runs (filter-map store-latest (status-stores c)))
         (done (apply + (map stats-run-done runs)))
         (planned (apply + (map stats-run-planned runs)))
         (starts (filter-map stats-run-start runs))
         (ends (filter-map stats-run-end runs))
         (span (and (pair? starts) (pair? ends) (- (apply max ends) (apply min starts))))
         (rate (cond ((and span (> span 0)) (/ done span))
                     ((= (length runs) 1) (stats-run-rate (car runs)))
                     (else 0))))
    `(("runs" . ,(length runs))
      ("recipes" . ,(delete-duplicates (filter-map stats-run-recipe runs)))
      ("done" . ,done)
      ("planned" . ,planned)
      ("rate" . ,rate)
      ("verdicts" . ,(map (lambda (v)
                            (cons v (apply + (map (lambda (r) (assoc-ref (stats-run-verdicts r) v)) runs))))
                          verdict-names)))))

;;; Printing.

(define (finding-counts rows)
  (map (lambda (st) (cons st (count (lambda (f) (equal? (finding-ref f "status") st)) rows)))
       '("open" "flaky" "fixed")))

(define (open-in rows dir)
  (count (lambda (f) (and (member (finding-ref f "status") '("open" "flaky"))
                          (member dir (or (finding-ref f "stores") '()))))
         rows))

(define (percent done planned)
  (if (> planned 0) (format #f "~d%" (quotient (* 100 done) planned)) "-"))

(define (print-status c port)
  "The status table of campaign C: a line per store (its latest run), the
total, a line per libFuzzer target, and the findings."
  (let* ((stores (status-stores c)) (rows (status-findings c))
         ;; The first column fits the longest directory name.
         (w (apply max 16 (map string-length
                               (append (map store-label stores)
                                       (map fuzz-label (status-fuzz-targets c))))))
         (pad (lambda (s) (string-pad-right s w))))
    (unless (null? stores)
      (format port "~a ~13a ~5a ~15@a ~6@a ~6@a ~6@a ~6@a ~6@a ~6@a ~4@a  ~a~%"
              (pad "OUTPUT") "RECIPE" "SHARD" "DONE/PLANNED" "IT/S" "MATCH" "DIVERG" "KNOWN"
              "INCONC" "REFUSD" "OPEN" "STATE")
      (for-each
       (lambda (s)
         (let ((r (store-latest s)))
           (if r
               (let ((v (stats-run-verdicts r)))
                 (format port "~a ~13a ~5a ~15@a ~6,2f ~6@a ~6@a ~6@a ~6@a ~6@a ~4@a  ~a~%"
                         (pad (store-label s)) (or (stats-run-recipe r) "?") (stats-run-shard r)
                         (format #f "~a/~a ~a" (stats-run-done r) (stats-run-planned r)
                                 (percent (stats-run-done r) (stats-run-planned r)))
                         (exact->inexact (stats-run-rate r))
                         (assoc-ref v "match") (assoc-ref v "divergence") (assoc-ref v "known")
                         (assoc-ref v "inconclusive") (assoc-ref v "refused")
                         (open-in rows (store-dir s)) (stats-run-state r)))
               (format port "~a ~13a ~5a ~15@a ~6@a ~6@a ~6@a ~6@a ~6@a ~6@a ~4@a  ~a~%"
                       (pad (store-label s)) "-" "-" "-" "-" "-" "-" "-" "-" "-"
                       (open-in rows (store-dir s)) "findings only"))))
       stores)
      (let* ((t (status-total c)) (v (assoc-ref t "verdicts")))
        (format port "~a ~13a ~5a ~15@a ~6,2f ~6@a ~6@a ~6@a ~6@a ~6@a ~4@a~%"
                (pad (format #f "total (~a run~:p)" (assoc-ref t "runs")))
                (string-join (assoc-ref t "recipes") ",") ""
                (format #f "~a/~a ~a" (assoc-ref t "done") (assoc-ref t "planned")
                        (percent (assoc-ref t "done") (assoc-ref t "planned")))
                (exact->inexact (assoc-ref t "rate"))
                (assoc-ref v "match") (assoc-ref v "divergence") (assoc-ref v "known")
                (assoc-ref v "inconclusive") (assoc-ref v "refused")
                (count (lambda (f) (member (finding-ref f "status") '("open" "flaky"))) rows)))
      (for-each
       (lambda (s)
         (let ((n (length (store-fuzz-sessions s))))
           (when (> n 0)
             (format port "~a: ~a libFuzzer session~:p (instar-fuzz fuzz); last: ~a~%"
                     (store-label s) n
                     (or (ref (last (store-fuzz-sessions s)) "session") "no summary")))))
       stores))
    (unless (null? (status-fuzz-targets c))
      (unless (null? stores) (newline port))
      (format port "~a ~22a ~8@a ~12@a ~7@a ~7@a ~6@a ~7@a ~6@a ~7@a  ~a~%"
              (pad "LIBFUZZER") "TARGET" "ELAPSED" "EXECS" "EXEC/S" "AVG/S" "COV" "FT" "CORPUS"
              "CRASHES" "STATE")
      (for-each
       (lambda (f)
         (let ((l (fuzz-last f)))
           (format port "~a ~22a ~8@a ~12@a ~7@a ~7@a ~6@a ~7@a ~6@a ~7@a  ~a~%"
                   (pad (fuzz-label f)) (fuzz-target f)
                   (if l (format #f "~as" (ref l "elapsed_s")) "-")
                   (or (ref l "execs") "-") (or (ref l "exec_per_s") "-")
                   (or (ref l "avg_exec_per_s") "-") (or (ref l "cov") "-") (or (ref l "ft") "-")
                   (or (ref l "corpus") "-") (or (ref l "crashes") "-") (fuzz-state f))))
       (status-fuzz-targets c)))
    (let ((n (finding-counts rows)))
      (format port "findings: ~a (~a open, ~a flaky, ~a fixed) in ~a store~:p~%"
              (length rows) (assoc-ref n "open") (assoc-ref n "flaky") (assoc-ref n "fixed")
              (length stores)))))

(define (status->json c)
  "Campaign C as a JSON-ready alist (`instar-fuzz status --json')."
  (define (num x) (if (exact? x) x (exact->inexact x)))
  (let ((rows (status-findings c)))
    `(("stores"
       . ,(list->vector
           (map (lambda (s)
                  (let ((r (store-latest s)))
                    `(("dir" . ,(store-label s))
                      ("runs" . ,(length (store-runs s)))
                      ("open-findings" . ,(open-in rows (store-dir s)))
                      ("fuzz-sessions" . ,(length (store-fuzz-sessions s)))
                      ("latest"
                       . ,(if r
                              `(("run" . ,(or (stats-run-id r) 'null))
                                ("recipe" . ,(or (stats-run-recipe r) 'null))
                                ("shard" . ,(stats-run-shard r))
                                ("seed" . ,(or (stats-run-seed r) 'null))
                                ("done" . ,(stats-run-done r))
                                ("planned" . ,(stats-run-planned r))
                                ("rate" . ,(num (stats-run-rate r)))
                                ("state" . ,(stats-run-state r))
                                ("verdicts" . ,(stats-run-verdicts r)))
                              'null)))))
                (status-stores c))))
      ("total" . ,(let ((t (status-total c)))
                    `(("runs" . ,(assoc-ref t "runs"))
                      ("recipes" . ,(list->vector (assoc-ref t "recipes")))
                      ("done" . ,(assoc-ref t "done"))
                      ("planned" . ,(assoc-ref t "planned"))
                      ("rate" . ,(num (assoc-ref t "rate")))
                      ("verdicts" . ,(assoc-ref t "verdicts")))))
      ("fuzz"
       . ,(list->vector
           (map (lambda (f)
                  `(("dir" . ,(fuzz-label f))
                    ("target" . ,(fuzz-target f))
                    ("state" . ,(fuzz-state f))
                    ("last" . ,(or (fuzz-last f) 'null))))
                (status-fuzz-targets c))))
      ("findings" . ,(finding-counts rows)))))
