;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar plot) -- plots as inline SVG, drawn by gnuplot.
;;;
;;; gnuplot (Debian gnuplot-nox) draws every plot of a report in one run
;;; of its SVG terminal: the data go to files in a private temporary
;;; directory, the script names them, gnuplot is started with an argument
;;; list (never a shell), and each SVG it writes is read back with (sxml
;;; simple), its ids prefixed by the plot's id (one page holds many
;;; plots, and gnuplot names its markers the same in each), ready to be
;;; put inside an XHTML page.  No script, no font or style sheet is
;;; referenced: the page stays viewable offline.
;;;
;;; A plot is an alist:
;;;   id       a name for the page ("findings"), [a-z0-9-] only
;;;   kind     lines   series of (X . Y) points, one line with a marker per
;;;                    point (gnuplot's group "ID-gnuplot_plot_N" holds
;;;                    series N: its title, then one <use> per point and
;;;                    one for the key's sample)
;;;            stacked one bar per category, stacked by column
;;;            bars    one bar per (LABEL . VALUE)
;;;   title, xlabel, ylabel
;;;   y-from-zero  #f: the y axis fits the data (default: it starts at 0)
;;;   series   lines: ((LABEL (X . Y) ...) ...);
;;;            stacked: ((CATEGORY V1 V2 ...) ...), with columns (NAMES...)
;;;            and colors (optional, "#rrggbb" per column);
;;;            bars: ((LABEL . VALUE) ...)

(define-module (instar plot)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 textual-ports)
  #:use-module (sxml simple)
  #:use-module (instar process)
  #:export (render-plots
            gnuplot-program
            gnuplot-version
            downsample))

(define svg-ns "http://www.w3.org/2000/svg")
(define xlink-ns "http://www.w3.org/1999/xlink")

