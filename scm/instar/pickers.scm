;;; (instar pickers) -- seeded, declarative case pickers.
;;;
;;; A picker turns a seed into a case: an alist (JSON-ready) naming the
;;; format, start size, create options, patterns and resizes.  Randomness
;;; comes from our own splitmix64 generator (exact integers), so a seed
;;; picks the same case on every machine and Guile version.  Iteration I of
;;; master seed S uses (iteration-seed S I): results do not depend on how
;;; iterations are spread over jobs or shards.
;;;
;;; Choices are data:
;;;   (const V)                      always V
;;;   (one-of V ...)                 uniform
;;;   (weighted (W V) ...)           V with weight W
;;; Option specs are data too: (NAME CHOICE PROBABILITY CONDITION), where
;;; CONDITION is (always), (>= NAME N), (< NAME N), (equal NAME V),
;;; (not (...)), (and ...), (or ...), evaluated over the options already
;;; picked (absent options take the format's defaults).

(define-module (instar pickers)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:export (make-rng
            rng-next!
            rng-below
            rng-chance?
            iteration-seed
            choose
            condition-holds?
            pick-options
            parse-size-string
            size->string
            qcow2-option-spec
            qcow2-defaults
            start-size-ladder
            resize-ops
            held-probability
            pick-resize-case
            pick-create-case
            pick-consistency-case
            case-end-bytes
            resolve-spec
            prealloc-allowed?))

;;; The generator: splitmix64 over exact integers.

(define mask64 #xffffffffffffffff)

(define-record-type <rng>
  (%make-rng state)
  rng?
  (state rng-state set-rng-state!))

(define (make-rng seed) (%make-rng (logand seed mask64)))

(define (mix64 z)
  (let* ((z (logand (* (logxor z (ash z -30)) #xbf58476d1ce4e5b9) mask64))
         (z (logand (* (logxor z (ash z -27)) #x94d049bb133111eb) mask64)))
    (logxor z (ash z -31))))

(define (rng-next! rng)
  (let ((s (logand (+ (rng-state rng) #x9e3779b97f4a7c15) mask64)))
    (set-rng-state! rng s)
    (mix64 s)))

(define (rng-below rng n)
  "A number in [0, N)."
  (if (<= n 1) 0 (modulo (rng-next! rng) n)))

(define (rng-chance? rng p)
  (< (rng-below rng 1000000) (inexact->exact (round (* p 1000000)))))

(define (iteration-seed master i)
  "The seed of iteration I of MASTER: a pure function of both."
  (mix64 (logand (+ (mix64 (logand master mask64))
                    (* (+ i 1) #xd1b54a32d192ed03))
                 mask64)))

;;; Choices.

(define (choose rng choice)
  (match choice
    (('const v) v)
    (('one-of . vs) (list-ref vs (rng-below rng (length vs))))
    (('weighted . wvs)
     (let* ((total (fold + 0 (map car wvs)))
            (r (rng-below rng total)))
       (let loop ((r r) (wvs wvs))
         (if (< r (caar wvs)) (cadar wvs) (loop (- r (caar wvs)) (cdr wvs))))))))

(define (option-value name picked defaults)
  (cond ((assoc name picked) => cdr)
        ((assoc name defaults) => cdr)
        (else #f)))

(define (->number v)
  (cond ((number? v) v)
        ((string? v) (or (string->number v) (parse-size-string v) 0))
        (else 0)))

(define (condition-holds? cnd picked defaults)
  (match cnd
    (('always) #t)
    (('>= name n) (>= (->number (option-value name picked defaults)) n))
    (('< name n) (< (->number (option-value name picked defaults)) n))
    (('equal name v) (equal? (option-value name picked defaults) v))
    (('not c) (not (condition-holds? c picked defaults)))
    (('and . cs) (every (lambda (c) (condition-holds? c picked defaults)) cs))
    (('or . cs) (any (lambda (c) (condition-holds? c picked defaults)) cs))))

(define (pick-options rng spec defaults)
  "Walk SPEC in order; each option whose condition holds is present with
its probability.  Returns an alist in SPEC order."
  (let loop ((spec spec) (picked '()))
    (match spec
      (() (reverse picked))
      (((name choice p cnd) . rest)
       ;; Draw both numbers every time so one option's condition does not
       ;; shift the choices of the options after it.
       (let* ((present (rng-chance? rng p))
              (v (choose rng choice)))
         (loop rest
               (if (and present (condition-holds? cnd picked defaults))
                   (cons (cons name v) picked)
                   picked)))))))

;;; Sizes as qemu-img writes them.

(define suffixes '((#\K . 10) (#\M . 20) (#\G . 30) (#\T . 40) (#\P . 50) (#\E . 60)))

(define (parse-size-string s)
  "Bytes of an unsigned size like 16M, 512, 1G (integers only), or #f."
  (let* ((n (string-length s))
         (last (and (> n 0) (char-upcase (string-ref s (- n 1)))))
         (shift (and last (assv last suffixes))))
    (if shift
        (let ((v (string->number (substring s 0 (- n 1)))))
          (and v (exact-integer? v) (* v (ash 1 (cdr shift)))))
        (let ((v (and (> n 0) (string->number s))))
          (and v (exact-integer? v) v)))))

(define (size->string n)
  "N bytes as the shortest exact qemu-img size string."
  (let loop ((sfx (reverse suffixes)))
    (cond ((null? sfx) (number->string n))
          ((and (> n 0) (zero? (modulo n (ash 1 (cdar sfx)))))
           (string-append (number->string (ash n (- (cdar sfx))))
                          (string (caar sfx))))
          (else (loop (cdr sfx))))))

(define (resolve-spec current spec)
  "The absolute size a resize spec asks for, given CURRENT bytes."
  (cond ((string-prefix? "+" spec) (+ current (parse-size-string (substring spec 1))))
        ((string-prefix? "-" spec) (- current (parse-size-string (substring spec 1))))
        (else (parse-size-string spec))))

(define (round-up n a) (* a (quotient (+ n a -1) a)))

;;; qcow2 options.

(define qcow2-defaults
  '(("compat" . "1.1") ("cluster_size" . "65536") ("refcount_bits" . "16")
    ("extended_l2" . "off") ("lazy_refcounts" . "off")))

(define qcow2-option-spec
  '(("compat" (weighted (9 "1.1") (2 "0.10")) 0.3 (always))
    ("cluster_size" (weighted (1 "512") (1 "1024") (2 "4096") (2 "16384")
                              (4 "65536") (1 "131072") (2 "262144") (1 "2097152"))
     0.7 (always))
    ;; qemu refuses extended_l2 below 16 KiB clusters and on compat 0.10.
    ("extended_l2" (weighted (3 "on") (1 "off")) 0.3
     (and (>= "cluster_size" 16384) (equal "compat" "1.1")))
    ("lazy_refcounts" (weighted (3 "on") (1 "off")) 0.3 (equal "compat" "1.1"))
    ;; Widths other than 16 need compat 1.1.
    ("refcount_bits" (weighted (1 "1") (1 "2") (1 "4") (1 "8") (2 "16") (1 "32") (1 "64"))
     0.3 (equal "compat" "1.1"))))

(define start-size-ladder
  '(weighted (3 "1M") (4 "16M") (3 "64M") (2 "256M") (1 "1G")))

(define (prealloc-allowed? format mode old new)
  "Whether preallocation MODE for growing OLD -> NEW bytes keeps a case
cheap: `full' writes every new byte (so only for growth up to 64M),
`falloc' reserves disk (up to 1.25G ends).  FORMAT is for future limits."
  (case (string->symbol mode)
    ((off) #t)
    ((metadata) #t)
    ((falloc) (<= new (* 1280 1024 1024)))
    ((full) (<= (- new old) (* 64 1024 1024)))
    (else #f)))

(define (pick-prealloc rng format old new)
  "A --preallocation value (or #f for none).  Growing resizes get every
mode the format takes; other resizes rarely get one (both tools must then
refuse).  Raw's `metadata' is picked rarely: both must refuse it."
  (let ((mode (choose rng (if (string=? format "qcow2")
                              '(weighted (5 #f) (2 "off") (3 "metadata") (2 "falloc") (2 "full"))
                              '(weighted (5 #f) (2 "off") (1 "metadata") (3 "falloc") (2 "full"))))))
    (cond ((not mode) #f)
          ((> new old) (if (prealloc-allowed? format mode old new) mode #f))
          ((rng-chance? rng 0.1) mode)
          (else #f))))

(define (pick-create-prealloc rng format size)
  (let ((mode (choose rng (if (string=? format "qcow2")
                              '(weighted (8 "off") (2 "metadata") (1 "falloc") (1 "full"))
                              '(weighted (8 "off") (2 "falloc") (1 "full"))))))
    (if (prealloc-allowed? format mode 0 size) mode "off")))

;;; End specs.

(define (pick-end-spec rng format start want)
  "WANT is 'any or 'shrink.  Returns a size spec string whose result is
positive."
  (let* ((qcow2? (string=? format "qcow2"))
         (unit (if qcow2? 512 1)))
    (define (minus)
      ;; -N keeping the result positive.
      (let ((ladder (filter (lambda (s) (< (parse-size-string s) start))
                            '("1M" "15M" "63M"))))
        (if (and (pair? ladder) (rng-chance? rng 0.6))
            (string-append "-" (list-ref ladder (rng-below rng (length ladder))))
            ;; Any amount below START, 512-aligned for qcow2 most of the
            ;; time (an unaligned one is a refusal both must agree on).
            (let* ((n (+ 1 (rng-below rng (- start 1))))
                   (n (if (and qcow2? (rng-chance? rng 0.9))
                          (max 512 (* 512 (quotient n 512)))
                          n))
                   (n (if (>= n start) (- start unit) n)))
              (string-append "-" (size->string n))))))
    (define (absolute)
      (let ((cands (filter (lambda (s)
                             (let ((b (parse-size-string s)))
                               (and (not (= b start))
                                    (or (eq? want 'any) (< b start)))))
                           '("4M" "64M" "256M"))))
        (if (null? cands)
            (minus)
            (list-ref cands (rng-below rng (length cands))))))
    (case (if (eq? want 'shrink)
              (choose rng '(weighted (3 minus) (1 absolute)))
              (choose rng '(weighted (4 absolute) (4 plus) (3 minus) (1 same) (1 odd))))
      ((absolute) (absolute))
      ((plus) (choose rng '(one-of "+1M" "+15M" "+63M")))
      ((same) (choose rng `(one-of ,(size->string start) "+0")))
      ;; Sizes qcow2 must refuse (not 512-aligned) and raw keeps exactly.
      ((odd) (number->string (+ start 1 (rng-below rng 4095))))
      (else (minus)))))

(define (pick-patterns rng size)
  "Patterns qemu-io writes before the resize: one at offset 0 (so lost
data always shows), and up to two more, often in the last MiB where a
shrink cuts."
  (define (pattern off len)
    `(("offset" . ,off) ("length" . ,(max 512 (min len (- size off))))
      ("byte" . ,(+ 1 (rng-below rng 255)))))
  (let* ((first (pattern 0 (min size 65536)))
         (n (rng-below rng 3))
         (more (map (lambda (_)
                      (let* ((tail? (rng-chance? rng 0.6))
                             (span (if tail? (min size (* 1024 1024)) size))
                             (off (* 512 (quotient (- size (rng-below rng span)) 512)))
                             (off (min off (- size 512)))
                             (len (* 512 (+ 1 (rng-below rng 256)))))
                        (pattern off len)))
                    (iota n))))
    (list->vector (cons first more))))

(define resize-ops '("resize" "resize-shared" "regrow" "resize-held"))

(define held-probability
  ;; Among qcow2 `resize' cases when resize-held is one of the ops beside
  ;; others: small, because every held case costs two extra qemu-io
  ;; processes and a byte comparison, and the behaviour is binary.
  1/20)

(define* (pick-resize-case rng #:key (formats '("raw" "qcow2")) (ops resize-ops))
  "A resize case: OP is `resize' (each engine creates its own start
image), `resize-shared' (qemu-img creates one start image that both
resize), `regrow' (shrink, then grow back to the start size) or
`resize-held' (start mode `held': each side's own image is held open
read-write by qemu-io during the resize, which both tools must refuse,
leaving the file byte-identical).  resize-held is drawn with
`held-probability' among qcow2 resize cases (always when it is the only
op); never for raw, whose qemu driver shares write access, so qemu-img
resizes a raw image a read-write qemu-io holds."
  (let* ((base-ops (delete "resize-held" ops))
         ;; The same draw as before held mode existed: old seeds pick
         ;; the same cases.
         (op (if (null? base-ops) "resize" (list-ref base-ops (rng-below rng (length base-ops)))))
         (format (list-ref formats (rng-below rng (length formats))))
         (start-str (choose rng start-size-ladder))
         (start (parse-size-string start-str))
         (options (if (string=? format "qcow2")
                      (pick-options rng qcow2-option-spec qcow2-defaults)
                      '()))
         (create-prealloc (pick-create-prealloc rng format start))
         (patterns (pick-patterns rng start))
         (first-spec (pick-end-spec rng format start
                                    (if (string=? op "regrow") 'shrink 'any)))
         (first-end (resolve-spec start first-spec))
         (first `(("spec" . ,first-spec)
                  ;; --shrink whenever the end is smaller, as qemu-img needs.
                  ("shrink" . ,(< first-end start))
                  ("prealloc" . ,(or (pick-prealloc rng format start first-end) 'null))))
         ;; regrow is about what survives a shrink: add bytes straddling
         ;; the new end, where a kept partial cluster would hold them.
         (patterns (if (and (string=? op "regrow") (< 0 first-end start))
                       (let ((off (* 512 (quotient (max 0 (- first-end 4096)) 512))))
                         (list->vector
                          (append (vector->list patterns)
                                  (list `(("offset" . ,off)
                                          ("length" . ,(min 65536 (- start off)))
                                          ("byte" . ,(+ 1 (rng-below rng 255))))))))
                       patterns))
         (resizes (if (string=? op "regrow")
                      (vector first `(("spec" . ,start-str) ("shrink" . #f)
                                      ("prealloc" . null)))
                      (vector first)))
         ;; Drawn last, so it never shifts the choices above.
         (held? (and (string=? op "resize") (string=? format "qcow2")
                     (member "resize-held" ops)
                     (or (null? base-ops) (rng-chance? rng held-probability)))))
    `(("op" . ,(if held? "resize-held" op))
      ("format" . ,format)
      ("start-mode" . ,(cond (held? "held") ((string=? op "resize") "own") (else "shared")))
      ("size" . ,start-str)
      ("options" . ,options)
      ("create-prealloc" . ,create-prealloc)
      ("patterns" . ,patterns)
      ("resizes" . ,resizes))))

(define (case-end-bytes case)
  "The size each resize of CASE asks for, in order."
  (let loop ((cur (parse-size-string (assoc-ref case "size")))
             (rs (vector->list (assoc-ref case "resizes")))
             (acc '()))
    (if (null? rs)
        (reverse acc)
        (let ((end (resolve-spec cur (assoc-ref (car rs) "spec"))))
          (loop (if (> end 0) end cur) (cdr rs) (cons end acc))))))

;;; create-diff: every format, with valid and (rarely) invalid options.

(define create-format-specs
  `(("raw" ())
    ("qcow2" ,qcow2-option-spec)
    ("vpc" (("subformat" (one-of "dynamic" "fixed") 0.5 (always))
            ("force_size" (one-of "on" "off") 0.3 (always))))
    ("vhdx" (("subformat" (one-of "dynamic" "fixed") 0.4 (always))
             ("block_size" (one-of "1M" "8M" "32M") 0.4 (always))))
    ("vmdk" (("subformat" (weighted (4 "monolithicSparse") (1 "monolithicFlat")) 0.3 (always))))))

(define* (pick-create-case rng #:key (formats (map car create-format-specs)))
  (let* ((format (list-ref formats (rng-below rng (length formats))))
         (spec (cadr (assoc format create-format-specs)))
         (size-str (choose rng '(weighted (2 "1M") (3 "16M") (2 "64M") (1 "1G")
                                          (1 "odd") (1 "0"))))
         (size-str (if (string=? size-str "odd")
                       (number->string (+ 1 (rng-below rng (* 4 1024 1024))))
                       size-str))
         (size (parse-size-string size-str))
         (options (pick-options rng spec (if (string=? format "qcow2") qcow2-defaults '())))
         ;; Now and then an option the format must refuse, so refusals
         ;; are compared too.
         (options (if (and (string=? format "qcow2") (rng-chance? rng 0.05))
                      (append options '(("extended_l2" . "on") ("cluster_size" . "4096")))
                      options))
         (fixed? (member (assoc-ref options "subformat") '("fixed" "monolithicFlat")))
         (prealloc (if (member format '("raw" "qcow2"))
                       (pick-create-prealloc rng format size)
                       "off")))
    `(("op" . "create")
      ("format" . ,format)
      ("start-mode" . "own")
      ("size" . ,(if (and fixed? (> size (* 64 1024 1024))) "64M" size-str))
      ("options" . ,options)
      ("create-prealloc" . ,prealloc)
      ("patterns" . #())
      ("resizes" . #()))))

;;; resize-consistency: formats qemu-img cannot resize.

(define* (pick-consistency-case rng #:key (formats '("vpc" "vhdx" "vmdk")))
  (let* ((format (list-ref formats (rng-below rng (length formats))))
         (spec (cadr (assoc format create-format-specs)))
         (options (filter (lambda (o) (not (string=? (car o) "subformat")))
                          (pick-options rng spec '())))
         (start-str (choose rng '(weighted (3 "16M") (2 "64M") (1 "256M"))))
         (start (parse-size-string start-str))
         (spec (pick-end-spec rng "qcow2" start 'any))
         (end (resolve-spec start spec)))
    `(("op" . "consistency")
      ("format" . ,format)
      ("start-mode" . "shared")
      ("size" . ,start-str)
      ("options" . ,options)
      ("create-prealloc" . "off")
      ("patterns" . ,(pick-patterns rng start))
      ;; --shrink whenever the end is not above the nominal start, and
      ;; always for vpc: it rounds sizes up to its geometry, so "16M" or
      ;; 16M+513 on a vpc made with 16M is a shrink.
      ("resizes" . #((("spec" . ,spec)
                      ("shrink" . ,(or (<= end start) (string=? format "vpc")))
                      ("prealloc" . null)))))))
