;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-pickers.scm -- (instar pickers): seeded, declarative, and every
;;; picked case within the documented constraints.
(use-modules (srfi srfi-64) (srfi srfi-1) (instar pickers) (instar chain) (instar oracles))

(define (cases n . keys)
  (map (lambda (i) (apply pick-resize-case (make-rng (iteration-seed 42 i)) keys)) (iota n)))
(define (opt case k) (assoc-ref (assoc-ref case "options") k))
(define (num s) (and s (string->number s)))
(define (start-mode-only-as mode op drawn plain)
  ;; What the draw of every start mode promises: DRAWN (the cases in
  ;; MODE) are qcow2 cases of op OP, and PLAIN (drawn without OP among
  ;; the ops) has none in MODE.
  (test-assert (string-append "only qcow2, only as op " op)
    (every (lambda (c) (and (equal? (assoc-ref c "format") "qcow2")
                            (equal? (assoc-ref c "op") op)))
           drawn))
  (test-assert (string-append "never without " op " among the ops")
    (not (any (lambda (c) (equal? (assoc-ref c "start-mode") mode)) plain))))

(test-begin "pickers")

(test-group "generator"
  (test-equal "same seed, same numbers"
    (let ((r (make-rng 7))) (map (lambda (_) (rng-next! r)) (iota 5)))
    (let ((r (make-rng 7))) (map (lambda (_) (rng-next! r)) (iota 5))))
  (test-assert "different seeds differ"
    (not (= (rng-next! (make-rng 1)) (rng-next! (make-rng 2)))))
  ;; Pinned so a change of generator (which would change every seed's
  ;; cases and break replays of old findings) cannot go unnoticed.
  (test-equal "splitmix64 of seed 0" #xe220a8397b1dcdaf (rng-next! (make-rng 0)))
  (test-assert "iteration seeds depend on both inputs"
    (and (not (= (iteration-seed 42 0) (iteration-seed 42 1)))
         (not (= (iteration-seed 42 0) (iteration-seed 43 0)))))
  (test-assert "rng-below stays in range"
    (let ((r (make-rng 3))) (every (lambda (_) (< -1 (rng-below r 7) 7)) (iota 500)))))

(test-group "choices and conditions"
  (test-equal "const" 5 (choose (make-rng 1) '(const 5)))
  (test-assert "weighted never picks weight 0"
    (let ((r (make-rng 9)))
      (every (lambda (_) (eq? 'b (choose r '(weighted (0 a) (1 b))))) (iota 200))))
  (test-assert "weighted follows weights roughly"
    (let* ((r (make-rng 11))
           (n (count (lambda (_) (eq? 'a (choose r '(weighted (9 a) (1 b))))) (iota 1000))))
      (< 800 n 980)))
  (test-assert ">= over defaults"
    (condition-holds? '(>= "cluster_size" 16384) '() qcow2-defaults))
  (test-assert ">= over picked"
    (not (condition-holds? '(>= "cluster_size" 16384) '(("cluster_size" . "4096")) qcow2-defaults)))
  (test-assert "and / not / equal"
    (condition-holds? '(and (equal "compat" "1.1") (not (equal "compat" "0.10"))) '() qcow2-defaults)))

(test-group "sizes"
  (test-equal "parse 16M" (* 16 1024 1024) (parse-size-string "16M"))
  (test-equal "parse bytes" 513 (parse-size-string "513"))
  (test-equal "print 1G" "1G" (size->string (* 1024 1024 1024)))
  (test-equal "print odd" "1025" (size->string 1025))
  (test-equal "resolve +" (* 17 1024 1024) (resolve-spec (* 16 1024 1024) "+1M"))
  (test-equal "resolve -" (* 15 1024 1024) (resolve-spec (* 16 1024 1024) "-1M")))

(define all-cases (cases 400))
;; A held case without its held mode (op resize, start mode own) and
;; labelled again: the case the same seed draws without resize-held.
(define (unheld c)
  (if (equal? (assoc-ref c "start-mode") "held")
      (label-case (map (lambda (kv)
                         (cond ((equal? (car kv) "op") '("op" . "resize"))
                               ((equal? (car kv) "start-mode") '("start-mode" . "own"))
                               (else kv)))
                       c))
      c))
;; Cases drawn into no refusal family: the documented constraints of
;; ordinary draws hold for them.  (A held case's resizes are labelled
;; "held"; its drawn family is the one it would have without held mode.)
(define (plain? c)
  (let ((c (unheld c)))
    (and (not (equal? (assoc-ref c "create-family") "bad-create-option"))
         (every (lambda (r) (member (assoc-ref r "family") '("supported" "snapshots" "bitmaps")))
                (vector->list (assoc-ref c "resizes"))))))
(define many (filter plain? all-cases))
(define qcow2 (filter (lambda (c) (equal? (assoc-ref c "format") "qcow2")) many))
(define (family-of c) (map (lambda (r) (assoc-ref r "family")) (vector->list (assoc-ref c "resizes"))))

(test-group "resize cases"
  (test-equal "deterministic" (cases 20) (cases 20))
  (test-assert "most cases are plain" (< 250 (length many) 350))
  (test-assert "both formats picked" (and (pair? qcow2) (< (length qcow2) (length many))))
  (test-assert "every op picked"
    (every (lambda (op) (any (lambda (c) (equal? (assoc-ref c "op") op)) many)) resize-ops))
  (test-assert "start sizes from the ladder"
    (every (lambda (c) (member (assoc-ref c "size") '("1M" "16M" "64M" "256M" "1G"))) many))
  (test-assert "extended_l2 only with cluster_size >= 16K and compat 1.1"
    (every (lambda (c) (or (not (opt c "extended_l2"))
                           (and (>= (or (num (opt c "cluster_size")) 65536) 16384)
                                (not (equal? (opt c "compat") "0.10")))))
           qcow2))
  (test-assert "lazy_refcounts and refcount_bits only with compat 1.1"
    (every (lambda (c) (or (not (equal? (opt c "compat") "0.10"))
                           (and (not (opt c "lazy_refcounts")) (not (opt c "refcount_bits")))))
           qcow2))
  (test-assert "every option kind is picked somewhere"
    (every (lambda (k) (any (lambda (c) (opt c k)) qcow2))
           '("compat" "cluster_size" "extended_l2" "lazy_refcounts" "refcount_bits")))
  (test-assert "raw cases carry no options"
    (every (lambda (c) (or (equal? (assoc-ref c "format") "qcow2") (null? (assoc-ref c "options"))))
           many))
  (test-assert "every resize result stays positive"
    (every (lambda (c) (every positive? (case-end-bytes c))) many))
  (test-assert "--shrink exactly when the end is smaller"
    (every (lambda (c)
             (let loop ((cur (parse-size-string (assoc-ref c "size")))
                        (rs (vector->list (assoc-ref c "resizes")))
                        (ends (case-end-bytes c)))
               (or (null? rs)
                   (and (eq? (assoc-ref (car rs) "shrink") (< (car ends) cur))
                        (loop (car ends) (cdr rs) (cdr ends))))))
           many))
  (test-assert "end specs: absolute, +N and -N all appear"
    (let ((specs (append-map (lambda (c) (map (lambda (r) (assoc-ref r "spec"))
                                              (vector->list (assoc-ref c "resizes"))))
                             many)))
      (and (member "+15M" specs) (member "256M" specs)
           (any (lambda (s) (string-prefix? "-" s)) specs))))
  (test-assert "regrow shrinks then returns to the start size"
    (every (lambda (c)
             (or (not (equal? (assoc-ref c "op") "regrow"))
                 (let ((ends (case-end-bytes c)) (start (parse-size-string (assoc-ref c "size"))))
                   (and (< (car ends) start) (= (cadr ends) start)))))
           many))
  (test-assert "preallocation only where cheap"
    (every (lambda (c)
             (let ((ends (case-end-bytes c)))
               (every (lambda (r from end)
                        (let ((p (assoc-ref r "prealloc")))
                          (or (not (string? p)) (<= end from)
                              (prealloc-allowed? (assoc-ref c "format") p from end))))
                      (vector->list (assoc-ref c "resizes"))
                      (cons (parse-size-string (assoc-ref c "size")) ends)
                      ends)))
           many))
  (test-assert "raw never gets metadata preallocation at create"
    (every (lambda (c) (or (equal? (assoc-ref c "format") "qcow2")
                           (not (equal? (assoc-ref c "create-prealloc") "metadata"))))
           many))
  (test-assert "the first pattern is at offset 0"
    (every (lambda (c) (= 0 (assoc-ref (vector-ref (assoc-ref c "patterns") 0) "offset"))) many))
  (test-assert "patterns stay inside the start image"
    (every (lambda (c)
             (let ((size (parse-size-string (assoc-ref c "size"))))
               (every (lambda (p) (<= (+ (assoc-ref p "offset") (assoc-ref p "length")) size))
                      (vector->list (assoc-ref c "patterns")))))
           many))
  (test-assert "--formats restricts"
    (every (lambda (c) (equal? (assoc-ref c "format") "raw")) (cases 30 #:formats '("raw")))))

(test-group "held start mode"
  (define plain (cases 400 #:ops '("resize" "resize-shared" "regrow")))
  (define held (filter (lambda (c) (equal? (assoc-ref c "start-mode") "held")) all-cases))
  (test-assert "drawn among the default ops" (pair? held))
  (test-assert "rarely: at most 1 in 10 of the cases"
    (< (* 10 (length held)) (length all-cases)))
  (start-mode-only-as "held" "resize-held" held plain)
  (test-assert "the draw shifts no other choice: old seeds pick the same cases"
    (and (= (length all-cases) (length plain))
         (every (lambda (a b) (or (equal? (assoc-ref a "start-mode") "backing")
                                  (equal? (unheld a) b)))
                all-cases plain)))
  (test-assert "held cases: each side creates a clean image qemu accepts"
    (every (lambda (c) (and (equal? (assoc-ref c "create-expect") "ok")
                            (equal? (assoc-ref c "image-state") "clean")))
           held))
  (test-assert "every resize of a held case must be refused, as family held"
    (every (lambda (c) (every (lambda (r) (and (equal? (assoc-ref r "family") "held")
                                               (equal? (assoc-ref r "expect") "refuse")))
                              (vector->list (assoc-ref c "resizes"))))
           held))
  (test-assert "resize-held alone: every qcow2 case is held, raw ones are not"
    (every (lambda (c) (equal? (equal? (assoc-ref c "start-mode") "held")
                               (equal? (assoc-ref c "format") "qcow2")))
           (cases 40 #:ops '("resize-held")))))

(test-group "backing start mode"
  (define plain (cases 400 #:ops '("resize" "resize-shared" "regrow" "resize-held")))
  (define backing (filter (lambda (c) (equal? (assoc-ref c "start-mode") "backing")) all-cases))
  (define (bsize c) (string->number (assoc-ref (assoc-ref c "backing") "size")))
  (test-assert "drawn among the default ops, not for most cases"
    (and (pair? backing) (< (* 5 (length backing)) (length all-cases))))
  (start-mode-only-as "backing" "resize-backing" backing plain)
  (test-assert "the draw shifts no other choice"
    (every (lambda (a b) (or (equal? (assoc-ref a "start-mode") "backing") (equal? a b)))
           all-cases plain))
  (test-assert "the backing image is longer than the start and every end"
    (every (lambda (c) (every (lambda (e) (< e (bsize c)))
                              (cons (parse-size-string (assoc-ref c "size"))
                                    (case-end-bytes c))))
           backing))
  (test-assert "the start image is created without preallocation"
    (every (lambda (c) (equal? (assoc-ref c "create-prealloc") "off")) backing))
  (test-assert "its patterns lie inside it"
    (every (lambda (c) (every (lambda (p) (<= (+ (assoc-ref p "offset") (assoc-ref p "length"))
                                              (bsize c)))
                              (vector->list (assoc-ref (assoc-ref c "backing") "patterns"))))
           backing))
  (test-assert "every resize supported, or v2-zero to be refused"
    (every (lambda (c) (every (lambda (r) (or (equal? (assoc-ref r "expect") "ok")
                                              (equal? (assoc-ref r "family") "v2-zero")))
                              (vector->list (assoc-ref c "resizes"))))
           backing))
  (test-assert "resize-backing alone: backing cases wherever they can be"
    (let ((cs (cases 40 #:formats '("qcow2") #:ops '("resize-backing"))))
      (< 20 (count (lambda (c) (equal? (assoc-ref c "start-mode") "backing")) cs))))
  (test-equal "compat 0.10 grow over it: family v2-zero"
    '("v2-zero" . "refuse")
    (let* ((c (label-case `(("op" . "resize-backing") ("format" . "qcow2")
                            ("start-mode" . "backing") ("size" . "1M")
                            ("options" . (("compat" . "0.10")))
                            ("patterns" . #()) ("image-state" . "clean")
                            ("resizes" . #((("spec" . "4M") ("shrink" . #f) ("prealloc" . null))))
                            ("backing" . (("size" . "8388608") ("patterns" . #()))))))
           (r (vector-ref (assoc-ref c "resizes") 0)))
      (cons (assoc-ref r "family") (assoc-ref r "expect"))))
  (test-assert "its chain creates the backing image first and measures usage"
    (let ((chain (case->chain (car backing))))
      (and (equal? (assoc-ref (car chain) "step") "create-backing")
           (equal? (assoc-ref (car chain) "side") "reference")
           (any (lambda (s) (equal? (assoc-ref s "step") "copy")) chain)
           (= 2 (count (lambda (s) (equal? (assoc-ref s "step") "usage")) chain))))))

(test-group "usage tolerance"
  (call-with-values (lambda () (usage-tolerance 65536 0 (* 16 1024 1024)))
    (lambda (above below)
      (test-equal "above: four clusters and a sixteenth" (+ (* 4 65536) (* 1024 1024)) above)
      (test-equal "below: eight clusters and a quarter" (+ (* 8 65536) (* 4 1024 1024)) below)))
  (test-assert "33 MiB where qemu keeps 1.2 MiB is outside it"
    (call-with-values (lambda () (usage-tolerance 65536 (* 33 1024 1024) 1257472))
      (lambda (above below) (> (* 33 1024 1024) (+ 1257472 above))))))

(test-group "create and consistency cases"
  (let ((cs (map (lambda (i) (pick-create-case (make-rng i))) (iota 200))))
    (test-assert "all five formats"
      (every (lambda (f) (any (lambda (c) (equal? (assoc-ref c "format") f)) cs))
             '("raw" "qcow2" "vpc" "vhdx" "vmdk")))
    (test-assert "qcow2 create options are labelled"
      (every (lambda (c) (or (not (equal? (assoc-ref c "format") "qcow2"))
                             (member (assoc-ref c "create-family")
                                     '("supported" "bad-create-option" "at-limit" "past-limit"))))
             cs))
    (test-assert "sizes at and past the format's limits are drawn"
      (let ((fams (map (lambda (c) (assoc-ref c "create-family")) cs)))
        (and (member "at-limit" fams) (member "past-limit" fams))))
    (test-assert "no resizes in a create case"
      (every (lambda (c) (zero? (vector-length (assoc-ref c "resizes")))) cs)))
  (let* ((all (map (lambda (i) (pick-consistency-case (make-rng i))) (iota 300)))
         (cs (filter plain? all)))
    (test-assert "consistency cases draw refusal families too"
      (every (lambda (f) (any (lambda (c) (member f (family-of c))) all))
             '("shrink-without-flag" "prealloc-not-growing" "prealloc-unsupported" "unaligned"
               "past-limit" "at-limit" "non-positive" "bad-spec" "suffix-edge" "same-size")))
    (test-assert "only formats qemu-img cannot resize"
      (every (lambda (c) (member (assoc-ref c "format") '("vpc" "vhdx" "vmdk"))) cs))
    (test-assert "--shrink when the end is not above the start, and always for vpc"
      (every (lambda (c)
               (let ((r (vector-ref (assoc-ref c "resizes") 0))
                     (start (parse-size-string (assoc-ref c "size"))))
                 (eq? (assoc-ref r "shrink")
                      (or (<= (car (case-end-bytes c)) start)
                          (equal? (assoc-ref c "format") "vpc")))))
             cs))))

(test-group "refusal families"
  (let ((m (* 1024 1024)))
    (define (cls fmt cur spec shrink prealloc . keys)
      (apply classify-resize fmt cur spec shrink prealloc keys))
    ;; Each expectation measured with qemu-img 7.2 on a 16M image.
    (test-equal "smaller without --shrink" '("shrink-without-flag" . "refuse") (cls "qcow2" (* 16 m) "8M" #f #f))
    (test-equal "shrink with preallocation" '("prealloc-not-growing" . "refuse") (cls "raw" (* 16 m) "8M" #t "falloc"))
    (test-equal "same size with preallocation" '("prealloc-not-growing" . "refuse") (cls "raw" (* 16 m) "+0" #f "falloc"))
    (test-equal "shrink with --preallocation=off is fine" '("supported" . "ok") (cls "qcow2" (* 16 m) "8M" #t "off"))
    (test-equal "+0" '("same-size" . "ok") (cls "qcow2" (* 16 m) "+0" #f #f))
    (test-equal "-0" '("same-size" . "ok") (cls "raw" (* 16 m) "-0" #f #f))
    (test-equal "qcow2 +1000" '("unaligned" . "refuse") (cls "qcow2" (* 16 m) "+1000" #f #f))
    (test-equal "raw +1000" '("supported" . "ok") (cls "raw" (* 16 m) "+1000" #f #f))
    (test-equal "+1.1k truncates to 1126" '("unaligned" . "refuse") (cls "qcow2" (* 16 m) "+1.1k" #f #f))
    (test-equal "negative" '("non-positive" . "refuse") (cls "raw" (* 16 m) "-20M" #t #f))
    (test-equal "zero" '("non-positive" . "refuse") (cls "qcow2" (* 16 m) "-16M" #t #f))
    (test-equal "+8E overflows" '("non-positive" . "refuse") (cls "qcow2" (* 16 m) "+8E" #f #f))
    (test-equal "+1KB" '("bad-spec" . "refuse") (cls "qcow2" (* 16 m) "+1KB" #f #f))
    (test-equal "+-1M" '("bad-spec" . "refuse") (cls "raw" (* 16 m) "+-1M" #f #f))
    (test-equal "trailing blank" '("bad-spec" . "refuse") (cls "raw" (* 16 m) "+1M " #f #f))
    (test-equal "+1.5M" '("suffix-edge" . "ok") (cls "qcow2" (* 16 m) "+1.5M" #f #f))
    (test-equal "++1M" '("suffix-edge" . "ok") (cls "qcow2" (* 16 m) "++1M" #f #f))
    (test-equal "leading blank makes it absolute" '("shrink-without-flag" . "refuse")
      (cls "qcow2" (* 16 m) " +1M" #f #f))
    (test-equal "qcow2 L1 limit, 64K clusters" 2251799813685248 (qcow2-l1-limit 65536))
    (test-equal "exactly at the limit" '("at-limit" . "ok") (cls "qcow2" (* 16 m) "2251799813685248" #f #f))
    (test-equal "512 past it" '("past-limit" . "refuse") (cls "qcow2" (* 16 m) "2251799813685760" #f #f))
    (test-equal "past it with 512-byte clusters" '("past-limit" . "refuse")
      (cls "qcow2" (* 16 m) "+128G" #f #f #:options '(("cluster_size" . "512"))))
    (test-equal "corrupt before anything but parsing" '("corrupt" . "refuse")
      (cls "qcow2" (* 16 m) "8M" #f #f #:state "corrupt"))
    (test-equal "dirty: refused on purpose" '("dirty" . "refuse") (cls "qcow2" (* 16 m) "32M" #f #f #:state "dirty"))
    (test-equal "v2 with snapshots, same size" '("v2-snapshots" . "refuse")
      (cls "qcow2" (* 16 m) "16M" #f #f #:state "snapshots" #:options '(("compat" . "0.10"))))
    (test-equal "v3 with snapshots" '("snapshots" . "ok") (cls "qcow2" (* 16 m) "32M" #f #f #:state "snapshots"))
    (test-equal "raw metadata" '("prealloc-unsupported" . "refuse") (cls "raw" (* 16 m) "32M" #f "metadata"))
    (test-equal "vhdx past 64T" '("past-limit" . "refuse") (cls "vhdx" (* 16 m) "65T" #f #f))
    (test-equal "vpc at 2040G" '("at-limit" . "ok") (cls "vpc" (* 16 m) "2040G" #t #f))
    (test-equal "vpc past 2040G" '("past-limit" . "refuse") (cls "vpc" (* 16 m) "2041G" #t #f))
    (test-equal "vhdx prealloc on grow" '("prealloc-unsupported" . "refuse") (cls "vhdx" (* 16 m) "+16M" #f "falloc")))
  (test-equal "extended_l2 with 4K clusters" '("bad-create-option" . "refuse")
    (classify-create "qcow2" '(("extended_l2" . "on") ("cluster_size" . "4096"))))
  (test-equal "refcount_bits=3" '("bad-create-option" . "refuse") (classify-create "qcow2" '(("refcount_bits" . "3"))))
  (test-equal "compat=1.2" '("bad-create-option" . "refuse") (classify-create "qcow2" '(("compat" . "1.2"))))
  (test-equal "compat=v3, 64k clusters" '("supported" . "ok")
    (classify-create "qcow2" '(("compat" . "v3") ("cluster_size" . "64k"))))
  (test-equal "a held image: every resize must be refused" '("held" "refuse")
    (let ((r (vector-ref (assoc-ref (label-case
                                     '(("op" . "resize-held") ("format" . "qcow2") ("start-mode" . "held")
                                       ("size" . "16M") ("options" . ()) ("patterns" . #())
                                       ("resizes" . #((("spec" . "+1M") ("shrink" . #f) ("prealloc" . null))))))
                                    "resizes")
                         0)))
      (list (assoc-ref r "family") (assoc-ref r "expect"))))
  (test-equal "parse +1.5M as qemu does" 1572864 (parse-qemu-size "+1.5M"))
  (test-equal "parse 0x200" 512 (parse-qemu-size "0x200"))
  (test-assert "1.5 without a suffix does not parse" (not (parse-qemu-size "1.5")))
  (let* ((all (cases 1000))
         (drawn (filter (lambda (c) (not (plain? c))) all))
         (families (delete-duplicates
                    (append (append-map family-of all)
                            (filter-map (lambda (c) (assoc-ref c "create-family")) all)))))
    (test-assert "about a quarter of the cases are in a family (documented: 28 of 100 drawn)"
      (< 200 (length drawn) 380))
    (test-assert "every refusal family is drawn"
      (every (lambda (f) (member f families)) refusal-families))
    (test-assert "every resize is labelled ok or refuse"
      (every (lambda (c) (every (lambda (r) (member (assoc-ref r "expect") '("ok" "refuse")))
                                (vector->list (assoc-ref c "resizes"))))
             all))
    (test-assert "image states only on qcow2 shared images"
      (every (lambda (c) (or (equal? (assoc-ref c "image-state") "clean")
                             (and (equal? (assoc-ref c "format") "qcow2")
                                  (equal? (assoc-ref c "start-mode") "shared"))))
             all))))

;; Table grows: resize-consistency draws, for every format, supported
;; grows past what the block table qemu-img laid out can map (VHDX: the
;; 1 MiB BAT region, 1022 GiB of 8 MiB blocks; VMDK: the one-sector
;; grain directory, 4 GiB), so a planner that moves the table is tested.
(let* ((cases (map (lambda (i) (pick-consistency-case (make-rng (iteration-seed 42 i))))
                   (iota 200)))
       (end-of (lambda (c) (resolve-spec (parse-size-string (assoc-ref c "size"))
                                         (assoc-ref (vector-ref (assoc-ref c "resizes") 0) "spec"))))
       (ok? (lambda (c) (equal? "ok" (assoc-ref (vector-ref (assoc-ref c "resizes") 0) "expect")))))
  (test-assert "consistency: a supported VHDX grow past its BAT region"
    (any (lambda (c) (and (equal? (assoc-ref c "format") "vhdx") (ok? c)
                          (not (assoc-ref (assoc-ref c "options") "block_size"))
                          (> (end-of c) (* 1022 (expt 2 30)))))
         cases))
  (test-assert "consistency: a supported VMDK grow past its grain directory"
    (any (lambda (c) (and (equal? (assoc-ref c "format") "vmdk") (ok? c)
                          (> (end-of c) (* 4 (expt 2 30)))))
         cases)))

;; Snapshot images: first a preallocating grow by one L2 table's reach,
;; so copy-on-write of the shared table holding the old end and new
;; tables past it meet in one plan.
(let* ((cases (map (lambda (i) (pick-resize-case (make-rng (iteration-seed 42 i))))
                   (iota 200)))
       (grow? (lambda (c)
                (let ((r (vector-ref (assoc-ref c "resizes") 0))
                      (cs (string->number (or (assoc-ref (assoc-ref c "options") "cluster_size")
                                              "65536"))))
                  (and (equal? (assoc-ref c "image-state") "snapshots")
                       (equal? (assoc-ref r "expect") "ok")
                       (member (assoc-ref r "prealloc") '("metadata" "falloc" "full"))
                       (>= (- (resolve-spec (parse-size-string (assoc-ref c "size"))
                                            (assoc-ref r "spec"))
                              (parse-size-string (assoc-ref c "size")))
                           (* cs (quotient cs 16))))))))
  (test-assert "resize-diff --seed 42: a snapshot image grown with preallocation across an L2 table"
    (any grow? cases))
  ;; Bitmap images: first a grow by one bitmap table entry's reach, so
  ;; the bitmap tables change size and are rewritten.
  (test-assert "resize-diff --seed 42: a bitmap image grown so its bitmap table changes size"
    (any (lambda (c)
           (let* ((r (vector-ref (assoc-ref c "resizes") 0))
                  (cs (string->number (or (assoc-ref (assoc-ref c "options") "cluster_size")
                                          "65536")))
                  (per (* (max 4096 cs) cs 8))
                  (start (parse-size-string (assoc-ref c "size")))
                  (end (resolve-spec start (assoc-ref r "spec"))))
             (and (equal? (assoc-ref c "image-state") "bitmaps")
                  (equal? (assoc-ref r "expect") "ok")
                  (> (quotient (+ end per -1) per) (quotient (+ start per -1) per)))))
         cases))
  (test-assert "a prepended grow leaves one drawn resize, --shrink set for the grown size"
    (every (lambda (c)
             (let ((rs (assoc-ref c "resizes")))
               (or (not (member (assoc-ref c "image-state") '("snapshots" "bitmaps")))
                   (= (vector-length rs) 1)
                   (let* ((start (parse-size-string (assoc-ref c "size")))
                          (grown (resolve-spec start (assoc-ref (vector-ref rs 0) "spec")))
                          (end (resolve-spec grown (assoc-ref (vector-ref rs 1) "spec"))))
                     (and (= (vector-length rs) 2)
                          (eq? (assoc-ref (vector-ref rs 1) "shrink") (< end grown)))))))
           cases)))

(test-end "pickers")