(define (gnuplot-program)
  "The gnuplot to run: $GNUPLOT, else gnuplot on PATH; #f when none."
  (let ((p (or (getenv "GNUPLOT") "gnuplot")))
    (if (string-index p #\/)
        (and (file-exists? p) (access? p X_OK) p)
        (search-path (parse-path (or (getenv "PATH") "")) p))))

(define (report-error fmt . args)
  (throw 'instar-report-error (apply format #f fmt args)))

(define (gnuplot-version)
  "gnuplot's version line (\"gnuplot 5.4 patchlevel 4\"), or #f."
  (let ((g (gnuplot-program)))
    (and g
         (let ((r (run-command (list g "--version") #:timeout 20)))
           (and (result-ok? r) (string-trim-both (result-stdout r)))))))

(define* (downsample points #:key (limit 400))
  "At most LIMIT of POINTS, evenly spaced, the first and the last kept:
a million-iteration series is drawn from 400 points."
  (let ((n (length points)))
    (if (<= n limit)
        points
        (let ((v (list->vector points)))
          (delete-duplicates
           (map (lambda (i) (vector-ref v (inexact->exact (round (/ (* i (- n 1)) (- limit 1))))))
                (iota limit))
           eq?)))))

;;; The script.

(define (quote-string s)
  "S as a gnuplot double-quoted string."
  (string-append
   "\""
   (string-concatenate
    (map (lambda (c)
           (case c
             ((#\" #\\) (string #\\ c))
             ((#\newline) " ")
             (else (string c))))
         (string->list s)))
   "\""))

(define (num x)
  (cond ((and (exact? x) (integer? x)) (number->string x))
        ((real? x) (format #f "~,6f" (exact->inexact x)))
        (else "0")))

(define (write-lines file lines)
  (call-with-output-file file
    (lambda (p) (for-each (lambda (l) (display l p) (newline p)) lines))))

(define (spec k plot) (assq-ref plot k))

(define palette
  '("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b" "#e377c2" "#17becf"
    "#7f7f7f" "#bcbd22"))

(define (color i) (list-ref palette (modulo i (length palette))))

(define (plot-script plot dir i)
  "The gnuplot commands for PLOT (its data written to DIR), or #f when it
has nothing to draw."
  (let* ((stem (format #f "~a/p~a" dir i))
         (head (list (format #f "set output ~a" (quote-string (string-append stem ".svg")))
                     (format #f "set title ~a" (quote-string (or (spec 'title plot) "")))
                     (format #f "set xlabel ~a" (quote-string (or (spec 'xlabel plot) "")))
                     (format #f "set ylabel ~a" (quote-string (or (spec 'ylabel plot) "")))
                     "set grid lc rgb \"#dddddd\""
                     "set border lc rgb \"#555555\"")))
    (match (spec 'kind plot)
      ('lines
       (let ((series (filter (lambda (s) (pair? (cdr s))) (spec 'series plot))))
         (and (pair? series)
              (append
               head
               (list "set key below"
                     (if (eq? (spec 'y-from-zero plot) #f) "set yrange [*:*]" "set yrange [0:*]")
                     (string-append
                      "plot "
                      (string-join
                       (map (lambda (s k)
                              (let ((f (format #f "~a-s~a.dat" stem k)))
                                (write-lines f (map (lambda (p) (string-append (num (car p)) " " (num (cdr p))))
                                                    (cdr s)))
                                (format #f "~a using 1:2 with linespoints pt 7 ps 0.45 lw 1.5 lc rgb ~a title ~a"
                                        (quote-string f) (quote-string (color k)) (quote-string (car s)))))
                            series (iota (length series)))
                       ", ")))
               (list "reset")))))
      ('stacked
       (let ((rows (spec 'series plot)) (cols (spec 'columns plot))
             (colors (or (spec 'colors plot) palette)))
         (and (pair? rows)
              (let ((f (string-append stem ".dat")))
                (write-lines f (map (lambda (r)
                                      (string-join (cons (quote-string (car r)) (map num (cdr r))) " "))
                                    rows))
                (append
                 head
                 (list "set style data histograms"
                       "set style histogram rowstacked"
                       "set style fill solid 0.85 border lc rgb \"#333333\""
                       "set boxwidth 0.6"
                       "set key outside right top"
                       "set yrange [0:*]"
                       "set xtics nomirror"
                       (string-append
                        "plot "
                        (string-join
                         (map (lambda (name k)
                                (format #f "~a using ~a~a lc rgb ~a title ~a"
                                        (if (= k 0) (quote-string f) "\"\"")
                                        (+ k 2) (if (= k 0) ":xtic(1)" "")
                                        (quote-string (list-ref colors (modulo k (length colors))))
                                        (quote-string name)))
                              cols (iota (length cols)))
                         ", "))
                       "reset"))))))
      ('bars
       (let ((rows (spec 'series plot)))
         (and (pair? rows)
              (let ((f (string-append stem ".dat")))
                (write-lines f (map (lambda (r) (string-append (quote-string (car r)) " " (num (cdr r))))
                                    rows))
                (append
                 head
                 (list "set style data histograms"
                       "set style histogram clustered"
                       "set style fill solid 0.85 border lc rgb \"#333333\""
                       "set boxwidth 0.7"
                       "set key off"
                       "set yrange [0:*]"
                       "set bmargin 9"
                       "set xtics nomirror rotate by -35 left"
                       (format #f "plot ~a using 2:xtic(1) lc rgb \"#1f77b4\" title ~a"
                               (quote-string f) (quote-string (or (spec 'ylabel plot) "")))
                       "reset"))))))
      (other (error "unknown plot kind" other)))))

;;; Reading gnuplot's SVG back.

(define (series-labels plot)
  "The titles of PLOT's series, in gnuplot's order."
  (match (spec 'kind plot)
    ('lines (map car (filter (lambda (s) (pair? (cdr s))) (spec 'series plot))))
    ('stacked (spec 'columns plot))
    ('bars (list (or (spec 'ylabel plot) "")))))

(define (prefix-ids tree prefix labels)
  "TREE (sxml read with svg: and xlink: prefixes) with element names
unprefixed, ids and references to them prefixed by PREFIX, and the title
of gnuplot's group of series N (\"gnuplot_plot_N\") the Nth of LABELS
(without enhanced text, gnuplot titles it by its id)."
  (define (fix-value name v)
    (cond ((eq? name 'id) (string-append prefix "-" v))
          ((and (eq? name 'xlink:href) (string-prefix? "#" v))
           (string-append "#" prefix "-" (substring v 1)))
          ((string-contains v "url(#")
           (string-join (string-split v #\#) (string-append "#" prefix "-")))
          (else v)))
  (define (walk node)
    (match node
      (((? symbol? tag) . body)
       (let* ((s (symbol->string tag))
              (name (if (string-prefix? "svg:" s) (string->symbol (substring s 4)) tag)))
         (define series-label
           (match body
             ((('@ . attrs) . _)
              (match (assq 'id attrs)
                ((_ (? (lambda (v) (string-prefix? "gnuplot_plot_" v)) v))
                 (let ((n (string->number (substring v (string-length "gnuplot_plot_")))))
                   (and n (<= 1 n (length labels)) (list-ref labels (- n 1)))))
                (_ #f)))
             (_ #f)))
         (cons name
               (map (lambda (b)
                      (match b
                        (('svg:title . _) (if series-label `(title ,series-label) (walk b)))
                        (_ (walk-child b))))
                    body))))
      ((? string? s) s)
      (_ node)))
  (define (walk-child b)
    (match b
      (('@ . attrs)
       (cons '@ (map (match-lambda
                       ((k v) (list k (fix-value k v)))
                       (other other))
                     attrs)))
      (_ (walk b))))
  (walk tree))

(define (read-svg file prefix title labels)
  (let* ((doc (call-with-input-file file
                (lambda (p) (xml->sxml p #:namespaces `((svg . ,svg-ns) (xlink . ,xlink-ns))
                                       #:trim-whitespace? #t))))
         (root (find (lambda (n) (and (pair? n) (eq? (car n) 'svg:svg))) (cdr doc))))
    (unless root (report-error "gnuplot wrote no SVG to ~a" file))
    (match (prefix-ids root prefix labels)
      (('svg ('@ . attrs) . body)
       `(svg (@ (xmlns ,svg-ns) (xmlns:xlink ,xlink-ns) (id ,prefix) (class "plot") ,@attrs)
             ;; The root's title is the plot's, not "Gnuplot".
             ,@(map (lambda (b) (match b (('title . _) `(title ,title)) (_ b))) body))))))

(define* (render-plots plots #:key (width 540) (height 320) (timeout 120))
  "Draw PLOTS (see the module's header) with one gnuplot run; returns one
SVG element (sxml) per plot, or #f for a plot with nothing to draw.
Throws 'instar-report-error when gnuplot is missing or fails."
  (let ((g (or (gnuplot-program)
               (report-error "gnuplot not found (install gnuplot-nox, or set GNUPLOT)")))
        (dir (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-plot.")))
    (dynamic-wind
      (const #t)
      (lambda ()
        (let* ((scripts (map (lambda (p i) (plot-script p dir i)) plots (iota (length plots))))
               (file (string-append dir "/plots.gp")))
          (write-lines file
                       (cons (format #f "set terminal svg size ~a,~a noenhanced font \"sans,10\" background \"#ffffff\""
                                     width height)
                             (append-map (lambda (s) (or s '())) scripts)))
          (when (any identity scripts)
            (let ((r (run-command (list g file) #:timeout timeout)))
              (unless (result-ok? r)
                (report-error "gnuplot failed (~a): ~a" (result-class r)
                              (string-trim-both (result-stderr r))))))
          (map (lambda (p s i)
                 (and s (read-svg (format #f "~a/p~a.svg" dir i) (spec 'id p) (or (spec 'title p) "")
                                  (series-labels p))))
               plots scripts (iota (length plots)))))
      (lambda () (delete-tree dir)))))
