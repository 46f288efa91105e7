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
;;;   held           held start mode: each side must refuse the resize of
;;;                  an image qemu-io holds open and leave the file
;;;                  byte-identical; a side that accepts (or changes the
;;;                  file) is a finding of its own ("held:engine-accepted",
;;;                  "held:reference-changed-file", ...), judged before the
;;;                  exit classes so the title says what went wrong
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
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar chain)
  #:export (judge
            exit-class
            normalise-info
            normalise-check
            flatten-json
            diff-key
            info-dropped-fields))

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

(define (mkdiff op oracle field e r)
  `(("op" . ,op) ("oracle" . ,oracle) ("field" . ,field)
    ("engine" . ,(->string e)) ("reference" . ,(->string r))))

(define (diff-key d)
  "The canonical shape of a diff: oracle and field, plus both classes for
exit classes (so `refused vs accepted' and `crashed' differ) -- never
values that depend on sizes."
  (let ((oracle (assoc-ref d "oracle")) (field (assoc-ref d "field")))
    (if (equal? oracle "exit-class")
        (string-append oracle ":" field ":" (assoc-ref d "engine") "/"
                       (assoc-ref d "reference"))
        (string-append oracle ":" field))))

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
                  ((and (member name '("write-pattern" "copy")) (equal? side "reference")
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
  (define shared? (equal? (assoc-ref case "start-mode") "shared"))
  (define resize-names
    (filter-map (lambda (s) (and (equal? (assoc-ref s "step") "resize") (assoc-ref s "name")))
                chain))
  (let/ec return
   (let ()
    (define (divergence diffs) (return 'divergence diffs #f))
    (let ((why (inconclusive-reason trace)))
      (when why (return 'inconclusive '() why)))
    ;; The start images.
    (if shared?
        (unless (and (res "create" "reference") (result-ok? (res "create" "reference")))
          (return 'inconclusive '() "reference could not create the shared start image"))
        (let ((e (res "create" "engine")) (r (res "create" "reference")))
          (unless (equal? (exit-class e) (exit-class r))
            (divergence (list (mkdiff "create" "exit-class" "create" (exit-class e)
                                      (exit-class r)))))
          (unless (result-ok? r) (return 'match '() #f))
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
    ;; Each resize: the same exit class, or stop here.
    (for-each
     (lambda (name)
       (let ((e (res name "engine")) (r (res name "reference")))
         (when (and e r (not (equal? (exit-class e) (exit-class r))))
           (divergence (list (mkdiff name "exit-class" name (exit-class e) (exit-class r)))))))
     resize-names)
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
      (if (null? diffs)
          (values 'match '() #f)
          (values 'divergence diffs #f))))))
