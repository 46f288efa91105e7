;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar html-report) -- `instar-fuzz report': a campaign on one static
;;; page.
;;;
;;; The page is XHTML written with (sxml simple) (so it is well-formed by
;;; construction, and parses the same as HTML), with inline SVG plots that
;;; gnuplot draws ((instar plot)) and an inline style sheet: no script, no
;;; external font, image or style sheet, nothing fetched.  It shows the
;;; status table of `instar-fuzz status', then the plots -- iterations/s
;;; and findings over iterations for each recipe run (one line per shard),
;;; the verdict mix, the whitelist rules' hits, coverage and exec/s over
;;; time for each libFuzzer target -- and the findings table with the
;;; command that replays each finding.  Long series are drawn from 400
;;; evenly spaced points (`downsample').

(define-module (instar html-report)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (sxml simple)
  #:use-module (instar config)
  #:use-module (instar findings)
  #:use-module (instar store)
  #:use-module (instar status)
  #:use-module (instar plot)
  #:export (report-plots
            html-report
            write-html-report
            rate-series))

(define (ref a k) (let ((v (and (pair? a) (assoc-ref a k)))) (if (eq? v 'null) #f v)))

;;; The data of the plots.

(define* (rate-series lines #:key (window #f))
  "(DONE . ITERATIONS-PER-SECOND) for each of LINES (one run's stats
lines, in order): the rate over the last WINDOW lines (default a
twentieth of the run, at least 1), so the curve shows the speed at that
point of the run, not the average since its start."
  (let* ((v (list->vector lines))
         (n (vector-length v))
         (w (or window (max 1 (quotient n 20)))))
    (map (lambda (i)
           (let* ((l (vector-ref v i))
                  (j (- i w))
                  (d0 (if (>= j 0) (or (ref (vector-ref v j) "done") 0) 0))
                  (t0 (if (>= j 0) (or (ref (vector-ref v j) "t") 0) 0))
                  (d (or (ref l "done") 0))
                  (t (or (ref l "t") 0)))
             (cons d (if (> t t0) (/ (- d d0) (- t t0)) 0))))
         (iota n))))

(define (run-name r)
  (format #f "~a ~a (~a)" (or (stats-run-recipe r) "?") (stats-run-shard r) (basename (stats-run-label r))))

(define (fuzz-name f)
  "fuzz_resize_planners (fuzz-work): the target and where its work is."
  (format #f "~a (~a)" (fuzz-target f) (basename (dirname (fuzz-label f)))))

(define verdict-colors '("#2ca02c" "#d62728" "#1f77b4" "#9e9e9e" "#ff7f0e"))

(define (latest-runs c)
  (filter-map store-latest (status-stores c)))

(define (whitelist-hits c)
  "(RULE . HITS) summed over the latest run of every store: from the
stats lines, else from a summary.json that belongs to that run."
  (let ((t (make-hash-table)))
    (for-each
     (lambda (s)
       (let* ((r (store-latest s))
              (summary (store-summary s))
              (counts (or (and r (stats-run-rules r))
                          (and r summary
                               (let ((id (stats-run-id r)))
                                 (and (string? id)
                                      (string-prefix? (or (ref summary "timestamp") "\0") id)
                                      (ref summary "whitelist"))))
                          '())))
         (for-each (lambda (kv) (hash-set! t (car kv) (+ (cdr kv) (hash-ref t (car kv) 0))))
                   counts)))
     (status-stores c))
    (sort (filter (lambda (kv) (> (cdr kv) 0)) (hash-map->list cons t))
          (lambda (a b) (or (> (cdr a) (cdr b))
                            (and (= (cdr a) (cdr b)) (string<? (car a) (car b))))))))

(define (report-plots c)
  "The plots of campaign C, as (instar plot) specs, in page order."
  (let ((runs (filter (lambda (r) (pair? (stats-run-lines r))) (latest-runs c)))
        (fuzz (status-fuzz-targets c)))
    `(((id . "rate") (kind . lines) (title . "iterations/s over iterations")
       (xlabel . "iterations done") (ylabel . "iterations/s")
       (series . ,(map (lambda (r) (cons (run-name r) (downsample (rate-series (stats-run-lines r)))))
                       runs)))
      ((id . "findings") (kind . lines) (title . "findings over iterations")
       (xlabel . "iterations done") (ylabel . "distinct findings")
       (series . ,(map (lambda (r)
                         (cons (run-name r)
                               (downsample (map (lambda (l) (cons (or (ref l "done") 0)
                                                                  (or (ref l "findings") 0)))
                                                (stats-run-lines r)))))
                       runs)))
      ((id . "verdicts") (kind . stacked) (title . "verdict mix")
       (ylabel . "iterations") (columns . ,verdict-names) (colors . ,verdict-colors)
       (series . ,(map (lambda (r)
                         (cons (format #f "~a ~a" (basename (stats-run-label r)) (stats-run-shard r))
                               (map cdr (stats-run-verdicts r))))
                       runs)))
      ((id . "whitelist") (kind . bars) (title . "whitelist hits (known and expected refusals)")
       (ylabel . "hits") (series . ,(whitelist-hits c)))
      ((id . "coverage") (kind . lines) (title . "libFuzzer coverage over time") (y-from-zero . #f)
       (xlabel . "seconds") (ylabel . "coverage (cov)")
       (series . ,(map (lambda (f)
                         (cons (fuzz-name f)
                               (downsample (map (lambda (l) (cons (or (ref l "elapsed_s") 0)
                                                                  (or (ref l "cov") 0)))
                                                (fuzz-lines f)))))
                       fuzz)))
      ;; The final line's exec/s is the session's average, not an
      ;; interval's: left out of the curve.
      ((id . "execs") (kind . lines) (title . "libFuzzer exec/s over time")
       (xlabel . "seconds") (ylabel . "exec/s (per status interval)")
       (series . ,(map (lambda (f)
                         (cons (fuzz-name f)
                               (downsample (filter-map (lambda (l)
                                                         (and (not (eq? #t (ref l "final")))
                                                              (cons (or (ref l "elapsed_s") 0)
                                                                    (or (ref l "exec_per_s") 0))))
                                                       (fuzz-lines f)))))
                       fuzz))))))

;;; The page.

(define style "
body { font-family: sans-serif; margin: 1.2em 1.5em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.4em; border-bottom: 1px solid #ccc; }
p.meta { color: #555; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f7f7f7; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #ddd; padding: 4px; background: #fff; }
figcaption { font-size: 12px; color: #555; max-width: 540px; }
td.t { white-space: nowrap; }
code { font-size: 12px; }
.open { color: #b00020; font-weight: bold; }
.flaky { color: #e65100; font-weight: bold; }
.fixed { color: #2e7d32; }
")

(define (num-cell x) `(td (@ (class "n")) ,(if (number? x) (number->string x) (or x "-"))))
(define (rate-cell x) `(td (@ (class "n")) ,(format #f "~,2f" (exact->inexact x))))

(define (status-section c)
  (let* ((rows (status-findings c))
         (open-in (lambda (dir)
                    (count (lambda (f) (and (member (finding-ref f "status") '("open" "flaky"))
                                            (member dir (or (finding-ref f "stores") '()))))
                           rows)))
         (stores (status-stores c))
         (head '(tr (th "output") (th "recipe") (th "shard") (th "done / planned") (th "it/s")
                    (th "match") (th "divergence") (th "known") (th "inconclusive") (th "refused")
                    (th "open findings") (th "state"))))
    `(section
      (h2 "Status")
      ,@(if (null? stores)
            '()
            `((table
               ,head
               ,@(map (lambda (s)
                        (let ((r (store-latest s))
                              (dir (store-dir s)))
                          (if r
                              (let ((v (stats-run-verdicts r)))
                                `(tr (td (code ,(store-label s)))
                                     (td ,(or (stats-run-recipe r) "?")) (td ,(stats-run-shard r))
                                     ,(num-cell (format #f "~a / ~a" (stats-run-done r) (stats-run-planned r)))
                                     ,(rate-cell (stats-run-rate r))
                                     ,@(map (lambda (n) (num-cell (assoc-ref v n))) verdict-names)
                                     ,(num-cell (open-in dir)) (td ,(stats-run-state r))))
                              `(tr (td (code ,(store-label s)))
                                   (td "-") (td "-") (td "-") (td "-") (td "-") (td "-") (td "-")
                                   (td "-") (td "-") ,(num-cell (open-in dir)) (td "findings only")))))
                      stores)
               ,(let* ((t (status-total c)) (v (assoc-ref t "verdicts")))
                  `(tr (@ (class "total"))
                       (td ,(format #f "total (~a run~:p)" (assoc-ref t "runs")))
                       (td ,(let ((rs (assoc-ref t "recipes"))) (if (null? rs) "-" (string-join rs ", "))))
                       (td "")
                       ,(num-cell (format #f "~a / ~a" (assoc-ref t "done") (assoc-ref t "planned")))
                       ,(rate-cell (assoc-ref t "rate"))
                       ,@(map (lambda (n) (num-cell (assoc-ref v n))) verdict-names)
                       ,(num-cell (count (lambda (f) (member (finding-ref f "status") '("open" "flaky")))
                                         rows))
                       (td ""))))))
      ,@(if (null? (status-fuzz-targets c))
            '()
            `((h3 "libFuzzer targets")
              (table
               (tr (th "work directory") (th "target") (th "elapsed") (th "execs") (th "exec/s")
                   (th "avg exec/s") (th "cov") (th "ft") (th "corpus") (th "crashes") (th "state"))
               ,@(map (lambda (f)
                        (let ((l (fuzz-last f)))
                          `(tr (td (code ,(fuzz-label f))) (td ,(fuzz-target f))
                               ,(num-cell (if l (format #f "~as" (ref l "elapsed_s")) "-"))
                               ,@(map (lambda (k) (num-cell (ref l k)))
                                      '("execs" "exec_per_s" "avg_exec_per_s" "cov" "ft" "corpus"
                                        "crashes"))
                               (td ,(fuzz-state f)))))
                      (status-fuzz-targets c))))))))

(define (plot-caption p)
  (match (assq-ref p 'kind)
    ('lines
     (string-join
      (map (lambda (s) (format #f "~a: ~a point~:p" (car s) (length (cdr s))))
           (assq-ref p 'series))
      "; "))
    ('stacked
     (string-join
      (map (lambda (row)
             (format #f "~a: ~a" (car row)
                     (string-join (map (lambda (n v) (format #f "~a ~a" v n))
                                       (assq-ref p 'columns) (cdr row))
                                  ", ")))
           (assq-ref p 'series))
      "; "))
    ('bars
     (string-join (map (lambda (kv) (format #f "~a ~a" (car kv) (cdr kv))) (assq-ref p 'series))
                  ", "))))

(define (plots-section title plots svgs empty-text)
  (let ((drawn (filter-map (lambda (p s) (and s (cons p s))) plots svgs)))
    `(section
      (h2 ,title)
      ,(if (null? drawn)
           `(p ,empty-text)
           `(div (@ (class "plots"))
                 ,@(map (match-lambda
                          ((p . svg)
                           `(figure (@ (id ,(string-append "figure-" (assq-ref p 'id))))
                                    ,svg
                                    (figcaption ,(plot-caption p)))))
                        drawn))))))

(define (short-time t)
  "2026-12-03T11:34:56Z as 2026-12-03 11:34:56 (UTC)."
  (if (string? t)
      (string-trim-right (string-map (lambda (c) (if (char=? c #\T) #\space c)) t) #\Z)
      "-"))

(define (findings-section c)
  (let ((rows (status-findings c)))
    `(section
      (h2 "Findings")
      ,(if (null? rows)
           '(p "No findings.")
           `(table
             (@ (id "findings-table"))
             (tr (th "title") (th "kind") (th "hits") (th "first seen") (th "last seen")
                 (th "status") (th "replay"))
             ,@(map (lambda (f)
                      (let ((st (or (finding-ref f "status") "open"))
                            (store (car (or (finding-ref f "stores") '("instar-out")))))
                        `(tr (td ,(or (finding-ref f "title") "-"))
                             (td ,(or (finding-ref f "kind") "-"))
                             ,(num-cell (finding-ref f "hits"))
                             (td (@ (class "t")) ,(short-time (finding-ref f "first-seen")))
                             (td (@ (class "t")) ,(short-time (finding-ref f "last-seen")))
                             (td (span (@ (class ,st)) ,st))
                             (td (code ,(format #f "instar-fuzz replay ~a --out ~a"
                                                (finding-ref f "id") store))))))
                    rows))))))

(define* (html-report c #:key (title #f) (now (current-time)))
  "Campaign C's report page as sxml (the html element)."
  (let* ((plots (report-plots c))
         (svgs (render-plots plots))
         (pick (lambda (ids)
                 (filter-map (lambda (p s) (and (member (assq-ref p 'id) ids) (cons p s)))
                             plots svgs)))
         (title (or title "instar-fuzz campaign report"))
         (sources (append (map store-label (status-stores c))
                          (map fuzz-label (status-fuzz-targets c)))))
    (define (section name ids empty)
      (let ((ps (pick ids)))
        (plots-section name (map car ps) (map cdr ps) empty)))
    `(html (@ (xmlns "http://www.w3.org/1999/xhtml") (lang "en"))
           (head (meta (@ (charset "utf-8")))
                 (title ,title)
                 (style ,style))
           (body
            (h1 ,title)
            (p (@ (class "meta"))
               ,(format #f "Generated ~a by instar-fuzz ~a from ~a. Plots drawn by ~a."
                        (iso-time now) %instar-version (string-join sources ", ")
                        (or (gnuplot-version) "gnuplot")))
            ,(status-section c)
            ,(section "Iterations" '("rate" "findings")
                      "No iterations recorded (no stats.jsonl lines).")
            ,(section "Verdicts and whitelist" '("verdicts" "whitelist")
                      "No verdicts recorded.")
            ,(section "libFuzzer coverage and speed" '("coverage" "execs")
                      "No libFuzzer work directory given (fuzz-work/TARGET with a stats file).")
            ,(findings-section c)))))

(define* (write-html-report c file #:key (title #f))
  "Write campaign C's report page to FILE (replaced whole, never left half
written)."
  (let* ((page (html-report c #:title title))
         (tmp (string-append file ".tmp")))
    (call-with-output-file tmp
      (lambda (p)
        (display "<!DOCTYPE html>\n" p)
        (sxml->xml page p)
        (newline p)))
    (rename-file tmp file)))
