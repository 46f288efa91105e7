;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar oracles) -- what counts as "the same result".
;;;
;;; Oracles, in the order a chain reaches them:
;;;   exit-class     ok / error / crash of create and each resize
;;;   write-pattern  qemu-io can write into the engine's own start image
;;;   info           `qemu-img info --output=json', normalised: paths and
;;;                  allocation-dependent fields dropped, the rest flattened
;;;   check          `qemu-img check --output=json': status, errors,
;;;                  corruptions, leaks, cluster counts
;;;   data           `qemu-img compare' of the two results
;;;   length         raw only: the file length (qemu keeps exact byte counts)
;;;   usage          the bytes each result occupies on disk (st_blocks):
;;;                  within `usage-tolerance' of each other, so space a
;;;                  resize should give back, or reserve, is not missed
;;;                  (layouts differ a little, so not byte for byte)
;;;   refusal        every step the engine refused, with the case's family
;;;                  (see `classify-resize' in (instar pickers)): a refusal
;;;                  is a verdict only a whitelist rule for its family can
;;;                  excuse, so an engine that refuses everything never passes
;;;   untouched      a refused resize left its file byte-identical (size
;;;                  and xxh3-128 before and after, on each side)
;;;   held           held start mode: each side must refuse the resize of
;;;                  an image qemu-io holds open and leave the file
;;;                  byte-identical; a side that accepts (or changes the
;;;                  file) is a finding of its own ("held:engine-accepted",
;;;                  "held:reference-changed-file", ...), judged before the
;;;                  exit classes so the title says what went wrong
;;; An exit-class difference where the engine accepted a step its family
;;; says must be refused carries the family in its key, so "accepted a
;;; shrink without --shrink" and "accepted an unaligned size" are two
;;; findings, each deduplicated on its own.
;;; `judge-consistency' is the oracle of recipes without a reference
;;; engine (resize-consistency: qemu-img cannot resize vpc, vhdx, vmdk):
;;; qemu-img reads the engine's result -- size, check, the patterns kept
;;; below the new end and zeros in the grown range -- and the case's
;;; refusal family says whether it had to be refused.
;;; `judge' returns a verdict and the list of differences ("diffs").  A
;;; diff is an alist: op (the step it shows after), oracle, field, and
;;; the engine's and reference's values.  Infrastructure trouble (a
;;; timeout, a tool that cannot start, qemu-io failing on the reference,
;;; the reference killed by a signal) makes the case inconclusive: never
;;; a finding.

(define-module (instar oracles)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 control)
  #:use-module (ice-9 format)
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar pickers)
  #:use-module (instar chain)
  #:export (judge
            judge-consistency
            plan-diffs
            consistency-chain
            consistency-check-ranges
            exit-class
            normalise-info
            normalise-check
            flatten-json
            diff-key
            info-dropped-fields
            refusal-diffs
            refusal-diff?
            family-phrase
            refusal-title
            usage-tolerance
            trace-tool-failed?
            virtual-size-as-created?))

(define (usage-tolerance cluster-size engine reference)
  "How far apart the allocated bytes of two results of one case may be,
as (values ABOVE BELOW): the engine may occupy up to ABOVE bytes more
than qemu (four clusters -- an L2 table or refcount block one side
writes and the other does not, file-system rounding -- plus a sixteenth
of qemu's), and up to BELOW bytes less (qemu writes whole L2 tables and
allocates some only to free them again on a shrink: eight clusters plus
a quarter of qemu's).  Space a shrink should give back shows above;
space a preallocation should reserve shows below."
  (values (+ (* 4 cluster-size) (quotient reference 16))
          (+ (* 8 cluster-size) (quotient reference 4))))

(define (exit-class r)
  "The class of a step result: ok, error or crash (killed by a signal, or
an exception in-process)."
  (match (result-class r)
    ('ok "ok") ('error "error") ('signal "crash")
    (other (symbol->string other))))

(define info-dropped-fields
  ;; Paths, host allocation, and the file name inside nested children.
  '("filename" "actual-size" "full-backing-filename" "children"))

(define (flatten-json value prefix)
  "VALUE (guile-json) as a sorted list of (PATH . SCALAR)."
  (sort
   (let walk ((v value) (path prefix))
     (cond ((and (pair? v) (pair? (car v)) (string? (caar v)))
            (append-map (lambda (kv)
                          (walk (cdr kv) (if (string-null? path) (car kv)
                                             (string-append path "." (car kv)))))
                        v))
           ((vector? v)
            (append-map (lambda (x i) (walk x (string-append path "[" (number->string i) "]")))
                        (vector->list v) (iota (vector-length v))))
           ((null? v) (list (cons path "{}")))
           (else (list (cons path v)))))
   (lambda (a b) (string<? (car a) (car b)))))

(define (parse-json s)
  (false-if-exception (json-string->scm s)))

(define info-dropped-leaves
  ;; At any depth: file names (vmdk extents) and vmdk's random content id.
  '("filename" "cid"))

(define (leaf path)
  (let ((dot (string-rindex path #\.)))
    (if dot (substring path (+ dot 1)) path)))

(define (normalise-info json)
  "The compared facts of a `qemu-img info --output=json' result JSON: a
sorted list of (PATH . VALUE), without file names, actual-size and
vmdk's random cid."
  (filter (lambda (kv) (not (member (leaf (car kv)) info-dropped-leaves)))
          (flatten-json (filter (lambda (kv) (not (member (car kv) info-dropped-fields))) json)
                        "")))

