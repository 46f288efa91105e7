;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-store.scm -- (instar store): the findings database.  Statuses,
;;; titles, reading stores written before schema 2, exact merges, one
;;; table over many stores, libFuzzer findings brought into the store,
;;; stats.jsonl appended, engine identities.
(use-modules (srfi srfi-64) (srfi srfi-1) (ice-9 ftw) (ice-9 textual-ports) (json)
             (instar findings) (instar store) (instar process) (instar engine)
             (instar pickers) (instar chain) (instar config))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-store-test."))
(define (diff op oracle field e r)
  `(("op" . ,op) ("oracle" . ,oracle) ("field" . ,field) ("engine" . ,e) ("reference" . ,r)))
(define qemu (make-external-engine "qemu-img" "/usr/bin/qemu-img"))
(define case (pick-resize-case (make-rng (iteration-seed 1 2)) #:formats '("qcow2")))
(define diffs (list (diff "resize" "check" "leaks" "1" "0")))
(define sig (signature diffs))
(define t0 1700000000)                  ; 2023-11-14T22:13:20Z

(define (store! out id time . hits)
  "A differential finding ID in OUT first seen at TIME, with HITS as
(SEED ITERATION TIME)."
  (store-finding! out id #:case case #:chain (case->chain case)
                  #:trace ((@@ (instar chain) make-trace) '()) #:diffs diffs
                  #:seed 1 #:iteration 2 #:engine qemu #:qemu-img qemu
                  #:qemu-io "/usr/bin/qemu-io" #:recipe "resize-diff" #:time time)
  (for-each (lambda (h) (record-hit! out id (car h) (cadr h) #:time (caddr h))) hits)
  (refresh-finding! out id))

(test-begin "store")

(test-group "statuses"
  (test-equal "every replay fails: open" "open" (replay-status 3 3))
  (test-equal "none fails: fixed" "fixed" (replay-status 0 3))
  (test-equal "some fail: flaky" "flaky" (replay-status 1 3))
  (test-equal "open wins a merge" "open" (combine-status "fixed" "open"))
  (test-equal "flaky beats fixed" "flaky" (combine-status "flaky" "fixed"))
  (test-equal "fixed only when both are" "fixed" (combine-status "fixed" "fixed")))

(test-group "titles"
  (test-equal "differential: format, operation, first difference"
    "qcow2 shrink: check leaks"
    (finding-title '(("op" . "resize") ("format" . "qcow2")
                     ("resizes" . #((("spec" . "-1M") ("shrink" . #t)))))
                   diffs))
  (test-equal "more differences are counted"
    "raw grow: info.actual-size differs (+1 more)"
    (finding-title '(("op" . "resize") ("format" . "raw")
                     ("resizes" . #((("spec" . "+1M") ("shrink" . #f)))))
                   (list (diff "resize" "info" "actual-size" "1" "2")
                         (diff "resize" "length" "bytes" "1" "2"))))
  (test-equal "libFuzzer invariant"
    "fuzz_resize_planners: invariant 3 (patch ends beyond total_file_size) in qcow2 grow"
    (fuzz-title "fuzz_resize_planners"
                "INSTAR-FINDING: fuzz_resize_planners/qcow2-grow: invariant 3 (patch ends beyond total_file_size)"))
  (test-equal "sanitizer crash: the first frame"
    "fuzz_resize_engine: crash: AddressSanitizer heap-buffer-overflow in qcow2_scan"
    (fuzz-title "fuzz_resize_engine"
                "crash: AddressSanitizer heap-buffer-overflow DEDUP_TOKEN: qcow2_scan--plan--main"))
  (test-equal "kind: invariant" "invariant" (fuzz-kind "INSTAR-FINDING: t/raw: invariant 1 (x)"))
  (test-equal "kind: from the artifact" "timeout" (fuzz-kind "timeout: libFuzzer timeout ")))

(test-group "schema 2"
  (let ((out (string-append tmp "/s")))
    (store! out sig t0 (list 1 2 t0) (list 1 5 (+ t0 60)))
    (let ((f (read-finding out sig)))
      (test-equal "id" sig (finding-ref f "id"))
      (test-equal "kind" "divergence" (finding-ref f "kind"))
      (test-equal "status" "open" (finding-ref f "status"))
      (test-equal "hits" 2 (finding-ref f "hits"))
      (test-equal "first seen" "2023-11-14T22:13:20Z" (finding-ref f "first-seen"))
      (test-equal "last seen: the latest hit" "2023-11-14T22:14:20Z" (finding-ref f "last-seen"))
      (test-assert "a title" (string-prefix? "qcow2 " (finding-ref f "title"))))
    (note-replay! out sig #:failures 0 #:tries 3 #:engine '(("kind" . "x")) #:time (+ t0 120))
    (test-equal "replayed clean: fixed" "fixed" (finding-ref (read-finding out sig) "status"))
    (note-seen! out sig #:time (+ t0 180))
    (test-equal "hit again: open again" "open" (finding-ref (read-finding out sig) "status"))
    (test-equal "hit again: last seen" "2023-11-14T22:16:20Z"
      (finding-ref (read-finding out sig) "last-seen"))))

(test-group "stores written before schema 2"
  (let* ((out (string-append tmp "/old"))
         (dir (finding-directory out sig)))
    (mkdir-p (string-append dir "/hits"))
    (write-json-file (string-append dir "/finding.json")
                     `(("signature" . ,sig) ("shape" . "op=resize|check:leaks")
                       ("recipe" . "resize-consistency") ("case" . ,case)))
    (write-json-file (string-append dir "/hits/1-2.json") '(("seed" . 1) ("iteration" . 2)))
    (let ((f (read-finding out sig)))
      (test-equal "kind from the recipe" "consistency" (finding-ref f "kind"))
      (test-equal "status open" "open" (finding-ref f "status"))
      (test-equal "title from the shape" "op=resize|check:leaks" (finding-ref f "title"))
      (test-equal "hits from the files" 1 (finding-ref f "hits"))
      (test-assert "first seen derived" (string? (finding-ref f "first-seen"))))
    (test-equal "listed with the others" 1 (length (list-store (list out))))))

