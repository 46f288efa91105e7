;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar store) -- the findings database: one layout, one ID scheme and
;;; one finding.json schema for every kind of finding.
;;;
;;; OUT/findings/ID/ holds one finding, ID being the xxh3-128 (32 hex
;;; digits) of its canonical signature: a differential shape
;;; ("op=resize|info:virtual-size"), or "fuzz:TARGET:" plus the libFuzzer
;;; signature line.  finding.json (schema 2) always has
;;;   id, kind        divergence | consistency | crash | invariant |
;;;                   timeout | leak | oom
;;;   title           readable, syzkaller style ("qcow2 shrink: check.leaks
;;;                   differs", "fuzz_resize_planners: invariant 3 (...) in
;;;                   qcow2 grow")
;;;   first-seen, last-seen (ISO 8601, UTC), hits, status (open | fixed |
;;;   flaky), engine (name, kind, absolute program and its content hash,
;;;   or "in-process" and the library version), reference-version,
;;;   last-replay (when, engine, failures out of tries)
;;; and then what its kind needs to replay it (a case and chain, or a fuzz
;;; input).  hits/NAME.json is one file per distinct hit (seed-iteration,
;;; or a libFuzzer artifact named by its content), so the hit count is the
;;; number of files and a merge never counts one hit twice.  Stores
;;; written before schema 2 are read as they are: their missing fields are
;;; derived (kind from the recipe, status open, times from the hits).

(define-module (instar store)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 textual-ports)
  #:use-module (rnrs bytevectors)
  #:use-module (json)
  #:use-module (instar config)
  #:use-module (instar process)
  #:use-module (instar engine)
  #:use-module (instar findings)
  #:export (replay-count
            file-content-hash
            engine-identity
            engine-from-identity
            tool-version
            recipe-kind
            read-finding
            finding-ref
            update-finding!
            refresh-finding!
            note-seen!
            note-replay!
            replay-status
            combine-status
            list-store
            find-finding
            merge-stores!
            fuzz-finding-id
            fuzz-title
            fuzz-kind
            import-fuzz-findings!
            append-stats!))

(define replay-count
  ;; How often a stored finding is replayed before it is called fixed.
  3)

;;; Identities.

