;;; SPDX-License-Identifier: GPL-3.0-or-later
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
            backing-probability
            pick-resize-case
            pick-create-case
            pick-consistency-case
            case-end-bytes
            resolve-spec
            spec-end
            prealloc-allowed?
            parse-qemu-size
            qcow2-l1-limit
            refusal-families
            resize-family-weights
            image-states
            classify-resize
            classify-create
            label-case))

;;; The generator: splitmix64 over exact integers.

(define mask64 #xffffffffffffffff)

(define-record-type <rng>
  (%make-rng state)
  rng?
  (state rng-state set-rng-state!))

(define (make-rng seed)
  "A splitmix64 generator seeded with SEED (an exact integer, taken
modulo 2^64): the same seed draws the same numbers everywhere."
  (%make-rng (logand seed mask64)))

(define (mix64 z)
  (let* ((z (logand (* (logxor z (ash z -30)) #xbf58476d1ce4e5b9) mask64))
         (z (logand (* (logxor z (ash z -27)) #x94d049bb133111eb) mask64)))
    (logxor z (ash z -31))))

(define (rng-next! rng)
  "The next 64-bit number of RNG (an exact integer)."
  (let ((s (logand (+ (rng-state rng) #x9e3779b97f4a7c15) mask64)))
    (set-rng-state! rng s)
    (mix64 s)))

(define (rng-below rng n)
  "A number in [0, N)."
  (if (<= n 1) 0 (modulo (rng-next! rng) n)))

(define (rng-chance? rng p)
  "True with probability P (0 to 1, to a millionth), drawn from RNG."
  (< (rng-below rng 1000000) (inexact->exact (round (* p 1000000)))))

(define (iteration-seed master i)
  "The seed of iteration I of MASTER: a pure function of both."
  (mix64 (logand (+ (mix64 (logand master mask64))
                    (* (+ i 1) #xd1b54a32d192ed03))
                 mask64)))

;;; Choices.

(define (choose rng choice)
  "A value drawn with RNG from CHOICE: (const V), (one-of V ...) or
(weighted (W V) ...)."
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
  "Whether an option condition CND holds over the options PICKED so far
(an alist; absent options take DEFAULTS): (always), (>= NAME N),
(< NAME N), (equal NAME V), (not C), (and C ...), (or C ...)."
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
  "The absolute size a resize spec asks for, given CURRENT bytes, read as
qemu-img reads it; CURRENT when SPEC does not parse (the resize is then
refused and nothing changes)."
  (or (spec-end current spec) current))

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

(define resize-ops '("resize" "resize-shared" "regrow" "resize-held" "resize-backing"))

(define held-probability
  ;; Among qcow2 `resize' cases when resize-held is one of the ops beside
  ;; others: small, because every held case costs two extra qemu-io
  ;; processes and a byte comparison, and the behaviour is binary.
  1/20)

(define backing-probability
  ;; Among supported qcow2 `resize' and `resize-shared' cases when
  ;; resize-backing is one of the ops beside others.
  1/4)

;; qemu-img compare reads through the backing image: keep it quick.
(define backing-max (expt 2 36))

(define (pick-backing rng start ends)
  "The backing image of a backing-mode case: longer than the start size
and every end (so a grow shows what lies under it), with patterns of its
own: one at 0, one across the start size, one across the last end."
  (let* ((top (apply max start ends))
         (size (* 65536 (+ 1 (quotient (* 2 top) 65536))))
         (pat (lambda (off)
                (let ((off (* 512 (quotient (max 0 off) 512))))
                  `(("offset" . ,off) ("length" . ,(min 131072 (- size off)))
                    ("byte" . ,(+ 1 (rng-below rng 255))))))))
    `(("size" . ,(number->string size))
      ("patterns" . ,(list->vector (list (pat 0) (pat (- start 65536))
                                         (pat (- (last ends) 65536))))))))

(define* (pick-resize-case rng #:key (formats '("raw" "qcow2")) (ops resize-ops))
  "A resize case: OP is `resize' (each engine creates its own start
image), `resize-shared' (qemu-img creates one start image that both
resize), `regrow' (shrink, then grow back to the start size) or
`resize-held' (start mode `held': each side's own image is held open
read-write by qemu-io during the resize, which both tools must refuse,
leaving the file byte-identical) or `resize-backing' (start mode
`backing': qemu-img creates the start image as an overlay over a longer
qcow2 backing image, both with patterns, and both tools resize a copy;
drawn with `backing-probability' among supported qcow2 cases, after
held mode).  resize-held is drawn with
`held-probability' among qcow2 resize cases (always when it is the only
op); never for raw, whose qemu driver shares write access, so qemu-img
resizes a raw image a read-write qemu-io holds."
  (let* ((base-ops (delete "resize-backing" (delete "resize-held" ops)))
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
         ;; resize-held alone: every qcow2 case is held, and a held
         ;; image refuses every resize whatever its family, so no family
         ;; is drawn (the cases are the ones held mode always drew).
         (held-only? (and (member "resize-held" ops) (null? base-ops)))
         ;; resize-backing alone: every case it can take is a backing one.
         (backing-only? (and (member "resize-backing" ops) (not (member "resize-held" ops))
                             (null? base-ops)))
         ;; The family is drawn after the ordinary choices, so the
         ;; ordinary cases (most of them) are exactly the cases earlier
         ;; versions drew.
         (kase (apply-family rng (if (or held-only? backing-only?) 'ordinary
                                     (choose rng resize-family-weights))
                             `(("op" . ,op)
                               ("format" . ,format)
                               ("start-mode" . ,(if (string=? op "resize") "own" "shared"))
                               ("size" . ,start-str)
                               ("options" . ,options)
                               ("create-prealloc" . ,create-prealloc)
                               ("patterns" . ,patterns)
                               ("resizes" . ,resizes)
                               ("image-state" . "clean"))
                             #:formats formats))
         ;; Held mode is drawn last, after the family, so it shifts no
         ;; other choice.  Only a qcow2 case whose sides create their own
         ;; clean image can be held: a family may have turned the case
         ;; into a shared one (an image state) or given it create options
         ;; qemu refuses (no image to hold).
         (held? (and (member "resize-held" ops)
                     (equal? (assoc-ref kase "op") "resize")
                     (equal? (assoc-ref kase "format") "qcow2")
                     (equal? (assoc-ref kase "start-mode") "own")
                     (equal? (assoc-ref kase "image-state") "clean")
                     (equal? (cdr (classify-create "qcow2" (assoc-ref kase "options")
                                                   #:size (parse-qemu-size start-str)))
                             "ok")
                     (or held-only? (rng-chance? rng held-probability))))
         ;; Backing mode, drawn last too: a qcow2 case qemu-img can
         ;; create, clean, whose every resize is supported, ending below
         ;; the backing size limit.
         (ends (case-end-bytes kase))
         (backing? (and (not held?)
                        (member "resize-backing" ops)
                        (member (assoc-ref kase "op") '("resize" "resize-shared"))
                        (equal? (assoc-ref kase "format") "qcow2")
                        (equal? (assoc-ref kase "image-state") "clean")
                        (equal? (cdr (classify-create "qcow2" (assoc-ref kase "options")
                                                      #:size (parse-qemu-size start-str)))
                                "ok")
                        (every (lambda (r) (equal? (assoc-ref r "expect") "ok"))
                               (vector->list (assoc-ref (label-case kase) "resizes")))
                        (every (lambda (e) (< 0 e backing-max)) ends)
                        (< 0 start backing-max)
                        (or backing-only? (rng-chance? rng backing-probability)))))
    (label-case
     (cond
      (held?
       (map (lambda (kv)
              (match (car kv)
                ("op" '("op" . "resize-held"))
                ("start-mode" '("start-mode" . "held"))
                (_ kv)))
            kase))
      (backing?
       (append
        (map (lambda (kv)
               (match (car kv)
                 ("op" '("op" . "resize-backing"))
                 ("start-mode" '("start-mode" . "backing"))
                 ;; qemu-img creates an overlay with preallocation only
                 ;; with extended L2; what is tested is the resize.
                 ("create-prealloc" '("create-prealloc" . "off"))
                 (_ kv)))
             (filter (lambda (kv) (not (member (car kv) '("create-family" "create-expect"))))
                     kase))
        `(("backing" . ,(pick-backing rng start ends)))))
      (else kase)))))

(define (case-end-bytes case)
  "The size each resize of CASE asks for, in order."
  (let loop ((cur (parse-size-string (assoc-ref case "size")))
             (rs (vector->list (assoc-ref case "resizes")))
             (acc '()))
    (if (null? rs)
        (reverse acc)
        (let ((end (resolve-spec cur (assoc-ref (car rs) "spec"))))
          (loop (if (> end 0) end cur) (cdr rs) (cons end acc))))))


;;; Refusal families.
;;;
;;; Every resize (and every create the engine runs) is labelled with a
;;; family and the outcome a careful engine must give: "ok" when the case
;;; lies in the space the manual lists as supported, "refuse" when it must
;;; be refused with the file untouched.  The label is computed from the
;;; case itself (`classify-resize', `classify-create'), never from what the
;;; picker meant to draw, so an ordinary draw that happens to be a refusal
;;; (an odd qcow2 size, preallocation on a shrink) is labelled as one.
;;; Oracles use the label to judge a refusal; whitelist rules name the
;;; refusal families they expect.  The families, in qemu-img 7.2's order
;;; of checks (measured on qemu-utils 7.2):
;;;   bad-spec              the size does not parse ("+1KB", "+-1M", "1.5")
;;;   corrupt               qcow2 corrupt bit set (qemu cannot open it rw)
;;;   non-positive          the result is <= 0 or overflows int64 ("+8E")
;;;   prealloc-not-growing  preallocation other than off on a shrink or a
;;;                         same-size resize
;;;   shrink-without-flag   a smaller end without --shrink
;;;   unaligned             qcow2 (and vhdx) end not a multiple of 512
;;;   v2-snapshots          qcow2 compat 0.10 with internal snapshots
;;;   v2-zero               backing start mode: a compat 0.10 grow (off or
;;;                         metadata) over a longer backing image, whose new
;;;                         clusters qemu cannot zero (last of all checks)
;;;   past-limit            beyond the format's limit (qcow2: 4 Mi L1
;;;                         entries, i.e. 2^22 * cluster^2 / 8 bytes; VHD
;;;                         2040 GiB; VHDX 64 TiB; VMDK 1 PiB)
;;;   prealloc-unsupported  a mode the format does not take (raw metadata;
;;;                         any mode on vpc/vhdx/vmdk)
;;;   dirty                 qcow2 dirty bit set: qemu repairs and resizes,
;;;                         instar refuses on purpose (a whitelisted
;;;                         difference)
;;;   bad-create-option     create options the format refuses
;;;                         (extended_l2 below 16K clusters or on 0.10,
;;;                         refcount_bits not a power of two up to 64 or
;;;                         not 16 on 0.10, lazy_refcounts on 0.10, a bad
;;;                         compat or cluster size)
;;; and the supported ones, named so summaries can count them: same-size
;;; (N, +0, -0), at-limit (exactly the qcow2 L1 limit), suffix-edge
;;; (spellings qemu takes: +1.5M, ++1M, +0x200, "+ 1M"), snapshots,
;;; bitmaps (v3 images qemu-img made them in), and supported.

(define refusal-families
  '("bad-spec" "corrupt" "non-positive" "prealloc-not-growing" "shrink-without-flag"
    "unaligned" "v2-snapshots" "past-limit" "prealloc-unsupported" "dirty"
    "bad-create-option" "v2-zero"))
;; (A case in the "held" start mode, where another process holds the
;; image, labels every resize "held": it must be refused.)

(define int64-limit (expt 2 63))

(define (parse-qemu-size s)
  "Bytes of S as qemu_strtosz reads it (qemu 7.2): leading blanks, an
optional +, a decimal (a fraction only with a suffix) or 0x integer, an
optional suffix b k m g t p e (either case); or #f."
  (let* ((s (string-trim s char-whitespace?))
         (s (if (string-prefix? "+" s) (substring s 1) s))
         (n (string-length s)))
    (define (suffix-shift c)
      (case (char-downcase c)
        ((#\b) 0) ((#\k) 10) ((#\m) 20) ((#\g) 30) ((#\t) 40) ((#\p) 50) ((#\e) 60)
        (else #f)))
    (and (> n 0)
         (let* ((last (string-ref s (- n 1)))
                (shift (and (not (char-numeric? last)) (suffix-shift last)))
                (body (if shift (substring s 0 (- n 1)) s))
                (hex? (string-prefix? "0x" (string-downcase body))))
           (and (or shift (char-numeric? last))
                (> (string-length body) 0)
                (cond
                 (hex? (let ((v (string->number (substring body 2) 16)))
                         (and v (exact-integer? v) (>= v 0)
                              (string-every char-set:hex-digit (substring body 2))
                              (* v (ash 1 (or shift 0))))))
                 ((string-every (char-set-adjoin char-set:digit #\.) body)
                  (let* ((dot (string-index body #\.))
                         (v (string->number (if (and dot (= dot (- (string-length body) 1)))
                                                (substring body 0 dot) body))))
                    (and v (or (not dot) shift)
                         (not (string-prefix? "." body))
                         (<= (string-count body #\.) 1)
                         (let ((b (inexact->exact (floor (* (inexact->exact v)
                                                            (ash 1 (or shift 0)))))))
                           (and (< b (expt 2 64)) b)))))
                 (else #f)))))))

(define (plain-spec? spec)
  "SPEC is [+-]DIGITS[KMGTPE]: the spelling the ordinary draws use."
  (let* ((body (if (or (string-prefix? "+" spec) (string-prefix? "-" spec))
                   (substring spec 1) spec))
         (n (string-length body))
         (digits (if (and (> n 0) (memv (string-ref body (- n 1)) (map car suffixes)))
                     (substring body 0 (- n 1))
                     body)))
    (and (> (string-length digits) 0) (string-every char-set:digit digits))))

(define (spec-end current spec)
  "The end SPEC asks for from CURRENT bytes as qemu-img resize computes
it, or #f when SPEC does not parse."
  (cond ((string-prefix? "+" spec)
         (let ((n (parse-qemu-size (substring spec 1)))) (and n (+ current n))))
        ((string-prefix? "-" spec)
         (let ((n (parse-qemu-size (substring spec 1)))) (and n (- current n))))
        (else (parse-qemu-size spec))))

(define (qcow2-l1-limit cluster-size)
  "qemu's largest qcow2 size: 4 Mi L1 entries of CLUSTER-SIZE/8 L2
entries each (measured: exactly this grows, 512 more is `File too
large')."
  (* 4194304 (quotient cluster-size 8) cluster-size))

(define (option-ref options name)
  (let ((v (assoc-ref options name))) (and (string? v) v)))

(define (compat-v2? options)
  (member (or (option-ref options "compat") "1.1") '("0.10" "v2")))

(define (power-of-two? n) (and (> n 0) (zero? (logand n (- n 1)))))

(define (create-limit format options)
  "The largest size FORMAT can be created with (qemu-img 7.2, measured),
or #f."
  (match format
    ("qcow2" (qcow2-l1-limit (or (let ((v (option-ref options "cluster_size")))
                                   (and v (parse-qemu-size v)))
                                 65536)))
    ("vpc" (* 2040 (expt 2 30)))
    ("vhdx" (* 64 (expt 2 40)))
    (_ #f)))

(define* (classify-create format options #:key size)
  "The family and expected outcome (\"ok\" or \"refuse\") of creating
FORMAT with OPTIONS (and SIZE bytes, when given), as (FAMILY . EXPECT)."
  (define (num name)
    (let ((v (option-ref options name))) (and v (parse-qemu-size v))))
  (define limit (and size (create-limit format options)))
  (if (not (string=? format "qcow2"))
      (cond ((and limit (> size limit)) '("past-limit" . "refuse"))
            ((and limit (= size limit)) '("at-limit" . "ok"))
            (else '("supported" . "ok")))
      (let* ((compat (or (option-ref options "compat") "1.1"))
             (v2? (compat-v2? options))
             (cs (num "cluster_size"))
             (rb (num "refcount_bits"))
             (bad?
              (or (not (member compat '("0.10" "1.1" "v2" "v3")))
                  (and (option-ref options "cluster_size")
                       (not (and cs (power-of-two? cs) (<= 512 cs 2097152))))
                  (and (option-ref options "refcount_bits")
                       (not (and rb (power-of-two? rb) (<= rb 64))))
                  (and v2? rb (not (= rb 16)))
                  (and (equal? (option-ref options "extended_l2") "on")
                       (or v2? (< (or cs 65536) 16384)))
                  (and v2? (equal? (option-ref options "lazy_refcounts") "on")))))
        (cond (bad? '("bad-create-option" . "refuse"))
              ((and limit (> size limit)) '("past-limit" . "refuse"))
              ((and limit (= size limit)) '("at-limit" . "ok"))
              (else '("supported" . "ok"))))))

(define* (classify-resize format current spec shrink prealloc
                          #:key (options '()) (state "clean"))
  "The family and expected outcome of resizing a FORMAT image of CURRENT
bytes (made with OPTIONS, in image STATE) with SPEC, SHRINK and PREALLOC
(a mode string or #f), as (FAMILY . EXPECT).  The checks follow qemu-img
7.2's order; vpc, vhdx and vmdk follow the limits the manual documents."
  (define qcow2? (string=? format "qcow2"))
  (define mode (and (string? prealloc) prealloc))
  (define cs (or (let ((v (option-ref options "cluster_size")))
                   (and v (parse-qemu-size v)))
                 65536))
  (let ((end (spec-end current spec)))
    (define (limit)
      (match format
        ("qcow2" (qcow2-l1-limit cs))
        ("vpc" (* 2040 (expt 2 30)))
        ("vhdx" (* 64 (expt 2 40)))
        ;; qemu opens at most 32 Mi grain-directory entries of 512
        ;; 64 KiB grains: 1 PiB.
        ("vmdk" (expt 2 50))
        (_ #f)))
    (cond
     ((not end) '("bad-spec" . "refuse"))
     ((and qcow2? (equal? state "corrupt")) '("corrupt" . "refuse"))
     ((or (<= end 0) (>= end int64-limit)) '("non-positive" . "refuse"))
     ((and mode (not (string=? mode "off")) (<= end current))
      '("prealloc-not-growing" . "refuse"))
     ((and (< end current) (not shrink)) '("shrink-without-flag" . "refuse"))
     ((and (member format '("qcow2" "vhdx")) (not (zero? (modulo end 512))))
      '("unaligned" . "refuse"))
     ((and qcow2? (member state '("snapshots" "v2-snapshots")) (compat-v2? options))
      '("v2-snapshots" . "refuse"))
     ((and (limit) (> end (limit))) '("past-limit" . "refuse"))
     ((and mode (not (string=? mode "off"))
           (or (and (string=? format "raw") (string=? mode "metadata"))
               (member format '("vpc" "vhdx" "vmdk"))))
      '("prealloc-unsupported" . "refuse"))
     ((and qcow2? (equal? state "dirty")) '("dirty" . "refuse"))
     ((= end current) '("same-size" . "ok"))
     ;; (VMDK's limit depends on its metadata: never drawn exactly.)
     ((and (limit) (= end (limit)) (not (string=? format "vmdk"))) '("at-limit" . "ok"))
     ((not (plain-spec? spec)) '("suffix-edge" . "ok"))
     ((member state '("snapshots" "bitmaps")) (cons state "ok"))
     (else '("supported" . "ok")))))

(define (backing-v2-zero? case cur r)
  "Whether resize R of a backing-mode CASE from CUR bytes is a compat 0.10
grow qemu cannot zero: preallocation off or metadata, a backing image
longer than CUR, an end past CUR's cluster."
  (let* ((b (assoc-ref case "backing"))
         (options (or (assoc-ref case "options") '()))
         (cs (or (parse-size-string (or (assoc-ref options "cluster_size") "65536")) 65536))
         (end (spec-end cur (assoc-ref r "spec")))
         (p (assoc-ref r "prealloc")))
    (and b (equal? (assoc-ref options "compat") "0.10")
         (> (string->number (assoc-ref b "size")) cur)
         (number? end) (> end (* cs (quotient (+ cur cs -1) cs)))
         (member p '(#f null "off" "metadata")))))

(define (label-case case)
  "CASE with every resize labelled (family, expect) and, when the engine
creates its own start image, the create too."
  (let* ((format (assoc-ref case "format"))
         (options (assoc-ref case "options"))
         (state (or (assoc-ref case "image-state") "clean"))
         ;; Held cases create their own start images too.
         (own? (member (assoc-ref case "start-mode") '("own" "held")))
         (create (classify-create format options
                                  #:size (parse-qemu-size (assoc-ref case "size")))))
    ;; In place when present, so labelling twice gives the same case.
    (define (set k v alist)
      (if (assoc k alist)
          (map (lambda (kv) (if (equal? (car kv) k) (cons k v) kv)) alist)
          (append alist (list (cons k v)))))
    (let loop ((cur (parse-size-string (assoc-ref case "size")))
               (rs (vector->list (assoc-ref case "resizes")))
               (acc '()))
      (if (null? rs)
          (let ((case (set "resizes" (list->vector (reverse acc)) case)))
            (if (or own? (string=? (assoc-ref case "op") "create"))
                (set "create-expect" (cdr create) (set "create-family" (car create) case))
                case))
          (let* ((r (car rs))
                 (fe (if (equal? (assoc-ref case "start-mode") "held")
                         ;; Another process holds the image (qemu's locks):
                         ;; every resize must be refused, the file untouched.
                         '("held" . "refuse")
                         (classify-resize format cur (assoc-ref r "spec") (assoc-ref r "shrink")
                                          (assoc-ref r "prealloc") #:options options #:state state)))
                 ;; Over a longer backing image a compat 0.10 grow cannot
                 ;; zero its new clusters: qemu fails after every other
                 ;; check ("Failed to zero out new clusters").
                 (fe (if (and (equal? (cdr fe) "ok") (backing-v2-zero? case cur r))
                         '("v2-zero" . "refuse")
                         fe))
                 (end (spec-end cur (assoc-ref r "spec"))))
            (loop (if (string=? (cdr fe) "ok") end cur)
                  (cdr rs)
                  (cons (set "expect" (cdr fe) (set "family" (car fe) r)) acc)))))))

(define resize-family-weights
  ;; Per 100 resize cases: 72 ordinary draws (which are themselves
  ;; labelled; a few land in a family), 28 drawn into a family on purpose.
  '(weighted (72 ordinary)
             (3 shrink-without-flag) (3 prealloc-not-growing) (2 same-size)
             (3 unaligned) (3 past-limit) (1 at-limit) (3 non-positive)
             (2 bad-spec) (1 suffix-edge) (2 bad-create-option) (5 image-state)))

(define image-states
  ;; qemu-img makes snapshots and bitmaps; dirty and corrupt are header
  ;; bits (incompatible_features, bits 0 and 1) flipped in the copy.
  '(weighted (2 "dirty") (2 "corrupt") (2 "snapshots") (2 "bitmaps") (1 "v2-snapshots")))

(define bad-specs '("+1KB" "+1x" "+-1M" "1.5" "+1e3" "+1M " "" "-0x" "+1.5.M"))
(define edge-specs '("+1.5M" "+0.5k" "+1k" "++1M" "+1m" "+ 1M" "+0x200" "+2G"))
(define bad-create-options
  '((("extended_l2" . "on") ("cluster_size" . "4096"))
    (("extended_l2" . "on") ("cluster_size" . "8192"))
    (("compat" . "0.10") ("extended_l2" . "on"))
    (("refcount_bits" . "3"))
    (("refcount_bits" . "128"))
    (("compat" . "0.10") ("refcount_bits" . "8"))
    (("compat" . "0.10") ("lazy_refcounts" . "on"))
    (("compat" . "0.9"))
    (("compat" . "1.2"))
    (("cluster_size" . "3000"))))

(define v3-only-options '("lazy_refcounts" "refcount_bits" "extended_l2"))

(define* (apply-family rng family kase #:key (formats '("raw" "qcow2")))
  "KASE redrawn into FAMILY (see `resize-family-weights').  Draws only
from RNG after the ordinary case, so ordinary cases stay as they were."
  (define (get k) (assoc-ref kase k))
  (define (set k v c) (append (alist-delete k c) (list (cons k v))))
  (define start (parse-size-string (get "size")))
  (define (first-resize-of c . kvs)
    (let* ((rs (vector->list (assoc-ref c "resizes")))
           (r (fold (lambda (kv r) (set (car kv) (cdr kv) r)) (car rs) kvs)))
      (set "resizes" (list->vector (cons r (cdr rs))) c)))
  (define (first-resize . kvs) (apply first-resize-of kase kvs))
  (define (to-qcow2 c)
    (if (equal? (assoc-ref c "format") "qcow2") c
        (set "options" '() (set "format" "qcow2" c))))
  (define (set-option k v c)
    (set "options" (append (alist-delete k (assoc-ref c "options")) (list (cons k v))) c))
  (define (smaller)
    (let ((n (list-ref '(1 4 15) (rng-below rng 3))))
      (if (> start (* n 1024 1024))
          (string-append "-" (number->string n) "M")
          "-512")))
  (case (if (and (memq family '(past-limit at-limit bad-create-option image-state))
                 (not (member "qcow2" formats)))
            'ordinary                   ; qcow2-only families
            family)
    ((ordinary) kase)
    ((shrink-without-flag)
     (first-resize `("spec" . ,(smaller)) '("shrink" . #f) '("prealloc" . null)))
    ((prealloc-not-growing)
     (let ((same? (rng-chance? rng 0.3)))
       (first-resize `("spec" . ,(if same? "+0" (smaller))) `("shrink" . ,(not same?))
                     `("prealloc" . ,(choose rng (if (equal? (get "format") "qcow2")
                                                    '(one-of "metadata" "falloc" "full")
                                                    '(one-of "falloc" "full")))))))
    ((same-size)
     (first-resize `("spec" . ,(choose rng `(one-of ,(get "size") "+0" "-0")))
                   `("shrink" . ,(rng-chance? rng 0.5)) '("prealloc" . null)))
    ((unaligned)
     ;; Draw the chance first either way, so --formats changes nothing else.
     (let* ((c (if (and (rng-chance? rng 0.75) (member "qcow2" formats)) (to-qcow2 kase) kase))
            (n (+ 1 (rng-below rng 511)))
            (grow? (rng-chance? rng 0.6)))
       (first-resize-of c `("spec" . ,(string-append (if grow? "+" "-")
                                                      (number->string (+ (if grow? 0 4096) n))))
                        `("shrink" . ,(not grow?)) '("prealloc" . null))))
    ((past-limit at-limit)
     (let* ((c (to-qcow2 kase))
            ;; The exact limit with 512-byte clusters takes qemu 9 s (a
            ;; 32 MiB L1 written cluster by cluster): at-limit uses 4K and up.
            (cs (if (eq? family 'at-limit)
                    (choose rng '(one-of 4096 65536 2097152))
                    (choose rng '(one-of 512 4096 65536 2097152))))
            (c (set-option "cluster_size" (number->string cs) c))
            (c (if (and (< cs 16384) (equal? (assoc-ref (assoc-ref c "options") "extended_l2") "on"))
                   (set "options" (alist-delete "extended_l2" (assoc-ref c "options")) c)
                   c))
            (lim (qcow2-l1-limit cs))
            (end (if (eq? family 'at-limit) lim (+ lim (* 512 (+ 1 (rng-below rng 4)))))))
       (set "resizes"
            (vector (list (cons "spec" (number->string end)) '("shrink" . #f) '("prealloc" . null)))
            (set "op" (if (equal? (assoc-ref c "op") "regrow") "resize-shared" (assoc-ref c "op")) c))))
    ((non-positive)
     (first-resize `("spec" . ,(choose rng `(one-of ,(string-append "-" (get "size"))
                                                   ,(string-append "-" (size->string (* 2 start)))
                                                   "0" "+8E" "8E")))
                   `("shrink" . ,(rng-chance? rng 0.8)) '("prealloc" . null)))
    ((bad-spec)
     (first-resize `("spec" . ,(list-ref bad-specs (rng-below rng (length bad-specs))))
                   `("shrink" . ,(rng-chance? rng 0.5)) '("prealloc" . null)))
    ((suffix-edge)
     (first-resize `("spec" . ,(list-ref edge-specs (rng-below rng (length edge-specs))))
                   '("shrink" . #f) '("prealloc" . null)))
    ((bad-create-option)
     (let ((c (to-qcow2 kase)))
       (set "start-mode" "own"
            (set "op" "resize"
                 (set "options" (list-ref bad-create-options (rng-below rng (length bad-create-options)))
                      c)))))
    ((image-state)
     (let* ((state (choose rng image-states))
            (c (to-qcow2 kase))
            (opts (assoc-ref c "options"))
            (opts (if (string=? state "v2-snapshots")
                      (cons '("compat" . "0.10")
                            (filter (lambda (o) (not (member (car o) (cons "compat" v3-only-options))))
                                    opts))
                      (alist-delete "compat" opts)))
            (c (set "image-state" state
                    (set "start-mode" "shared"
                         (set "op" (if (equal? (assoc-ref c "op") "resize") "resize-shared"
                                       (assoc-ref c "op"))
                              (set "options" opts c)))))
            ;; Drawn last (only here), so every other case stays as it was.
            (reach (l2-reach opts)))
       (cond ((and (string=? state "snapshots") (<= reach (expt 2 29)))
              (shared-table-grow rng c reach))
             ((and (string=? state "bitmaps") (<= (bitmap-entry-reach opts) (expt 2 36)))
              (prepend-resize c `(("spec" . ,(string-append
                                                "+" (number->string (bitmap-entry-reach opts))))
                                  ("shrink" . #f) ("prealloc" . null))))
             (else c))))))

(define (bitmap-entry-reach options)
  "The guest bytes one bitmap table entry covers in a qcow2 made with
OPTIONS, for a bitmap of qemu's default granularity (the cluster size,
at least 4 KiB): one cluster of bits, each for a granule."
  (let ((cs (string->number (or (assoc-ref options "cluster_size") "65536"))))
    (* (max 4096 cs) cs 8)))

(define (prepend-resize kase resize)
  "KASE with RESIZE (a grow) put before its first drawn resize, whose
--shrink is set again for the grown size (qemu-img opening an image with
bitmaps to refuse a shrink without it still rewrites the file) and
whose preallocation is kept only where it stays cheap from there.  A
regrow case becomes a resize-shared one: its grow back to the start
size would now be a shrink."
  (let* ((start (parse-size-string (assoc-ref kase "size")))
         (grown (resolve-spec start (assoc-ref resize "spec")))
         (first (vector-ref (assoc-ref kase "resizes") 0))
         (end (resolve-spec grown (assoc-ref first "spec")))
         (p (assoc-ref first "prealloc"))
         ;; Its preallocation was drawn for the start size: kept only
         ;; where it stays cheap from the grown one.
         (p (if (and (string? p) (> end grown) (not (prealloc-allowed? "qcow2" p grown end)))
                'null p))
         (first (append (alist-delete "prealloc" (alist-delete "shrink" first))
                        `(("shrink" . ,(< end grown)) ("prealloc" . ,p)))))
    (append (alist-delete "resizes" (alist-delete "op" kase))
            `(("op" . "resize-shared")
              ("resizes" . ,(vector resize first))))))

(define (l2-reach options)
  "The guest bytes one L2 table of a qcow2 made with OPTIONS maps."
  (let ((cs (string->number (or (assoc-ref options "cluster_size") "65536"))))
    (* cs (quotient cs (if (equal? (assoc-ref options "extended_l2") "on") 16 8)))))

(define (shared-table-grow rng kase reach)
  "KASE (a qcow2 with an internal snapshot) with a first resize put
before its own: a preallocating grow by REACH bytes, so it crosses an L2
table boundary.  The L2 table holding the old end is still shared with
the snapshot, so the engine must copy it before linking new clusters
into it, and the tables past it are new: copy-on-write of shared tables
and new tables in one plan, which the drawn resizes (rarely a
preallocating grow, ends mostly within one table) almost never reach.
The drawn resizes follow, from the grown size."
  (let* ((start (parse-size-string (assoc-ref kase "size")))
         (end (+ start reach))
         (mode (choose rng '(weighted (3 "metadata") (1 "falloc") (1 "full"))))
         (mode (if (prealloc-allowed? "qcow2" mode start end) mode "metadata"))
         (grow `(("spec" . ,(string-append "+" (number->string reach)))
                 ("shrink" . #f) ("prealloc" . ,mode))))
    (prepend-resize kase grow)))

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
  "A create-diff case drawn with RNG: a format from FORMATS, a size
(ladder, odd byte counts, 0, now and then the format's limit or past
it) and create options (one qcow2 case in ten options qemu-img must
refuse), labelled with its family (`label-case')."
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
         ;; One qcow2 case in ten: options qemu-img must refuse (the
         ;; bad-create-option family), so refusals are compared too.
         (options (if (and (string=? format "qcow2") (rng-chance? rng 0.1))
                      (let ((bad (list-ref bad-create-options
                                           (rng-below rng (length bad-create-options)))))
                        (append (filter (lambda (o) (not (assoc (car o) bad))) options) bad))
                      options))
         (fixed? (member (assoc-ref options "subformat") '("fixed" "monolithicFlat")))
         (prealloc (if (member format '("raw" "qcow2"))
                       (pick-create-prealloc rng format size)
                       "off"))
         ;; One case in ten (drawn last, always, so the other draws stay
         ;; as they were): exactly at the format's limit or past it.  Not
         ;; for fixed images (they would be written out) nor, at the
         ;; limit, for qcow2 clusters below 4K (a 32 MiB L1 written
         ;; cluster by cluster takes qemu seconds).
         (limit-draw (and (rng-chance? rng 0.1)
                          (choose rng '(weighted (1 at) (2 past)))))
         (limit (create-limit format options))
         (limit-draw (and limit-draw limit (not fixed?)
                          (not (and (eq? limit-draw 'at) (< limit (expt 2 40))))
                          limit-draw))
         (size-str (case limit-draw
                     ((at) (number->string limit))
                     ((past) (number->string (+ limit 512)))
                     (else size-str)))
         (prealloc (if limit-draw "off" prealloc)))
    (label-case
     `(("op" . "create")
       ("format" . ,format)
       ("start-mode" . "own")
       ("size" . ,(if (and fixed? (> size (* 64 1024 1024))) "64M" size-str))
       ("options" . ,options)
       ("create-prealloc" . ,prealloc)
       ("patterns" . #())
       ("resizes" . #())
       ("image-state" . "clean")))))

;;; resize-consistency: formats qemu-img cannot resize.

(define consistency-family-weights
  ;; Per 100 cases: 68 ordinary draws (labelled like any case), 28 drawn
  ;; into a family on purpose.  Limits are the manual's: VHD 2040 GiB,
  ;; VHDX 64 TiB (both also exactly at the limit), VMDK past 1 PiB.
  ;; 4 in 100 are table-grows (`table-grow-spec'): a supported grow past
  ;; what the format's block table can map where it lies, so the table
  ;; must move or grow -- ordinary ends (at most 256 MiB) never get there.
  '(weighted (68 ordinary) (4 table-grow)
             (3 shrink-without-flag) (3 prealloc-not-growing) (3 prealloc-unsupported)
             (3 unaligned) (3 past-limit) (2 at-limit) (3 non-positive)
             (3 bad-spec) (2 suffix-edge) (3 same-size)))

(define (table-grow-spec rng format start options)
  "An end (absolute bytes) past the reach of the block table qemu-img
create gave a FORMAT image of START bytes with OPTIONS (measured on
qemu-img 7.2, every start the consistency picker draws):
  vhdx  a 1 MiB BAT region: 131072 entries, one sector-bitmap entry per
        chunk of 2^32/BLOCK data blocks, BLOCK 8 MiB unless block_size
        says otherwise -- about 128 GiB of 1 MiB blocks, 1022 GiB of
        8 MiB, 4064 GiB of 32 MiB; the BAT region must move
  vmdk  a one-sector grain directory: 128 grain tables of 512 64 KiB
        grains, 4 GiB; the directory must move
  vpc   a BAT of START/2MiB + 1 entries; a grow well past it.
Just past the reach (two to five blocks: the formula rounds) or far
past it (twice)."
  (match format
    ("vhdx"
     (let* ((bs (parse-size-string (or (assoc-ref options "block_size") "8M")))
            (ratio (quotient (expt 2 32) bs))
            (reach (* bs (quotient (* 131072 ratio) (+ ratio 1)))))
       (number->string (if (rng-chance? rng 0.5)
                           (+ reach (* bs (+ 2 (rng-below rng 4))))
                           (* 2 reach)))))
    ("vmdk"
     (let ((reach (* 4 (expt 2 30))))
       (number->string (if (rng-chance? rng 0.5)
                           (+ reach (* 65536 (+ 1 (rng-below rng 1024))))
                           (* 2 reach)))))
    (_ (number->string (+ start (* (expt 2 30) (+ 1 (rng-below rng 64))))))))

(define (consistency-limit format)
  (match format
    ("vpc" (* 2040 (expt 2 30)))
    ("vhdx" (* 64 (expt 2 40)))
    (_ (expt 2 50))))

(define* (pick-consistency-case rng #:key (formats '("vpc" "vhdx" "vmdk")))
  "A resize-consistency case drawn with RNG: a format from FORMATS that
qemu-img cannot resize, a start size, patterns and one resize, 28 in
100 drawn into a refusal family, labelled (`label-case')."
  (let* ((format (list-ref formats (rng-below rng (length formats))))
         (spec (cadr (assoc format create-format-specs)))
         (options (filter (lambda (o) (not (string=? (car o) "subformat")))
                          (pick-options rng spec '())))
         (start-str (choose rng '(weighted (3 "16M") (2 "64M") (1 "256M"))))
         (start (parse-size-string start-str))
         (spec (pick-end-spec rng "qcow2" start 'any))
         (end (resolve-spec start spec))
         ;; --shrink whenever the end is not above the nominal start, and
         ;; always for vpc: it rounds sizes up to its geometry, so "16M" or
         ;; 16M+513 on a vpc made with 16M is a shrink.
         (resize `(("spec" . ,spec)
                   ("shrink" . ,(or (<= end start) (string=? format "vpc")))
                   ("prealloc" . null)))
         (family (choose rng consistency-family-weights))
         (vpc? (string=? format "vpc")))
    (define (set k v alist) (append (alist-delete k alist) (list (cons k v))))
    (define (smaller) (choose rng '(one-of "-1M" "-4M" "-15M")))
    (let ((resize
           (case family
             ((ordinary) resize)
             ((table-grow)
              (set "shrink" vpc? (set "spec" (table-grow-spec rng format start options) resize)))
             ((shrink-without-flag)
              (set "shrink" #f (set "spec" (smaller) resize)))
             ((prealloc-not-growing)
              (set "prealloc" (choose rng '(one-of "falloc" "full" "metadata"))
                   (set "shrink" #t (set "spec" (smaller) resize))))
             ((prealloc-unsupported)
              (set "prealloc" (choose rng '(one-of "falloc" "full" "metadata"))
                   (set "shrink" vpc? (set "spec" "+16M" resize))))
             ((unaligned)
              (set "shrink" vpc? (set "spec" (string-append "+" (number->string
                                                                  (+ 1 (rng-below rng 511))))
                                      resize)))
             ((past-limit)
              (set "shrink" vpc?
                   (set "spec" (number->string (+ (consistency-limit format)
                                                  (* 512 (+ 1 (rng-below rng 2048)))))
                        resize)))
             ((at-limit)
              (if (string=? format "vmdk")
                  resize
                  (set "shrink" vpc? (set "spec" (number->string (consistency-limit format))
                                          resize))))
             ((non-positive)
              (set "shrink" #t (set "spec" (choose rng `(one-of "0" "+8E" ,(string-append "-" start-str)
                                                              ,(string-append "-" (size->string (* 2 start)))))
                                    resize)))
             ((bad-spec)
              (set "spec" (list-ref bad-specs (rng-below rng (length bad-specs))) resize))
             ((suffix-edge)
              (set "shrink" vpc?
                   (set "spec" (list-ref edge-specs (rng-below rng (length edge-specs))) resize)))
             ((same-size)
              (set "shrink" #t (set "spec" (choose rng `(one-of ,start-str "+0" "-0")) resize))))))
      (label-case
       `(("op" . "consistency")
         ("format" . ,format)
         ("start-mode" . "shared")
         ("size" . ,start-str)
         ("options" . ,options)
         ("create-prealloc" . "off")
         ("patterns" . ,(pick-patterns rng start))
         ("resizes" . ,(vector resize))
         ("image-state" . "clean"))))))