(test-group "merge"
  (let ((a (string-append tmp "/ma")) (b (string-append tmp "/mb")) (c (string-append tmp "/mc"))
        (other (signature (list (diff "resize" "data" "compare" "a" "b")))))
    ;; A: sig hit by 7:0 and 7:1, open.  B: sig hit by 8:0 and again by
    ;; 7:1 (the same hit), fixed, seen earlier and later; and another finding.
    (store! a sig (+ t0 100) (list 7 0 (+ t0 100)) (list 7 1 (+ t0 110)))
    (store! b sig t0 (list 8 0 t0) (list 7 1 (+ t0 110)) (list 8 3 (+ t0 500)))
    (note-replay! b sig #:failures 0 #:tries 3 #:engine '() #:time (+ t0 600))
    (store! b other t0 (list 9 9 t0))
    (test-equal "the table: one row per finding" 2 (length (list-store (list a b))))
    (test-equal "the table: hits added over stores" 5
      (finding-ref (find (lambda (f) (equal? (finding-ref f "id") sig)) (list-store (list a b)))
                   "hits"))
    (test-equal "merged store has both findings" 2 (merge-stores! (list a b) c))
    (let ((f (read-finding c sig)))
      (test-equal "hits: the distinct hits of both (7:0 7:1 8:0 8:3)" 4 (finding-ref f "hits"))
      (test-equal "status: open wins" "open" (finding-ref f "status"))
      (test-equal "first seen: the earliest" "2023-11-14T22:13:20Z" (finding-ref f "first-seen"))
      (test-equal "last seen: the latest hit" "2023-11-14T22:21:40Z" (finding-ref f "last-seen")))
    (test-equal "a finding of one store is copied whole" 1 (finding-ref (read-finding c other) "hits"))
    (test-assert "with its repro.sh" (file-exists? (string-append (finding-directory c other) "/repro.sh")))
    (merge-stores! (list a b) c)
    (test-equal "merging again changes nothing" 4 (finding-ref (read-finding c sig) "hits"))
    (merge-stores! (list b) a)
    (test-equal "merging into a store that has it" 4 (finding-ref (read-finding a sig) "hits"))
    (test-equal "... open stays open" "open" (finding-ref (read-finding a sig) "status"))))

(test-group "libFuzzer findings"
  (let* ((raw (string-append tmp "/fuzz-findings"))
         (out (string-append tmp "/fz"))
         (line "INSTAR-FINDING: fuzz_resize_planners/raw: invariant 1 (patch count exceeds 128)")
         (src (string-append raw "/fuzz_resize_planners/0123456789abcdef")))
    (mkdir-p src)
    (call-with-output-file (string-append src "/input") (lambda (p) (display "raw input" p)))
    (call-with-output-file (string-append src "/signature") (lambda (p) (display line p) (newline p)))
    (call-with-output-file (string-append src "/report.txt") (lambda (p) (display line p)))
    (call-with-output-file (string-append src "/duplicates") (lambda (p) (display "crash-aa\n" p)))
    (let ((new (import-fuzz-findings! raw "fuzz_resize_planners" out
                                      #:engine '(("kind" . "external") ("program" . "/x"))
                                      #:time t0))
          (id (fuzz-finding-id "fuzz_resize_planners" line)))
      (test-equal "imported under the store's ID" (list id) new)
      (test-equal "32 hex digits" 32 (string-length id))
      (let ((f (read-finding out id)))
        (test-equal "kind" "invariant" (finding-ref f "kind"))
        (test-equal "title" "fuzz_resize_planners: invariant 1 (patch count exceeds 128) in raw"
          (finding-ref f "title"))
        (test-equal "hits: the first input and its duplicate" 2 (finding-ref f "hits"))
        (test-equal "the old ID kept" "0123456789abcdef" (finding-ref f "legacy-id"))
        (test-equal "recipe names the target" "fuzz:fuzz_resize_planners" (finding-ref f "recipe"))
        (test-assert "input copied" (file-exists? (string-append (finding-directory out id) "/input"))))
      (test-equal "imported again: nothing new" '()
        (import-fuzz-findings! raw "fuzz_resize_planners" out #:time t0))
      (test-equal "imported again: no hit counted twice" 2 (finding-ref (read-finding out id) "hits"))
      (call-with-output-file (string-append src "/duplicates")
        (lambda (p) (display "crash-aa\ncrash-bb\n" p)))
      (import-fuzz-findings! raw "fuzz_resize_planners" out #:time t0)
      (test-equal "a new duplicate is a new hit" 3 (finding-ref (read-finding out id) "hits")))))

(test-group "stats.jsonl and identities"
  (let ((out (string-append tmp "/st")))
    (append-stats! out '((("a" . 1))))
    (append-stats! out '((("a" . 2)) (("a" . 3))))
    (test-equal "appended, one JSON line each" '(1 2 3)
      (map (lambda (l) (assoc-ref (json-string->scm l) "a"))
           (filter (lambda (l) (not (string-null? l)))
                   (string-split (call-with-input-file (string-append out "/stats.jsonl")
                                   get-string-all)
                                 #\newline)))))
  (let* ((f (string-append tmp "/engine.sh")))
    (call-with-output-file f (lambda (p) (display "#!/bin/sh\nexec qemu-img \"$@\"\n" p)))
    (chmod f #o755)
    (let ((id (engine-identity (make-external-engine "e" f))))
      (test-equal "external: absolute program" (canonicalize-path f) (assoc-ref id "program"))
      (test-equal "external: content hash" (file-content-hash f) (assoc-ref id "hash"))
      (test-assert "the recorded engine can be made again"
        (equal? f (engine-program (engine-from-identity id)))))
    (call-with-output-file f (lambda (p) (display "#!/bin/sh\nexit 1\n" p)))
    (test-assert "a changed binary has another hash"
      (not (equal? (file-content-hash f)
                   (assoc-ref (engine-identity (make-external-engine "e" "/bin/true")) "hash")))))
  (test-equal "in-process: the library version" %instar-version
    (assoc-ref (engine-identity (make-in-process-engine "instar-img")) "library-version"))
  (test-assert "the reference's --version" (string-prefix? "qemu-img version"
                                                           (tool-version "qemu-img"))))

(test-end "store")
(delete-tree tmp)