(define (file-content-hash file)
  "\"xxh3-128:HEX\" of FILE's bytes, or #f when it cannot be read."
  (false-if-exception
   (let ((bv (call-with-input-file file get-bytevector-all #:binary #t)))
     (string-append "xxh3-128:" (xxh3-128-hex (if (eof-object? bv) #vu8() bv))))))

(define (engine-identity engine)
  "What finding.json and summary.json record of ENGINE: an external
program by absolute file name and content hash (a rebuilt binary is
another engine), the in-process engine by the library version."
  (match (engine-kind engine)
    ('external
     (let* ((p (engine-program engine))
            (abs (if (and (string-index p #\/) (file-exists? p)) (canonicalize-path p) p)))
       `(("name" . ,(engine-name engine))
         ("kind" . "external")
         ("program" . ,abs)
         ("hash" . ,(or (file-content-hash abs) 'null)))))
    ('in-process
     `(("name" . "in-process")
       ("kind" . "in-process")
       ("program" . ,(or (engine-program engine) 'null))
       ("library-version" . ,%instar-version)))))

(define* (engine-from-identity id #:key (in-process #f))
  "An engine record for a finding's recorded engine ID (an alist), or #f
when it cannot be made (the program is gone).  IN-PROCESS: a thunk making
the in-process engine, for findings recorded in-process."
  (let ((kind (and (pair? id) (assoc-ref id "kind")))
        (program (and (pair? id) (assoc-ref id "program"))))
    (cond
     ((equal? kind "external")
      (and (string? program) (file-exists? program) (access? program X_OK)
           (make-external-engine (or (assoc-ref id "name") (basename program)) program)))
     ((equal? kind "in-process") (and in-process (in-process)))
     (else #f))))

(define version-cache (make-hash-table))

(define* (tool-version program #:key (timeout 20))
  "The first line PROGRAM --version prints (e.g. \"qemu-img version
7.2.19 (Debian ...)\"), or \"unknown\"."
  (or (hash-ref version-cache program)
      (let* ((r (run-command (list program "--version") #:timeout timeout))
             (line (and (result-ok? r)
                        (let ((ls (string-split (string-trim-both (result-stdout r)) #\newline)))
                          (and (pair? ls) (not (string-null? (car ls))) (car ls)))))
             (v (or line "unknown")))
        (hash-set! version-cache program v)
        v)))

;;; Kinds (titles of differential findings: `finding-title', (instar findings)).

(define (recipe-kind recipe)
  "The finding kind a recipe's findings have."
  (if (equal? recipe "resize-consistency") "consistency" "divergence"))

;;; Reading and updating a finding.

(define (hit-times out id)
  (let ((dir (string-append (finding-directory out id) "/hits")))
    (filter-map (lambda (f)
                  (false-if-exception
                   (let ((t (assoc-ref (read-json-file (string-append dir "/" f)) "time")))
                     (and (string? t) t))))
                (or (scandir dir (lambda (f) (string-suffix? ".json" f))) '()))))

(define (finding-ref f key)
  "KEY of finding alist F, or #f (json null reads as #f)."
  (let ((v (assoc-ref f key))) (if (eq? v 'null) #f v)))

(define (read-finding out id)
  "finding.json of ID under OUT as an alist with every schema-2 field
present (older stores' missing fields derived), hits from the hits/ files;
#f when there is no such finding."
  (let ((file (string-append (finding-directory out id) "/finding.json")))
    (and (file-exists? file)
         (let ((f (false-if-exception (read-json-file file))))
           (unless (pair? f)
             (format (current-error-port) "instar-fuzz: ~a: not a finding (unreadable JSON); skipped~%"
                     file))
           (pair? f))
         (let* ((f (read-json-file file))
                (times (sort (hit-times out id) string<?))
                (mtime (iso-time (stat:mtime (stat file))))
                (defaults
                  `(("schema" . 2)
                    ("id" . ,id)
                    ("kind" . ,(recipe-kind (finding-ref f "recipe")))
                    ("title" . ,(or (finding-ref f "shape") id))
                    ("status" . "open")
                    ("first-seen" . ,(if (pair? times) (car times) mtime))
                    ("last-seen" . ,(if (pair? times) (last times) mtime)))))
           (append
            (filter (lambda (kv) (not (finding-ref f (car kv)))) defaults)
            (map (lambda (kv)
                   (if (equal? (car kv) "hits")
                       (cons "hits" (finding-hit-count out id))
                       kv))
                 (if (assoc "hits" f) f (append f `(("hits" . 0))))))))))

(define (set-key f key value)
  (if (assoc key f)
      (map (lambda (kv) (if (equal? (car kv) key) (cons key value) kv)) f)
      (append f (list (cons key value)))))

(define (update-finding! out id proc)
  "Rewrite ID's finding.json with (PROC FINDING) (FINDING as `read-finding'
gives it); returns the new alist."
  (let ((f (proc (read-finding out id))))
    (write-json-file (string-append (finding-directory out id) "/finding.json") f)
    f))

(define (refresh-finding! out id)
  "Bring ID's stored hits and last-seen up to date with its hits/ files;
a fixed finding that was hit again is open again (a regression)."
  (let ((times (sort (hit-times out id) string<?)))
    (update-finding!
     out id
     (lambda (f)
       (let* ((f (set-key f "hits" (finding-hit-count out id)))
              (f (if (and (pair? times) (string<? (finding-ref f "last-seen") (last times)))
                     (set-key f "last-seen" (last times))
                     f)))
         (if (and (pair? times) (equal? (finding-ref f "status") "fixed")
                  (string<? (or (finding-ref (or (finding-ref f "last-replay") '()) "time") "")
                            (last times)))
             (set-key f "status" "open")
             f))))))

(define* (note-seen! out id #:key (time (current-time)))
  "ID was hit again now: its hits and last-seen brought up to date, and a
fixed finding is open again (the bug came back)."
  (refresh-finding! out id)
  (update-finding!
   out id
   (lambda (f)
     (let ((f (set-key f "last-seen" (iso-time time))))
       (if (equal? (finding-ref f "status") "fixed") (set-key f "status" "open") f)))))

(define (replay-status failures tries)
  "open when every replay failed, fixed when none did, else flaky."
  (cond ((= failures tries) "open")
        ((zero? failures) "fixed")
        (else "flaky")))

(define* (note-replay! out id #:key failures tries engine (time (current-time)))
  "Record a replay of ID: FAILURES of TRIES replays still showed it, on
ENGINE (an identity alist).  Sets the status by `replay-status' and, when
it failed, last-seen."
  (update-finding!
   out id
   (lambda (f)
     (let* ((f (set-key f "status" (replay-status failures tries)))
            (f (set-key f "last-replay" `(("time" . ,(iso-time time))
                                          ("failures" . ,failures)
                                          ("tries" . ,tries)
                                          ("engine" . ,(or engine 'null))))))
       (if (> failures 0) (set-key f "last-seen" (iso-time time)) f)))))

(define (combine-status a b)
  "The status of a finding merged from two stores: open if either is,
else flaky if either is, else fixed.  A store can only make a merged
finding worse, never green."
  (cond ((or (equal? a "open") (equal? b "open")) "open")
        ((or (equal? a "flaky") (equal? b "flaky")) "flaky")
        (else "fixed")))

;;; Many stores.

(define (list-store dirs)
  "Every finding under the output directories DIRS, one row per ID (a
finding in several stores is one row: hits added, first/last seen the
extremes, statuses combined), sorted by first seen.  Each row is the
finding alist plus \"stores\" (the directories holding it)."
  (let ((table (make-hash-table)))
    (for-each
     (lambda (out)
       (for-each
        (lambda (id)
          (let ((f (read-finding out id)) (old (hash-ref table id)))
            (when f
              (hash-set! table id
                         (if old
                             (merge-rows old f (list out))
                             (set-key f "stores" (list out)))))))
        (list-findings out)))
     dirs)
    (sort (hash-map->list (lambda (k v) v) table)
          (lambda (a b) (string<? (finding-ref a "first-seen") (finding-ref b "first-seen"))))))

(define (merge-rows a b stores)
  (let* ((f (set-key a "hits" (+ (finding-ref a "hits") (finding-ref b "hits"))))
         (f (set-key f "first-seen" (if (string<? (finding-ref b "first-seen")
                                                  (finding-ref a "first-seen"))
                                        (finding-ref b "first-seen") (finding-ref a "first-seen"))))
         (f (set-key f "last-seen" (if (string<? (finding-ref a "last-seen")
                                                 (finding-ref b "last-seen"))
                                       (finding-ref b "last-seen") (finding-ref a "last-seen"))))
         (f (set-key f "status" (combine-status (finding-ref a "status") (finding-ref b "status")))))
    (set-key f "stores" (append (or (finding-ref a "stores") '()) stores))))

(define (find-finding dirs prefix)
  "(OUT . ID) of the finding whose ID starts with PREFIX in the first of
DIRS holding one, or #f; an ambiguous prefix is an error."
  (let ((hits (append-map (lambda (out)
                            (map (lambda (id) (cons out id))
                                 (filter (lambda (id) (string-prefix? prefix id))
                                         (list-findings out))))
                          dirs)))
    (match (delete-duplicates (map cdr hits))
      (() #f)
      ((one) (car hits))
      (many (error (format #f "finding prefix ~a is ambiguous: ~a" prefix
                           (string-join many ", ")))))))

(define (copy-file* from to)
  (unless (file-exists? to) (copy-file from to)))

(define (copy-tree from to)
  "Copy FROM into TO, keeping files TO already has."
  (if (eq? 'directory (stat:type (stat from)))
      (begin
        (mkdir-p to)
        (for-each (lambda (e) (copy-tree (string-append from "/" e) (string-append to "/" e)))
                  (or (scandir from (lambda (e) (not (member e '("." ".."))))) '())))
      (copy-file* from to)))

(define (merge-stores! sources into)
  "Merge the findings of the output directories SOURCES into INTO: a
finding new to INTO is copied whole; one INTO has gets the hits it lacks
(hits are files named by what they are, so a hit already there is not
counted twice), the earliest first-seen, the latest last-seen, and the
combined status (`combine-status').  Returns the number of findings
INTO has afterwards."
  (mkdir-p (string-append into "/findings"))
  (for-each
   (lambda (src)
     (for-each
      (lambda (id)
        (let* ((from (finding-directory src id))
               (to (finding-directory into id))
               (a (read-finding into id))
               (b (read-finding src id)))
          (when b (copy-tree from to))
          (when (and a b)
            (write-json-file (string-append to "/finding.json")
                             (let ((m (merge-rows a b '())))
                               (filter (lambda (kv) (not (equal? (car kv) "stores")))
                                       (set-key m "hits" (finding-hit-count into id))))))
          (when (and b (not a)) (refresh-finding! into id))))
      (list-findings src)))
   sources)
  (length (list-findings into)))

;;; libFuzzer findings.

(define (fuzz-finding-id target signature-line)
  "The store ID of a libFuzzer finding: xxh3-128 of \"fuzz:TARGET:\" and
its signature line (core/fuzz/run.sh's: the INSTAR-FINDING line, or the
artifact kind, the sanitizer's error kind and its DEDUP_TOKEN)."
  (xxh3-128-hex (string-append "fuzz:" target ":" signature-line)))

(define (fuzz-kind signature-line)
  "invariant for a broken plan, else the artifact kind the line starts
with (crash, leak, timeout, oom)."
  (cond ((string-prefix? "INSTAR-FINDING:" signature-line) "invariant")
        ((string-index signature-line #\:)
         => (lambda (i) (substring signature-line 0 i)))
        (else "crash")))

(define (fuzz-title target signature-line)
  "`fuzz_resize_planners: invariant 3 (patch ends beyond total_file_size)
in qcow2 grow', or `fuzz_resize_engine: crash: AddressSanitizer
heap-buffer-overflow in f1'."
  (cond
   ((string-match* "^INSTAR-FINDING: ([^/]*)/([^:]*): (.*)$" signature-line)
    => (match-lambda
         ((t what inv)
          (format #f "~a: ~a in ~a" t inv (string-map (lambda (c) (if (char=? c #\-) #\space c)) what)))))
   (else
    (let* ((tok (string-contains signature-line "DEDUP_TOKEN: "))
           (head (string-trim-both (if tok (substring signature-line 0 tok) signature-line)))
           (frame (and tok (car (string-split
                                 (substring signature-line (+ tok (string-length "DEDUP_TOKEN: ")))
                                 #\-)))))
      (format #f "~a: ~a~@[ in ~a~]" target head (and frame (string-trim-both frame)))))))

(define (string-match* re s)
  (let ((m ((@ (ice-9 regex) string-match) re s)))
    (and m (map (lambda (i) ((@ (ice-9 regex) match:substring) m i))
                (iota (- ((@ (ice-9 regex) match:count) m) 1) 1)))))

(define (read-first-line file)
  (call-with-input-file file
    (lambda (p) (let ((l (get-line p))) (if (eof-object? l) "" l)))))

(define* (import-fuzz-findings! fuzz-findings target out #:key engine
                                (time (current-time)))
  "Bring core/fuzz/run.sh's findings of TARGET (FUZZ-FINDINGS/TARGET/
SHA1-16/: input, signature, report.txt, minimized, duplicates) into the
store OUT: ID `fuzz-finding-id', finding.json of the common schema, the
input, minimised input and report copied, one hit per artifact.  ENGINE:
the fuzz binary (an identity alist).  Returns the IDs that were new."
  (let ((dir (string-append fuzz-findings "/" target)))
    (filter-map
     (lambda (sub)
       (let* ((src (string-append dir "/" sub))
              (sigfile (string-append src "/signature")))
         (and (file-exists? sigfile)
              (let* ((line (read-first-line sigfile))
                     (id (fuzz-finding-id target line))
                     (to (finding-directory out id))
                     (new? (not (finding-exists? out id)))
                     (dups (if (file-exists? (string-append src "/duplicates"))
                               (filter (lambda (l) (not (string-null? l)))
                                       (string-split (call-with-input-file
                                                         (string-append src "/duplicates")
                                                       get-string-all)
                                                     #\newline))
                               '())))
                (mkdir-p (string-append to "/hits"))
                (for-each (lambda (f)
                            (let ((from (string-append src "/" f)))
                              (when (file-exists? from)
                                (copy-file* from (string-append to "/" f)))))
                          '("input" "minimized" "report.txt" "signature"))
                ;; One hit per artifact: the first input and each duplicate.
                (for-each (lambda (name)
                            (let ((h (string-append to "/hits/" name ".json")))
                              (unless (file-exists? h)
                                (write-json-file h `(("artifact" . ,name)
                                                     ("time" . ,(iso-time time)))))))
                          (cons (string-append "first-" sub) dups))
                (when new?
                  (write-json-file
                   (string-append to "/finding.json")
                   `(("schema" . 2)
                     ("id" . ,id)
                     ("signature" . ,id)
                     ("kind" . ,(fuzz-kind line))
                     ("title" . ,(fuzz-title target line))
                     ("status" . "open")
                     ("first-seen" . ,(iso-time time))
                     ("last-seen" . ,(iso-time time))
                     ("hits" . 0)
                     ("shape" . ,line)
                     ("recipe" . ,(string-append "fuzz:" target))
                     ("target" . ,target)
                     ("input" . "input")
                     ("legacy-id" . ,sub)
                     ("engine" . ,(or engine 'null))
                     ("reference-version" . null))))
                (refresh-finding! out id)
                (and new? id)))))
     (or (scandir dir (lambda (e) (not (member e '("." ".."))))) '()))))

;;; stats.jsonl

(define (append-stats! out records)
  "Append RECORDS (alists) to OUT/stats.jsonl, one JSON line each; the
file is never rewritten, so every run's time series stays."
  (mkdir-p out)
  (let ((p (open-file (string-append out "/stats.jsonl") "a")))
    (for-each (lambda (r) (scm->json r p) (newline p)) records)
    (close-port p)))
