;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-status.scm -- (instar status) and the data of (instar html-report)
;;; on hand-made output directories: runs told apart, states, the totals'
;;; wall-clock rate, whitelist hits, rate windows and downsampling.
(use-modules (srfi srfi-1) (srfi srfi-64) (json) (instar process) (instar findings)
             (instar status) (instar html-report) (instar plot))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-status-test."))

(define (write-lines file objs)
  (call-with-output-file file
    (lambda (p) (for-each (lambda (o) (scm->json o p) (newline p)) objs))))

(define* (line run i done total t verdict #:key (findings 0) (shard "1/2") (rules #()))
  `(("run" . ,run) ("recipe" . "resize-diff") ("t" . ,t) ("seed" . 5) ("iteration" . ,i)
    ("verdict" . ,verdict) ("signature" . null) ("done" . ,done) ("total" . ,total)
    ("findings" . ,findings) ("shard" . ,shard) ("rules" . ,rules)))

(test-begin "status")

(test-group "parse-iso-time"
  (test-equal "UTC" 0 (parse-iso-time "1970-01-01T00:00:00Z"))
  (test-equal "a day later" 86400 (parse-iso-time "1970-01-02T00:00:00Z"))
  (test-eq "not a time" #f (parse-iso-time "yesterday")))

;; a/: an old run, then the latest one (4 of 4, finished: its summary's
;; timestamp is the run's start).  b/: running, 2 of 4, started 10 s
;; after a; a whitelist rule hit twice.
(let ((a (string-append tmp "/camp/a")) (b (string-append tmp "/camp/b")))
  (mkdir-p a) (mkdir-p b)
  (write-lines (string-append a "/stats.jsonl")
               (list (line "2026-12-03T10:00:00Z-1" 0 1 9 1.0 "match")
                     (line "2026-12-03T11:00:00Z-2" 0 1 4 1.0 "match")
                     (line "2026-12-03T11:00:00Z-2" 2 2 4 2.0 "divergence" #:findings 1)
                     (line "2026-12-03T11:00:00Z-2" 4 3 4 3.0 "known" #:findings 1
                           #:rules #("rule-a"))
                     (line "2026-12-03T11:00:00Z-2" 6 4 4 4.0 "refused" #:findings 1
                           #:rules #("rule-b"))))
  (write-json-file (string-append a "/summary.json")
                   '(("recipe" . "resize-diff") ("timestamp" . "2026-12-03T11:00:00Z")
                     ("shard" . "1/2") ("interrupted" . #f) ("environment-error" . null)))
  (write-lines (string-append b "/stats.jsonl")
               (list (line "2026-12-03T11:00:10Z-3" 1 1 4 2.0 "match" #:shard "2/2"
                           #:rules #())
                     (line "2026-12-03T11:00:10Z-3" 3 2 4 4.0 "known" #:shard "2/2"
                           #:rules #("rule-a"))))
  (let* ((c (campaign-status (list (string-append tmp "/camp"))
                             #:now (+ 60 (stat:mtime (stat (string-append b "/stats.jsonl"))))))
         (stores (status-stores c))
         (ra (store-latest (car stores)))
         (rb (store-latest (cadr stores))))
    (test-equal "a campaign directory: its shard directories" 2 (length stores))
    (test-equal "two runs in a/" 2 (length (store-runs (car stores))))
    (test-equal "the latest run is the state" "2026-12-03T11:00:00Z-2" (stats-run-id ra))
    (test-equal "done / planned" '(4 4) (list (stats-run-done ra) (stats-run-planned ra)))
    (test-equal "finished (the summary is this run's)" "finished" (stats-run-state ra))
    (test-assert "b is running or stopped, last line a minute ago"
      (string-prefix? "running or stopped (last line 60s ago)" (stats-run-state rb)))
    (test-equal "shard from the lines" "2/2" (stats-run-shard rb))
    (test-equal "verdicts" '(("match" . 1) ("divergence" . 1) ("known" . 1)
                             ("inconclusive" . 0) ("refused" . 1))
      (stats-run-verdicts ra))
    (test-assert "rate of a run" (= 1 (stats-run-rate ra)))
    ;; a: 11:00:00 to 11:00:04; b: 11:00:10 to 11:00:14; 6 iterations in 14 s.
    (let ((t (status-total c)))
      (test-equal "total done" 6 (assoc-ref t "done"))
      (test-equal "total planned" 8 (assoc-ref t "planned"))
      (test-assert "total rate over the wall-clock span" (< (abs (- 6/14 (assoc-ref t "rate"))) 1e-9)))
    (test-equal "whitelist hits from the lines, summed over the shards"
      '(("rule-a" . 2) ("rule-b" . 1))
      (let ((p (find (lambda (p) (equal? (assq-ref p 'id) "whitelist")) (report-plots c))))
        (assq-ref p 'series)))
    (test-equal "the findings series: (done . findings) per line"
      '((1 . 0) (2 . 1) (3 . 1) (4 . 1))
      (let ((p (find (lambda (p) (equal? (assq-ref p 'id) "findings")) (report-plots c))))
        (cdar (assq-ref p 'series))))))

(test-group "interrupted"
  (let ((d (string-append tmp "/int")))
    (mkdir-p d)
    (write-lines (string-append d "/stats.jsonl") (list (line "2026-12-03T12:00:00Z-9" 0 1 10 1.0 "match")))
    (write-json-file (string-append d "/summary.json")
                     '(("timestamp" . "2026-12-03T12:00:00Z") ("interrupted" . #t) ("signal" . "SIGINT")))
    (test-equal "a run stopped by a signal says so" "interrupted (SIGINT)"
      (stats-run-state (store-latest (car (status-stores (campaign-status (list d)))))))))

(test-group "fast line reader"
  ;; A line as run.scm writes it: read by key search, the same as by the
  ;; JSON parser; a line of another shape goes to the parser.
  (let* ((l (scm->json-string (line "2026-12-03T11:00:00Z-2" 7 3 9 1.25 "refused"
                                    #:findings 2 #:rules #("rule-a" "rule-b"))))
         (fast ((@@ (instar status) fast-stats-line) l))
         (slow (json-string->scm l)))
    (test-assert "taken by the fast reader" (pair? fast))
    (for-each (lambda (k)
                (test-equal (string-append "field " k) (assoc-ref slow k) (assoc-ref fast k)))
              '("run" "recipe" "t" "seed" "iteration" "verdict" "done" "total" "findings"
                "shard" "rules"))
    (test-eq "an escaped quote: left to the parser" #f
      ((@@ (instar status) fast-stats-line)
       "{\"run\":\"a\\\"b\",\"recipe\":\"r\",\"t\":1,\"seed\":1,\"iteration\":0,\"verdict\":\"match\",\"done\":1,\"total\":1,\"findings\":0}"))
    (test-eq "a session line: left to the parser" #f
      ((@@ (instar status) fast-stats-line) "{\"time\":\"x\",\"target\":\"t\"}"))))

(test-group "sources"
  (test-error "not a directory" #t (find-sources (list (string-append tmp "/none"))))
  (let ((e (string-append tmp "/empty")))
    (mkdir-p e)
    (test-error "nothing to read" #t (find-sources (list e)))))

(test-group "rate-series"
  (let ((ls (map (lambda (i) `(("done" . ,(+ i 1)) ("t" . ,(* 2 (+ i 1))))) (iota 4))))
    (test-equal "window 1: iterations per second between lines"
      '((1 . 1/2) (2 . 1/2) (3 . 1/2) (4 . 1/2))
      (rate-series ls #:window 1))
    (test-equal "window 2: from two lines back (the start for the first)"
      '((1 . 1/2) (2 . 1/2) (3 . 1/2) (4 . 1/2))
      (rate-series ls #:window 2))))

(test-group "downsample"
  (test-equal "short series untouched" '(1 2 3) (downsample '(1 2 3)))
  (let ((d (downsample (iota 10000) #:limit 400)))
    (test-equal "at most the limit" 400 (length d))
    (test-equal "first kept" 0 (car d))
    (test-equal "last kept" 9999 (last d))))

(test-end "status")
(delete-tree tmp)
