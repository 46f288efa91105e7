#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A Guile script run as a program: no auto-compilation (the modules are
# compiled by make; Guile would otherwise compile this file and say so).
exec "${GUILE:-guile}" --no-auto-compile -s "$0" "$@"
!#
;;; corpus-diff.scm -- the coverage corpus, judged by qemu-img.
;;;
;;;   guile -s recipes/corpus-diff.scm [--corpus DIR]... [--planner-corpus DIR]...
;;;         [--new-only] [resize-diff's options]
;;;
;;; Every input of a libFuzzer corpus of fuzz_resize_engine (and each raw
;;; input of fuzz_resize_planners) is written out as a real image file
;;; with its resize arguments ((instar corpus)), resized by the engine
;;; under test and by qemu-img, and judged by resize-diff's oracles: exit
;;; class, refused files untouched, normalised info, check, compare and
;;; (raw) the file length.  Start images the reference cannot open or
;;; whose check finds corruption are the "hostile-image" family: both
;;; sides refusing one agree; either side accepting what the other
;;; refuses is a verdict only a rule below can excuse.  Findings go to the
;;; store in --out, replayed first on every run like any recipe's.
;;; Iteration I is the I-th input (inputs sorted by directory, then name).
;;; See corpus-diff in instar-fuzz(1) and the manual's "Judging the
;;; coverage corpus".

(include "load-paths.scm")

(use-modules (ice-9 match) (ice-9 format) (ice-9 threads) (ice-9 rdelim)
             (ice-9 binary-ports) (srfi srfi-1) (json) (instar pickers)
             (instar run) (instar chain) (instar oracles) (instar whitelist)
             (instar corpus) (instar process))

(define name "corpus-diff")

;;; The rules of this recipe: resize-diff's, and the corpus's own.

(define corpus-rules
  `(,(refusal-rule
      "hostile-image"
      "A start image qemu-img cannot open, or whose check finds corruption (errors or corruptions, leaks alone are not): both tools refusing it is agreement.  The refusal must still leave the file byte-identical on both sides (the untouched oracle)."
      "doc/differential.texi (Judging the coverage corpus)")
    (("id" . "corpus-qemu-repairs-hostile")
     ("reason" . "qemu-img opens some images its own check calls corrupt (refcounts that disagree with the tables, overlapping metadata) and resizes them, updating or ignoring the damage; instar plans from the tables it reads and refuses an image whose metadata contradicts itself rather than write through it.  Refusing is the careful side: the image is left byte-identical (checked by the untouched oracle on the engine side when qemu refuses too).")
     ("reference" . "doc/differential.texi (Judging the coverage corpus); doc/fmt-qcow2.texi (Refused, with the image untouched)")
     ("when" . (resize-family "hostile-image"))
     ("explains" . ("exit-class:resize:error/ok")))
    (("id" . "corpus-qemu-trips-on-metadata")
     ("reason" . "qemu-img's overlap check stopped a write qemu itself planned (\"Marking image as corrupt: Preventing invalid write on metadata\"): the image's refcounts call a cluster free that its metadata uses (a bitmap directory, an L1 table), qemu's allocator handed it out, and qemu failed the resize and marked the image corrupt.  The engine allocates past the end of the file, never into such a cluster, and its result passes qemu-img check with no error or corruption (the difference only carries this family when that holds).")
     ("reference" . "doc/differential.texi (Judging the coverage corpus)")
     ("when" . (always))
     ("explains" . ("exit-class:resize:ok/error:qemu-marked-corrupt")))
    (("id" . "corpus-qemu-changes-file-on-refusal")
     ("reason" . "On a damaged image qemu-img writes as it goes and fails part-way (\"Cannot free unaligned cluster\"), or sets the corrupt bit (\"Marking image as corrupt\"), so its file changes although the resize fails; the engine plans everything before writing and its refusal left its file byte-identical (the difference carries this name only then: the engine's own untouched check is never excused).")
     ("reference" . "doc/differential.texi (Judging the coverage corpus)")
     ("when" . (always))
     ("explains" . ("untouched:file-changed-by-qemu-only")))
    (("id" . "corpus-hostile-both-write-through")
     ("reason" . "Both tools resized an image qemu-img check calls corrupt (clusters referenced by the tables whose refcount says free, entries with reserved bits): each allocator hands out clusters the damaged refcounts call free, so each writes new tables over guest data the start image still maps, in its own order.  The results then differ in how many corruptions check counts and in guest data, with no right answer between them.  The engine reads only what its plan touches, so it cannot see every such damage before writing (doc/fmt-qcow2.texi: a damaged image should be repaired with qemu-img check -r all first).")
     ("reference" . "doc/differential.texi (Judging the coverage corpus)")
     ("when" . (resize-family "hostile-image"))
     ("explains" . ("check:*" "data:compare")))
    (("id" . "corpus-hostile-compare-unreadable")
     ("reason" . "qemu-img compare stops at the first damaged table entry it meets, or cannot open the images at all; when qemu-img check cannot open the reference's result or finds it damaged too, the damage is the start image's, and the check oracle compares it on both sides.")
     ("reference" . "doc/differential.texi (Judging the coverage corpus)")
     ("when" . (resize-family "hostile-image"))
     ("explains" . ("data:compare-unreadable")))
    ,(refusal-rule
      "unsupported-subformat"
      "vpc, vhdx, vmdk: differencing images, VMDK other than monolithicSparse, VMDK with a parent or unknown header flags are refused by design; qemu-img opens them read-only (it cannot resize these formats at all)."
      "doc/fmt-vhd.texi, doc/fmt-vhdx.texi, doc/fmt-vmdk.texi (Refused)")
    ,(refusal-rule
      "stricter-than-qemu-reader"
      "vpc, vhdx, vmdk: qemu-img cannot resize these formats; it opens them read-only and checks far less than a writer must (a VMDK geometry line the resize rewrites, grain tables inside the file, grain-directory entries of 0 that qemu would write over the header, VHDX region table checksums).  The engine refuses before writing anything and its file stays byte-identical (the untouched oracle)."
      "doc/differential.texi (Judging the coverage corpus); doc/fmt-vhdx.texi, doc/fmt-vmdk.texi (Refused)")
    ,(refusal-rule
      "file-too-large"
      "Both tools got EFBIG (\"File too large\") from the file system: a raw size past the host's largest file (16 TiB on ext4) is the machine's limit, not a choice of the engine."
      "doc/differential.texi (Judging the coverage corpus)")))

(define rules (append default-rules corpus-rules))

;;; Options of this recipe, taken out before run-recipe sees the rest.

(define (take-corpus-options args)
  "(values ENGINE-DIRS PLANNER-DIRS NEW-ONLY? REST)."
  (let loop ((args args) (e '()) (p '()) (new? #f) (rest '()))
    (define (value flag a more)
      (cond ((string-prefix? (string-append flag "=") a)
             (values (substring a (+ 1 (string-length flag))) more))
            ((pair? more) (values (car more) (cdr more)))
            (else (usage-error name "~a needs a directory" flag))))
    (match args
      (() (values (reverse e) (reverse p) new? (reverse rest)))
      (((? (lambda (a) (or (equal? a "--corpus") (string-prefix? "--corpus=" a))) a) . more)
       (call-with-values (lambda () (value "--corpus" a more))
         (lambda (v more) (loop more (cons v e) p new? rest))))
      (((? (lambda (a) (or (equal? a "--planner-corpus")
                           (string-prefix? "--planner-corpus=" a))) a) . more)
       (call-with-values (lambda () (value "--planner-corpus" a more))
         (lambda (v more) (loop more e (cons v p) new? rest))))
      (("--new-only" . more) (loop more e p #t rest))
      ((a . more) (loop more e p new? (cons a rest))))))

(define (option-value args long short)
  "The value of --LONG (or -SHORT) in ARGS as getopt-long reads it, or #f."
  (let loop ((args args) (v #f))
    (match args
      (() v)
      ((a . more)
       (cond ((string-prefix? (string-append "--" long "=") a)
              (loop more (substring a (+ 3 (string-length long)))))
             ((and (or (equal? a (string-append "--" long)) (and short (equal? a short)))
                   (pair? more))
              (loop (cdr more) (car more)))
             (else (loop more v)))))))

(define-values (engine-dirs planner-dirs new-only? recipe-args)
  (take-corpus-options (cdr (command-line))))

(define here (dirname (canonicalize-path (or (current-filename) (car (command-line))))))

(define (default-corpus target)
  ;; Source tree: recipes/../corpus/TARGET; installed: recipes/../corpus/TARGET too.
  (string-append (dirname here) "/corpus/" target))

(define dirs
  (if (and (null? engine-dirs) (null? planner-dirs))
      (filter (lambda (d) (file-exists? (cdr d)))
              (list (cons "fuzz_resize_engine" (default-corpus "fuzz_resize_engine"))
                    (cons "fuzz_resize_planners" (default-corpus "fuzz_resize_planners"))))
      (append (map (lambda (d) (cons "fuzz_resize_engine" d)) engine-dirs)
              (map (lambda (d) (cons "fuzz_resize_planners" d)) planner-dirs))))

(for-each (lambda (d)
            (unless (and (file-exists? (cdr d)) (file-is-directory? (cdr d)))
              (usage-error name "corpus ~a: not a directory" (cdr d))))
          dirs)

(define out (or (option-value recipe-args "out" "-o") "instar-out"))
(define judged-file (string-append out "/corpus-judged"))

(define (read-judged)
  "The input ids judged by earlier runs (first word of each line)."
  (if (file-exists? judged-file)
      (call-with-input-file judged-file
        (lambda (p)
          (let loop ((acc '()))
            (let ((line (read-line p)))
              (if (eof-object? line)
                  acc
                  (loop (let ((w (string-tokenize line)))
                          (if (pair? w) (cons (car w) acc) acc))))))))
      '()))

(define inputs
  ;; (TARGET . FILE) in order; with --new-only, those not judged before.
  (let ((all (append-map (lambda (d) (map (lambda (f) (cons (car d) f)) (corpus-files (cdr d))))
                         dirs)))
    (if new-only?
        (let ((seen (read-judged)))
          (filter (lambda (tf)
                    (not (member (corpus-input-id
                                  (call-with-input-file (cdr tf) get-bytevector-all #:binary #t))
                                 seen)))
                  all))
        all)))

(define inputs-vector (list->vector inputs))

(define qemu-img
  (or (option-value recipe-args "qemu-img" #f) (getenv "QEMU_IMG") "qemu-img"))
(define tmpdir (or (option-value recipe-args "tmpdir" #f) (getenv "TMPDIR") "/tmp"))
(define timeout (or (and=> (option-value recipe-args "timeout" #f) string->number) 120))

(define formats
  ;; --formats LIST: the formats judged (the others are counted as not run).
  (let ((v (option-value recipe-args "formats" #f)))
    (and v (string-split v #\,))))

(define (pick-input i)
  (let* ((tf (vector-ref inputs-vector i))
         (case (corpus-case (cdr tf) (car tf) #:qemu-img qemu-img #:tmpdir tmpdir
                            #:timeout timeout))
         (fmt (assoc-ref case "format")))
    (if (and formats (not (assoc-ref case "skip")) (not (member fmt formats)))
        (append case `(("skip" . ,(format #f "a ~a image (not in --formats)" fmt))
                       ("skip-by-option" . #t)))
        case)))

;;; Formats qemu-img 7.2 cannot resize (vpc, vhdx, vmdk): only the engine
;;; resizes, and qemu-img reads its result as resize-consistency's
;;; oracles do, against the untouched start image on the reference side.

(define (mk oracle field got want . family)
  `(("op" . "resize") ("oracle" . ,oracle) ("field" . ,field)
    ("engine" . ,(format #f "~a" got)) ("reference" . ,(format #f "~a" want))
    ,@(if (and (pair? family) (car family)) `(("family" . ,(car family))) '())))

(define (parse-json s) (false-if-exception (json-string->scm s)))

(define (judge-engine-only case trace)
  "(values VERDICT DIFFS REASON) for a case only the engine resized:
exit class against the family's expectation, a refusal untouched and
judged by family, else the size qemu-img reads, a check no worse than the
start image's, and (on a grow) the guest data the start image had with
zeros after it (qemu-img compare, which wants the longer image's tail to
read as zeros)."
  (define (res n s) (trace-result trace n s))
  (let* ((r0 (vector-ref (assoc-ref case "resizes") 0))
         (family (assoc-ref r0 "family"))
         (expect (assoc-ref r0 "expect"))
         (fmt (assoc-ref case "format"))
         (start (or (string->number (assoc-ref case "size")) 0))
         (end (spec-end start (assoc-ref r0 "spec")))
         (e (res "resize" "engine")))
    (cond
     ((trace-tool-failed? trace)
      (values 'inconclusive '() "timeout or tool failure"))
     ((not (and (res "create" "reference") (result-ok? (res "create" "reference"))
                (res "copy" "engine") (result-ok? (res "copy" "engine")) e))
      (values 'inconclusive '() "the start image could not be written"))
     ((eq? (result-class e) 'signal)
      (values 'divergence (list (mk "exit-class" "resize" "crash" "ok")) #f))
     ((and (result-ok? e) (equal? expect "refuse"))
      (values 'divergence (list (mk "exit-class" "resize" "ok" "error" family)) #f))
     ((not (result-ok? e))
      (if (equal? (res "resize:before" "engine") (res "resize:after" "engine"))
          (values 'divergence (refusal-diffs "resize" "resize" family expect) #f)
          (values 'divergence (list (mk "untouched" "file" "changed" "unchanged")) #f)))
     (else
      (let* ((info (and (result-ok? (res "info" "engine"))
                        (parse-json (result-stdout (res "info" "engine")))))
             (vsize (and info (assoc-ref info "virtual-size")))
             (want (* 512 (quotient (+ end 511) 512)))
             (ce (and (res "check" "engine") (parse-json (result-stdout (res "check" "engine")))))
             (cr (and (res "check" "reference") (parse-json (result-stdout (res "check" "reference")))))
             (count (lambda (j k) (or (and j (assoc-ref j k)) 0)))
             (c (res "compare" "both"))
             (diffs
              (append
               (cond ((not vsize) (list (mk "info" "open" "error" "ok")))
                     ((virtual-size-as-created? fmt vsize want) '())
                     (else (list (mk "size" "virtual-size" vsize want))))
               (if (and (res "check" "engine")
                        (not (string-contains (result-stderr (res "check" "engine"))
                                              "does not support checks"))
                        (or (not ce)
                            (> (+ (count ce "check-errors") (count ce "corruptions")) 0)
                            (> (count ce "leaks") (count cr "leaks"))))
                   (list (mk "check" "clean" (if ce "errors" "failed") "clean"))
                   '())
               (if (and c vsize (>= end start) (not (result-ok? c)))
                   (list (mk "data" "compare" (if (eqv? (result-status c) 1) "differ" "error")
                             "same"))
                   '()))))
        (if (null? diffs) (values 'match '() #f) (values 'divergence diffs #f)))))))

;;; What the reference said, folded into the differences.  Some
;;; differences are qemu-img's own doing on a damaged image; they are
;;; renamed here from facts in the trace (never from the case alone), so
;;; the rules below can excuse exactly them and nothing that looks alike:
;;;   exit-class ok/error, family qemu-marked-corrupt
;;;       qemu-img stopped with "Marking image as corrupt" (its overlap
;;;       check caught a write it planned itself) while the engine resized
;;;       and its result's check finds no error or corruption;
;;;   untouched:file-changed-by-qemu-only
;;;       both refused, the engine's file is byte-identical and qemu's
;;;       changed (qemu writes as it goes and stops at the damage, or
;;;       marks the image corrupt);
;;;   data:compare-unreadable
;;;       qemu-img compare could not read the images (status 2+) and
;;;       qemu-img check cannot open the reference's result or finds it
;;;       damaged too: the start image's damage, which the check oracle
;;;       compares;
;;;   refusal:unsupported-subformat, refusal:stricter-than-qemu-reader
;;;       vpc, vhdx, vmdk (qemu-img only reads them): the engine refused
;;;       an image qemu opens and checks, as an unsupported subformat, or
;;;       as malformed (or needing a repair) by the stricter validation a
;;;       writer needs;
;;;   refusal:file-too-large
;;;       both refused with the file system's EFBIG ("File too large"): the
;;;       host's largest file, not the engine's choice.

(define (said? r text)
  (and r (result? r)
       (or (string-contains (result-stderr r) text) (string-contains (result-stdout r) text))))

(define (check-damage r)
  "Errors plus corruptions of a `qemu-img check' result, or #f."
  (let ((j (and r (result? r) (parse-json (result-stdout r)))))
    (and j (pair? j) (+ (or (assoc-ref j "check-errors") 0) (or (assoc-ref j "corruptions") 0)))))

(define stricter-checks
  ;; The engine's refusals of vpc/vhdx/vmdk images qemu only reads, each
  ;; a check a writer needs that qemu's read-only open skips (seen in
  ;; fuzz-diff runs; any other refusal of such an image stays a finding).
  '("descriptor geometry line is malformed"      ; vmdk: the resize rewrites it
    "a grain table lies outside the file"        ; vmdk: GTs are read and extended
    "a grain-directory entry is 0"               ; vmdk: qemu would write over the header
    "descriptor and grain directories overlap"   ; vmdk
    "region table CRC-32C mismatch"))            ; vhdx: the region table is rewritten

(define (refine-diffs trace diffs)
  (define (res n s) (trace-result trace n s))
  (define (set-field d k v) (cons (cons k v) (alist-delete k d)))
  (map (lambda (d)
         (let ((oracle (assoc-ref d "oracle")) (field (assoc-ref d "field")))
           (cond
            ((and (equal? oracle "exit-class") (equal? field "resize")
                  (equal? (assoc-ref d "engine") "ok") (equal? (assoc-ref d "reference") "error")
                  (not (assoc-ref d "family"))
                  (said? (res "resize" "reference") "Marking image as corrupt")
                  (eqv? 0 (check-damage (res "check" "engine"))))
             (set-field d "family" "qemu-marked-corrupt"))
            ((and (equal? oracle "untouched") (equal? field "file")
                  (equal? (assoc-ref d "engine") "unchanged")
                  (equal? (assoc-ref d "reference") "changed"))
             (set-field d "field" "file-changed-by-qemu-only"))
            ((and (equal? oracle "data") (equal? field "compare")
                  (equal? (assoc-ref d "engine") "error")
                  (res "check" "reference")
                  (let ((r (check-damage (res "check" "reference"))))
                    (or (not r) (> r 0))))
             (set-field d "field" "compare-unreadable"))
            ((and (equal? oracle "refusal") (equal? field "supported")
                  (not (res "resize" "reference"))
                  (or (said? (res "resize" "engine") "unsupported-subformat")
                      (said? (res "resize" "engine") "not supported")))
             (set-field d "field" "unsupported-subformat"))
            ((and (equal? oracle "refusal") (equal? field "supported")
                  (not (res "resize" "reference"))
                  (any (lambda (t) (said? (res "resize" "engine") t)) stricter-checks))
             (set-field d "field" "stricter-than-qemu-reader"))
            ((and (equal? oracle "refusal")
                  (said? (res "resize" "engine") "File too large")
                  (said? (res "resize" "reference") "File too large"))
             (set-field d "field" "file-too-large"))
            (else d))))
       diffs))

;;; The judged list: one line per input once its case is judged (a
;;; timeout is not a judgement: the input is tried again next time).

(define judged-mutex (make-mutex))

(define (note-judged! case verdict)
  (with-mutex judged-mutex
    (let ((p (open-file judged-file "a")))
      (format p "~a ~a ~a~%" (assoc-ref case "input") verdict
              (basename (or (assoc-ref case "input-file") "?")))
      (close-port p))))

(define (execute case ctx)
  "A corpus case: skipped with its reason, or its chain run and judged."
  (call-with-values
      (lambda ()
        (match (assoc-ref case "skip")
          ((? string? why) (values 'inconclusive '() (string-append "not run: " why) '() #f))
          (_
           (let* ((chain (corpus-case->chain case))
                  (trace (run-chain chain (context-engine ctx)
                                    #:qemu-img (context-qemu-img ctx)
                                    #:qemu-io (context-qemu-io ctx)
                                    #:timeout (context-timeout ctx)
                                    #:tmpdir (context-tmpdir ctx))))
             (call-with-values (lambda ()
                                 (if (reference-resizes? (assoc-ref case "format"))
                                     (judge case chain trace)
                                     (judge-engine-only case trace)))
               (lambda (verdict diffs reason)
                 (values verdict (refine-diffs trace diffs) reason chain trace)))))))
    (lambda (verdict diffs reason chain trace)
      ;; A timeout, or an input left out by --formats, is no judgement.
      (unless (or (and (eq? verdict 'inconclusive) (not (assoc-ref case "skip")))
                  (assoc-ref case "skip-by-option"))
        (note-judged! case verdict))
      (values verdict diffs reason chain trace))))

(define help "\
usage: guile -s corpus-diff.scm [OPTIONS]

The coverage corpus judged by qemu-img: each libFuzzer input written out as
an image plus its resize, run on the engine under test and on qemu-img,
judged by resize-diff's oracles.  Iteration I is the I-th input.

  --corpus DIR          fuzz_resize_engine inputs (repeatable)
  --planner-corpus DIR  fuzz_resize_planners inputs (repeatable; the raw
                        target's inputs are images, the others are counted
                        as not run)
                        (neither: the corpus/ directories of the tree)
  --new-only            only inputs not judged before (OUT/corpus-judged)
  --formats LIST        judge only start images of these formats (raw,
                        qcow2, vpc, vhdx, vmdk; the format qemu-img reads)
  --iterations N        at most N inputs (default: all)
  --out DIR, --instar PATH, --qemu-img PATH, --qemu-io PATH, --jobs N,
  --shard K/N, --timeout S, --replay SIG, --junit FILE, --tmpdir DIR, -q
                        as in resize-diff(1) (--seed only labels the run;
                        findings are not reduced: the input is the case)
")

(define (without-option args long)
  (let loop ((as args) (acc '()))
    (match as
      (() (reverse acc))
      (((? (lambda (a) (equal? a (string-append "--" long)))) _ . more) (loop more acc))
      ((a . more) (if (string-prefix? (string-append "--" long "=") a)
                      (loop more acc)
                      (loop more (cons a acc)))))))

(define (with-iterations args)
  "ARGS with --iterations N capped at the number of inputs (all by
default), and --reduce-time 0: a corpus case's start image is its data,
which resize-diff's case variants (smaller start size, fewer options)
would only relabel, so a finding keeps the input as found (libFuzzer's
-minimize_crash is the tool to shrink an input)."
  (let ((n (vector-length inputs-vector))
        (given (and=> (option-value args "iterations" #f) string->number)))
    (append (without-option (without-option args "iterations") "reduce-time")
            (list "--reduce-time" "0"
                  "--iterations" (number->string (if (and given (exact-integer? given) (>= given 0))
                                                     (min given n) n))))))

(unless (member "--help" recipe-args)
  (unless (option-value recipe-args "seed" #f)
    (set! recipe-args (append recipe-args '("--seed" "0")))))

(run-recipe name (if (or (member "--help" recipe-args) (member "-h" recipe-args))
                     recipe-args
                     (with-iterations recipe-args))
            #:execute execute
            #:rules rules
            #:pick-with (lambda (ops formats) (lambda (rng) (error "corpus-diff draws no case")))
            #:pick-index pick-input
            #:default-ops '("corpus")
            #:default-formats '("raw" "qcow2" "vpc" "vhdx" "vmdk")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help)