(define check-fields
  '("check-errors" "corruptions" "leaks" "corruptions-fixed" "leaks-fixed"
    "total-clusters" "allocated-clusters"))

(define (normalise-check r)
  "The compared facts of a check result: its status and counters (absent
counters are 0, as qemu omits zero ones)."
  (let ((json (parse-json (result-stdout r))))
    (cons (cons "status" (result-status r))
          (if (and json (pair? json))
              (map (lambda (k) (cons k (or (assoc-ref json k) 0))) check-fields)
              '()))))

(define (->string v)
  (cond ((string? v) v)
        ((boolean? v) (if v "true" "false"))
        (else (format #f "~a" v))))

(define* (mkdiff op oracle field e r #:optional family)
  `(("op" . ,op) ("oracle" . ,oracle) ("field" . ,field)
    ("engine" . ,(->string e)) ("reference" . ,(->string r))
    ,@(if family `(("family" . ,family)) '())))

(define (refusal-diff? d)
  "Whether diff D is a refusal (the engine refused a step; oracle
refusal)."
  (equal? (assoc-ref d "oracle") "refusal"))

(define (exit-diff op field e r family expect)
  "An exit-class difference; when the engine accepted (ok) what the
reference refused and the family says it must be refused, the family is
part of the difference (and of its signature)."
  (mkdiff op "exit-class" field e r
          (and (equal? e "ok") (equal? r "error") (equal? expect "refuse") family)))

(define (refusal-diffs op field family expect)
  "The engine refused step FIELD of a case labelled FAMILY/EXPECT."
  (list (mkdiff op "refusal" (or family "supported") "refused" (or expect "ok"))))

(define (untouched-diffs op before-e after-e before-r after-r)
  "A refusal must leave the file as it was, on each side."
  (define (state b a) (if (equal? b a) "unchanged" "changed"))
  (if (and (equal? before-e after-e) (or (not before-r) (equal? before-r after-r)))
      '()
      (list (mkdiff op "untouched" "file" (state before-e after-e)
                    (if before-r (state before-r after-r) "unchanged")))))

(define (diff-key d)
  "The canonical shape of a diff: oracle and field, plus both classes for
exit classes (so `refused vs accepted' and `crashed' differ) -- never
values that depend on sizes."
  (let ((oracle (assoc-ref d "oracle")) (field (assoc-ref d "field")))
    (if (equal? oracle "exit-class")
        (string-append oracle ":" field ":" (assoc-ref d "engine") "/"
                       (assoc-ref d "reference")
                       (let ((f (assoc-ref d "family"))) (if f (string-append ":" f) "")))
        (string-append oracle ":" field))))

(define (family-phrase family)
  "What a case of FAMILY asks for, in words."
  (match family
    ("shrink-without-flag" "shrink without --shrink")
    ("prealloc-not-growing" "preallocation on a resize that does not grow")
    ("unaligned" "a size that is not a multiple of 512")
    ("past-limit" "a size past the format's limit")
    ("non-positive" "a size that is not positive (or overflows)")
    ("bad-spec" "a malformed size")
    ("corrupt" "an image with the corrupt bit set")
    ("v2-snapshots" "a v2 image with internal snapshots")
    ("prealloc-unsupported" "a preallocation mode the format does not take")
    ("dirty" "an image with the dirty bit set")
    ("bad-create-option" "create options the format refuses")
    ("supported" "a supported case")
    ("at-limit" "a size exactly at the format's limit")
    ("hostile-image" "a hostile image")
    (other (if other (string-append "a " other " case") "a supported case"))))

(define* (refusal-title case diffs
                        #:key (reference (if (and case (equal? (assoc-ref case "op") "consistency"))
                                             "the manual"
                                             "qemu-img")))
  "A one-line title for a finding about refusals: which side accepted
what it should have refused, or which refusal was unexpected; #f when
DIFFS tell no such story (the findings store titles those).  REFERENCE
names who refused (qemu-img, or the manual for recipes without a
reference engine)."
  (define (op-of d)
    (let ((o (assoc-ref d "op")))
      (if (string-prefix? "resize" o) "resize" o)))
  (define head
    (string-append (or (and case (assoc-ref case "format")) "?") " "
                   (if (null? diffs) "?" (op-of (car diffs))) ": "))
  (define (find-diff pred) (find pred diffs))
  (define (oracle o) (lambda (d) (equal? (assoc-ref d "oracle") o)))
  (define story
   (cond
    ((find-diff (lambda (d) (and ((oracle "exit-class") d) (assoc-ref d "family"))))
     => (lambda (d) (format #f "engine accepted ~a (~a)"
                            (family-phrase (assoc-ref d "family"))
                            (if (equal? reference "qemu-img")
                                "qemu-img refused"
                                (string-append reference " says refuse")))))
    ((find-diff (lambda (d) (and ((oracle "exit-class") d)
                                 (equal? (assoc-ref d "engine") "error")
                                 (equal? (assoc-ref d "reference") "ok"))))
     (format #f "engine refused a case ~a accepted" reference))
    ((find-diff (lambda (d) (and ((oracle "exit-class") d)
                                 (equal? (assoc-ref d "engine") "ok")
                                 (equal? (assoc-ref d "reference") "error"))))
     (format #f "engine accepted a case ~a refused" reference))
    ((find-diff (oracle "untouched")) "a refusal changed the file")
    ((find-diff (lambda (d) (and (refusal-diff? d) (equal? (assoc-ref d "reference") "ok"))))
     => (lambda (d) (format #f "unexpected refusal of ~a"
                            (family-phrase (assoc-ref d "field")))))
    ((find-diff refusal-diff?)
     => (lambda (d) (format #f "refusal of ~a with no whitelist rule"
                            (family-phrase (assoc-ref d "field")))))
    (else #f)))
  (and story (string-append head story)))

(define (compare-alists op oracle a b)
  "Diffs between two flattened alists (keys present on either side)."
  (let ((keys (sort (delete-duplicates (append (map car a) (map car b))) string<?)))
    (filter-map (lambda (k)
                  (let ((x (assoc k a)) (y (assoc k b)))
                    (and (not (equal? x y))
                         (mkdiff op oracle k (if x (cdr x) "absent")
                                 (if y (cdr y) "absent")))))
                keys)))

(define (inconclusive-reason trace)
  (any (lambda (s)
         (match s
           ((name side (? result? r))
            (cond ((memq (result-class r) '(timeout spawn-failed))
                   (format #f "~a on ~a: ~a" name side (result-class r)))
                  ;; The reference crashing on its own image says nothing
                  ;; about the engine (a crash on the engine's image does).
                  ((and (equal? side "reference") (eq? (result-class r) 'signal))
                   (format #f "~a on reference: killed by a signal" name))
                  ((and (member name '("write-pattern" "copy" "image-state")) (equal? side "reference")
                        (not (result-ok? r)))
                   (format #f "~a failed on the reference" name))
                  ((and (equal? name "copy") (not (result-ok? r))) "copy failed")
                  ((and (equal? name "hold") (not (result-ok? r)))
                   (format #f "hold on ~a: the holder did not start" side))
                  (else #f)))
           (_ #f)))
       (trace-steps trace)))

(define (judge case chain trace)
  "Returns (values VERDICT DIFFS REASON); VERDICT is 'match, 'divergence
or 'inconclusive (REASON says why)."
  (define (res name side) (trace-result trace name side))
  (define shared? (member (assoc-ref case "start-mode") '("shared" "backing")))
  (define resize-names
    (filter-map (lambda (s) (and (equal? (assoc-ref s "step") "resize") (assoc-ref s "name")))
                chain))
  (define (resize-label i key)
    (let ((rs (vector->list (or (assoc-ref case "resizes") #()))))
      (and (< i (length rs)) (assoc-ref (list-ref rs i) key))))
  (define refusals '())
  (let/ec return
   (let ()
    (define (divergence diffs) (return 'divergence diffs #f))
    (let ((why (inconclusive-reason trace)))
      (when why (return 'inconclusive '() why)))
    ;; The start images.
    (if shared?
        (unless (and (res "create" "reference") (result-ok? (res "create" "reference")))
          (return 'inconclusive '() "reference could not create the shared start image"))
        (let ((e (res "create" "engine")) (r (res "create" "reference"))
              (family (assoc-ref case "create-family"))
              (expect (assoc-ref case "create-expect")))
          (unless (equal? (exit-class e) (exit-class r))
            (divergence (list (exit-diff "create" "create" (exit-class e) (exit-class r)
                                         family expect))))
          ;; Both refused the create: a refusal to judge.
          (unless (result-ok? r)
            (return 'divergence (refusal-diffs "create" "create" family expect) #f))
          (let ((w (res "write-pattern" "engine")))
            (when (and w (not (result-ok? w)))
              (divergence (list (mkdiff "create" "write-pattern" "status"
                                        (result-status w) 0)))))))
    ;; Held: a resize of an image another process holds must be refused,
    ;; and the file must not change, on both sides.
    (when (equal? (assoc-ref case "start-mode") "held")
      (let ((diffs
             (append-map
              (lambda (side)
                (append
                 (filter-map
                  (lambda (name)
                    (let ((r (res name side)))
                      (and r (result-ok? r)
                           (mkdiff name "held" (string-append side "-accepted")
                                   (if (equal? side "engine") "accepted" "refused")
                                   (if (equal? side "engine") "refused" "accepted")))))
                  resize-names)
                 (let ((u (res "held-unchanged" side)))
                   (if (and u (not (result-ok? u)))
                       (list (mkdiff (if (null? resize-names) "create" (last resize-names))
                                     "held" (string-append side "-changed-file")
                                     (if (equal? side "engine") "changed" "same")
                                     (if (equal? side "engine") "same" "changed")))
                       '()))))
              '("engine" "reference"))))
        (unless (null? diffs) (divergence diffs))))
    ;; Each resize: the same exit class, or stop here.  When both refuse,
    ;; each file must be untouched, and the refusal is judged by family.
    (for-each
     (lambda (name i)
       (let ((e (res name "engine")) (r (res name "reference"))
             (family (resize-label i "family"))
             (expect (resize-label i "expect")))
         (when (and e r (not (equal? (exit-class e) (exit-class r))))
           (divergence (list (exit-diff name name (exit-class e) (exit-class r)
                                        family expect))))
         (when (and e r (equal? (exit-class e) "error"))
           (let ((u (untouched-diffs name
                                     (res (string-append name ":before") "engine")
                                     (res (string-append name ":after") "engine")
                                     (res (string-append name ":before") "reference")
                                     (res (string-append name ":after") "reference"))))
             (unless (null? u) (divergence u)))
           (set! refusals (append refusals (refusal-diffs name name family expect))))))
     resize-names (iota (length resize-names)))
    (let* ((op (if (null? resize-names) "create" (last resize-names)))
           (diffs '()))
      (define (add! ds) (set! diffs (append diffs ds)))
      ;; info
      (let ((e (res "info" "engine")) (r (res "info" "reference")))
        (when (and e r)
          (cond ((not (equal? (exit-class e) (exit-class r)))
                 (divergence (list (mkdiff op "info" "open" (exit-class e) (exit-class r)))))
                ((result-ok? e)
                 (let ((je (parse-json (result-stdout e))) (jr (parse-json (result-stdout r))))
                   (if (and je jr)
                       (add! (compare-alists op "info" (normalise-info je) (normalise-info jr)))
                       (add! (list (mkdiff op "info" "json" (and je #t) (and jr #t))))))))))
      ;; check
      (let ((e (res "check" "engine")) (r (res "check" "reference")))
        (when (and e r)
          (add! (compare-alists op "check" (normalise-check e) (normalise-check r)))))
      ;; Guest-visible data: only meaningful between images of one size
      ;; (a size difference is already the info oracle's finding, and
      ;; compare would only echo it).
      (let ((c (res "compare" "both")))
        (when (and c (not (result-ok? c))
                   ;; Neither image opens (qemu cannot open some images it
                   ;; creates, e.g. vmdk of size 0): nothing to compare.
                   (let ((ie (res "info" "engine")))
                     (or (not ie) (result-ok? ie)))
                   (not (any (lambda (d) (equal? (assoc-ref d "field") "virtual-size"))
                             diffs)))
          (add! (list (mkdiff op "data" "compare"
                              (if (eqv? (result-status c) 1) "differ" "error") "same")))))
      ;; regrow: when the data differs, the engine's cut tail must read as
      ;; zeros -- the only difference the stale-tail rule may excuse.  (A
      ;; cut tail that is neither qemu's stale bytes nor zeros stays a
      ;; finding.)
      (let ((v (res "tail-zero" "engine"))
            (shrink (and (pair? resize-names) (res (car resize-names) "engine"))))
        (when (and v shrink (result-ok? shrink)
                   (any (lambda (d) (equal? (assoc-ref d "field") "compare")) diffs)
                   (or (not (result-ok? v))
                       (string-contains (result-stdout v) "fail")
                       (string-contains (result-stderr v) "fail")))
          (add! (list (mkdiff op "data" "tail-zero" "stale" "zero")))))
      ;; raw file length
      (let ((e (res "length" "engine")) (r (res "length" "reference")))
        (when (and e r (not (= e r)))
          (add! (list (mkdiff op "length" "bytes" e r)))))
      ;; disk usage, when both results exist.  Below qemu counts only
      ;; when both start images took the same space: a start image copied
      ;; with cp --sparse=always loses the allocated zeros of qemu's
      ;; preallocation, which no resize brings back.
      (let ((e (res "usage" "engine")) (r (res "usage" "reference"))
            (e0 (res "usage:start" "engine")) (r0 (res "usage:start" "reference"))
            (cs (or (let ((o (assoc-ref case "options")))
                      (and (list? o) (assoc-ref o "cluster_size")
                           (string->number (assoc-ref o "cluster_size"))))
                    65536)))
        (when (and (number? e) (number? r))
          (call-with-values (lambda () (usage-tolerance cs e r))
            (lambda (above below)
              (when (or (> e (+ r above))
                        (and (< e (- r below)) (number? e0) (number? r0)
                             (<= (abs (- e0 r0)) (* 4 cs))))
                (add! (list (mkdiff op "usage" "allocated" e r))))))))
      (cond ((pair? diffs) (values 'divergence diffs #f))
            ((pair? refusals) (values 'divergence refusals #f))
            (else (values 'match '() #f)))))))

;;; The consistency oracle: no reference engine; qemu-img reads the result.

(define (subtract segs a b)
  "The parts of SEGS (a list of (START . END)) outside [A, B)."
  (append-map (lambda (s)
                (filter (lambda (x) (< (car x) (cdr x)))
                        (list (cons (car s) (min (cdr s) a))
                              (cons (max (car s) b) (cdr s)))))
              segs))

(define (visible-patterns patterns end)
  "(BYTE START . STOP) for every byte range a pattern still owns below END:
patterns may overlap, and a later one overwrites an earlier one."
  (let loop ((ps patterns) (acc '()))
    (if (null? ps)
        (reverse acc)
        (let* ((p (car ps))
               (off (assoc-ref p "offset"))
               (segs (fold (lambda (q segs)
                             (subtract segs (assoc-ref q "offset")
                                       (+ (assoc-ref q "offset") (assoc-ref q "length"))))
                           (list (cons off (min end (+ off (assoc-ref p "length")))))
                           (cdr ps))))
          (loop (cdr ps)
                (append (reverse (filter-map (lambda (s)
                                               (and (< (car s) (cdr s))
                                                    (cons (assoc-ref p "byte") s)))
                                             segs))
                        acc))))))

(define (verify-commands case start end)
  "qemu-io read -P commands: every visible pattern byte below END, and
zeros at the start and the end of a range grown from START."
  (append
   ;; Pattern bytes below the new end.
   (map (lambda (v)
          (format #f "read -P 0x~2,'0x ~d ~d" (car v) (cadr v) (- (cddr v) (cadr v))))
        (visible-patterns (vector->list (assoc-ref case "patterns")) end))
   ;; The grown range: zeros at its start and its end.
   (if (> end start)
       (let ((mib (* 1024 1024)))
         (delete-duplicates
          (list (format #f "read -P 0 ~d ~d" start (min mib (- end start)))
                (let ((off (max start (- end mib))))
                  (format #f "read -P 0 ~d ~d" off (- end off))))))
       '())))

(define (consistency-check-ranges case start end)
  "(BYTE OFFSET LENGTH) for what a reader of CASE's result must read back
after a resize from START to END bytes: the patterns' visible bytes and
zeros in the grown range (its first and last MiB)."
  (append
   (map (lambda (v) (list (car v) (cadr v) (- (cddr v) (cadr v))))
        (visible-patterns (vector->list (assoc-ref case "patterns")) end))
   (if (> end start)
       (let* ((mib (* 1024 1024))
              (a (list 0 start (min mib (- end start))))
              (off (max start (- end mib)))
              (b (list 0 off (- end off))))
         (if (equal? a b) (list a) (list a b)))
       '())))

(define (consistency-chain case)
  "The chain of a consistency CASE: qemu-img creates the start image and
qemu-io writes the patterns (reference side), the engine resizes a copy,
then qemu-img info and check and qemu-io's verify reads run on it.  A
recipe may append reader steps (see (instar readers))."
  (let* ((fmt (assoc-ref case "format"))
         (start (parse-size-string (assoc-ref case "size")))
         (r (vector-ref (assoc-ref case "resizes") 0))
         (end (resolve-spec start (assoc-ref r "spec"))))
    `((("step" . "create") ("side" . "reference") ("format" . ,fmt)
       ("size" . ,(assoc-ref case "size")) ("options" . ,(assoc-ref case "options"))
       ("prealloc" . "off"))
      (("step" . "write-pattern") ("side" . "reference")
       ("patterns" . ,(assoc-ref case "patterns")))
      (("step" . "copy") ("side" . "engine"))
      (("step" . "resize") ("name" . "resize") ("side" . "engine")
       ("spec" . ,(assoc-ref r "spec")) ("shrink" . ,(assoc-ref r "shrink"))
       ("prealloc" . ,(let ((p (assoc-ref r "prealloc"))) (and (string? p) p))))
      (("step" . "info") ("side" . "engine"))
      (("step" . "check") ("side" . "engine"))
      (("step" . "verify") ("side" . "engine")
       ("commands" . ,(list->vector (verify-commands case start (max end 0))))))))

(define (consistency-diff oracle field got want)
  (mkdiff "resize" oracle field got want))

(define (first-line s)
  (let ((l (string-split (string-trim-both s) #\newline)))
    (if (null? l) "" (car l))))

(define (trace-tool-failed? trace)
  "Whether a step of TRACE timed out or its tool could not be started:
the case then says nothing about the engine (inconclusive)."
  (any (lambda (s) (and (result? (caddr s))
                        (memq (result-class (caddr s)) '(timeout spawn-failed))))
       (trace-steps trace)))

(define (virtual-size-as-created? fmt vsize want)
  "Whether VSIZE, the virtual size qemu-img reads after a resize to WANT
bytes (whole sectors), is the one qemu-img create gives: WANT itself, or
for vpc WANT rounded up to its CHS geometry (less than one cylinder more)."
  (if (equal? fmt "vpc")
      ;; Rounded up to less than one CHS cylinder: at most 16 heads x 63
      ;; sectors (under 1 MiB) up to 65535 cylinders of those, 16 x 255
      ;; past them.
      (and (>= vsize want)
           (< vsize (+ want (if (> want (* 65535 16 63 512))
                                (* 16 255 512)
                                (* 1024 1024)))))
      (= vsize want)))

(define (plan-diffs trace name fmt vsize)
  "Diffs (oracle \"plan\") between the dry-run plan an in-process engine
made before resize step NAME (recorded as NAME:plan, see (instar chain))
and what the resize did: qemu-img reads VSIZE.  The plan's action must
follow its sizes (grow when the new size is larger, shrink when smaller,
noop when equal) and, but for vpc (qemu reads a VHD's size from its
geometry), its new size must be VSIZE (in whole sectors); a plan refused for a resize that
then succeeded is a diff too.  '() for an external engine (no plan)."
  (define (diff field got want)
    `(("op" . ,name) ("oracle" . "plan") ("field" . ,field)
      ("engine" . ,(format #f "~a" got)) ("reference" . ,(format #f "~a" want))))
  (let ((steps (filter (lambda (s) (and (equal? (car s) (string-append name ":plan"))
                                        (equal? (cadr s) "engine")))
                       (trace-steps trace))))
    (cond
     ((null? steps) '())
     ((not (caddr (car steps))) (list (diff "refused" "refused" "the resize it made")))
     (else
      (let* ((p (caddr (car steps)))
             (old (assoc-ref p "old-size")) (new (assoc-ref p "new-size"))
             (want (cond ((> new old) "grow") ((< new old) "shrink") (else "noop"))))
        (append
         (if (equal? (assoc-ref p "action") want) '()
             (list (diff "action" (assoc-ref p "action") want)))
         ;; qemu counts whole sectors: a raw file's odd length reads
         ;; as the next multiple of 512.
         (if (or (equal? fmt "vpc") (not vsize) (= (* 512 (quotient (+ new 511) 512)) vsize)) '()
             (list (diff "new-size" new vsize)))))))))

(define* (judge-consistency case trace #:key (more-diffs (lambda (vsize start end) '())))
  "Judge the TRACE of `consistency-chain' CASE: (values VERDICT DIFFS
REASON).  A timeout or a start image qemu-img could not make is
inconclusive; an engine crash, an accepted case the family says to
refuse, or a refusal that changed the file is a divergence; a refusal
that left the file alone is a refusal diff (only a whitelist rule of its
family excuses it).  A resize the engine made must show the new size
(vpc: rounded up to its geometry, within a cylinder), a clean check (qemu-img
has none for vpc) and the kept and zero bytes.  MORE-DIFFS, called with
the size qemu-img reads and the start and end sizes, adds the diffs of
other oracles (the recipe's independent readers)."
  (let* ((fmt (assoc-ref case "format"))
         (r0 (vector-ref (assoc-ref case "resizes") 0))
         (start (parse-size-string (assoc-ref case "size")))
         (end (resolve-spec start (assoc-ref r0 "spec")))
         (res (lambda (n s) (trace-result trace n s)))
         (family (assoc-ref r0 "family"))
         (expect (assoc-ref r0 "expect")))
    (cond
     ((trace-tool-failed? trace)
      (values 'inconclusive '() "timeout or tool failure"))
     ((not (and (res "create" "reference") (result-ok? (res "create" "reference"))
                (res "copy" "engine") (result-ok? (res "copy" "engine"))))
      (values 'inconclusive '() "qemu-img could not make the start image"))
     ((eq? (result-class (res "resize" "engine")) 'signal)
      (values 'divergence (list (consistency-diff "exit-class" "resize" "crash" "ok")) #f))
     ((and (result-ok? (res "resize" "engine")) (equal? expect "refuse"))
      ;; The manual says this must be refused: the engine accepted it.
      (values 'divergence
              (list `(("op" . "resize") ("oracle" . "exit-class") ("field" . "resize")
                      ("engine" . "ok") ("reference" . "error") ("family" . ,family)))
              #f))
     ((not (result-ok? (res "resize" "engine")))
      (let* ((r (res "resize" "engine"))
             (before (res "resize:before" "engine"))
             (after (res "resize:after" "engine")))
        (if (equal? before after)
            (values 'divergence (refusal-diffs "resize" "resize" family expect)
                    (format #f "~a: ~a" fmt (first-line (string-append (result-stderr r)
                                                                        (result-stdout r)))))
            (values 'divergence (list (consistency-diff "untouched" "file" "changed" "unchanged"))
                    #f))))
     (else
      (let* ((info (false-if-exception (json-string->scm (result-stdout (res "info" "engine")))))
             (vsize (and info (assoc-ref info "virtual-size")))
             (want (* 512 (quotient (+ end 511) 512)))
             (check (false-if-exception (json-string->scm (result-stdout (res "check" "engine")))))
             (verify (res "verify" "engine"))
             (diffs
              (append
               (cond ((not vsize) (list (consistency-diff "size" "info" "unreadable" want)))
                     ((virtual-size-as-created? fmt vsize want) '())
                     (else (list (consistency-diff "size" "virtual-size" vsize want))))
               (if (or (string-contains (result-stderr (res "check" "engine"))
                                        "does not support checks")
                       (and check
                        (every (lambda (k) (eqv? 0 (or (assoc-ref check k) 0)))
                               '("check-errors" "corruptions" "leaks"))))
                   '()
                   (list (consistency-diff "check" "clean" (if check "errors" "failed") "clean")))
               (if (and verify (result-ok? verify)
                        (not (string-contains (result-stdout verify) "fail"))
                        (not (string-contains (result-stderr verify) "fail")))
                   '()
                   (list (consistency-diff "data" "kept-and-zero" "mismatch" "pattern")))))
             (diffs (append diffs (plan-diffs trace "resize" fmt vsize)
                            (more-diffs (or vsize 0) start end))))
        (if (null? diffs)
            (values 'match '() #f)
            (values 'divergence diffs #f)))))))
