;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; core.scm -- every primitive of (instar core) on good input.
(use-modules (srfi srfi-64)
             (srfi srfi-1)
             (rnrs bytevectors)
             (ice-9 binary-ports)
             (instar core))

(define (instar-error-of thunk)
  "The instar-error symbol THUNK raises, or 'no-error."
  (catch 'instar-error
    (lambda () (thunk) 'no-error)
    (lambda (key name . _) name)))

(define tmpdir
  (let ((template (string-append (or (getenv "TMPDIR") "/tmp") "/instar-scm.XXXXXX")))
    (mkdtemp template)))
(define (tmp name) (string-append tmpdir "/" name))
(define (file-size path) (stat:size (stat path)))
(define (write-bytes path bv)
  (call-with-output-file path (lambda (p) (put-bytevector p bv)) #:binary #t))

(test-begin "core")

;;; sizes
(test-group "parse-size"
  (test-equal "1.5M" 1572864 (parse-size "1.5M"))
  (test-equal "512" 512 (parse-size "512"))
  (test-equal "0x200" 512 (parse-size "0x200"))
  (test-equal "1k" 1024 (parse-size "1k"))
  (test-equal "leading blanks" (* 1024 1024 1024) (parse-size "  1G"))
  (test-equal "largest" (- (expt 2 64) 1) (parse-size "18446744073709551615"))
  (test-equal "syntax error" 'size-syntax (instar-error-of (lambda () (parse-size "abc"))))
  (test-equal "trailing garbage" 'size-syntax (instar-error-of (lambda () (parse-size "1Mx"))))
  (test-equal "2^64 is out of range" 'size-range
    (instar-error-of (lambda () (parse-size "18446744073709551616"))))
  (test-equal "16E is out of range" 'size-range (instar-error-of (lambda () (parse-size "16E")))))

(test-group "parse-size-spec"
  (test-equal "+1M" '(plus . 1048576) (parse-size-spec "+1M"))
  (test-equal "-512" '(minus . 512) (parse-size-spec "-512"))
  (test-equal "2G" `(absolute . ,(* 2 1024 1024 1024)) (parse-size-spec "2G"))
  (test-equal "bad" 'size-syntax (instar-error-of (lambda () (parse-size-spec "+-1")))))

;;; hashes: the published XXH3 anchors.
(test-group "xxh3"
  (test-equal "xxh3-64 empty" #x2D06800538D394C2 (xxh3-64 #vu8()))
  (test-equal "xxh3-64 empty string" #x2D06800538D394C2 (xxh3-64 ""))
  (test-equal "xxh3-64 a" #xE6C632B61E964E1F (xxh3-64 "a"))
  (test-equal "xxh3-64 abc" #x78AF5F94892F3950 (xxh3-64 (string->utf8 "abc")))
  (test-equal "xxh3-128 empty" #x99AA06D3014798D86001C324468D497F (xxh3-128 #vu8()))
  (test-equal "strings hash as UTF-8" (xxh3-64 (string->utf8 "h\u00e9llo \u2603"))
    (xxh3-64 "h\u00e9llo \u2603"))
  (test-equal "128 as UTF-8 too" (xxh3-128 (string->utf8 "\u00e9")) (xxh3-128 "\u00e9"))
  (test-assert "64-bit range" (< (xxh3-64 "x") (expt 2 64)))
  (test-assert "128-bit range and wider than 64"
    (let ((h (xxh3-128 "instar"))) (and (< h (expt 2 128)) (> h 0))))
  (test-assert "different inputs differ" (not (= (xxh3-64 "a") (xxh3-64 "b"))))
  (test-equal "large bytevector is hashed whole"
    #f (= (xxh3-64 (make-bytevector 100000 0))
          (xxh3-64 (let ((bv (make-bytevector 100000 0)))
                     (bytevector-u8-set! bv 99999 1) bv)))))

;;; plans from the raw planner
(test-group "plan accessors"
  (let ((p (plan-resize-raw #:current-file-size 1048576 #:new-size 2097152
                            #:prealloc 'falloc)))
    (test-assert "plan?" (plan? p))
    (test-assert "not a plan" (not (plan? 42)))
    (test-eq "action" 'grow (plan-action p))
    (test-eq "format" 'raw (plan-format p))
    (test-equal "total" 2097152 (plan-total-file-size p))
    (test-equal "new virtual" 2097152 (plan-new-virtual-size p))
    (test-equal "old virtual" 1048576 (plan-old-virtual-size p))
    (test-equal "prealloc range" '(1048576 . 1048576) (plan-prealloc-range p))
    (test-equal "no patches" '() (plan-patches p))
    (test-equal "patch count" 0 (plan-patch-count p))
    (test-equal "valid" '() (plan-check p)))
  (let* ((p (plan-resize-raw #:current-file-size 0 #:new-size 5000))
         (patch (car (plan-patches p))))
    (test-equal "first-block write" 1 (plan-patch-count p))
    (test-eq "zero-fill" 'zero-fill (patch-kind patch))
    (test-equal "offset" 0 (patch-offset patch))
    (test-equal "length" 4096 (patch-length patch))
    (test-eq "zero-fill has no payload" #f (patch-payload patch)))
  (test-eq "shrink" 'shrink
    (plan-action (plan-resize-raw #:current-file-size 4096 #:new-size 512 #:allow-shrink? #t)))
  (test-eq "noop" 'noop
    (plan-action (plan-resize-raw #:current-file-size 4096 #:new-size 4096)))
  (test-eq "prealloc as a string" 'grow
    (plan-action (plan-resize-raw #:current-file-size 512 #:new-size 1024 #:prealloc "full"))))

;;; hand-made plans and the invariant checker
(test-group "plan-check"
  (define (invariants . args)
    (map violation-invariant (plan-check (apply make-plan args))))
  (let ((good (make-plan #:action 'grow #:total-file-size 4096
                         #:patches (list (make-patch 'write 0 4 #vu8(1 2 3 4))
                                         (make-patch 'zero-fill 512 512 #f)))))
    (test-equal "a valid hand-made plan" '() (plan-check good))
    (test-equal "payload copied" #vu8(1 2 3 4) (patch-payload (car (plan-patches good))))
    (test-eq "hand-made plans have no format" #f (plan-format good)))
  (test-equal "invariant 1: too many patches" '(1)
    (invariants #:total-file-size 1000000
                #:patches (map (lambda (i) (make-patch 'zero-fill (* i 10) 1 #f)) (iota 129))))
  (test-equal "128 patches are fine" '()
    (invariants #:total-file-size 1000000
                #:patches (map (lambda (i) (make-patch 'zero-fill (* i 10) 1 #f)) (iota 128))))
  (test-equal "invariant 2: offset + length wraps" '(2)
    (invariants #:total-file-size 4096
                #:patches (list (make-patch 'zero-fill (- (expt 2 64) 1) 2 #f))))
  (test-equal "invariant 3: beyond the end" '(3)
    (invariants #:total-file-size 4096
                #:patches (list (make-patch 'zero-fill 4000 97 #f))))
  (test-equal "invariant 4: overlapping writes" '(4)
    (invariants #:total-file-size 4096
                #:patches (list (make-patch 'write 0 16 #f) (make-patch 'write 8 16 #f))))
  (let ((v (car (plan-check (make-plan #:total-file-size 4096
                                       #:patches (list (make-patch 'write 0 16 #f)
                                                       (make-patch 'write 8 16 #f)))))))
    (test-equal "violation names both patches" '(0 1) (violation-patches v))
    (test-assert "violation message" (string? (violation-message v))))
  (test-equal "appends may overlap writes" '()
    (invariants #:total-file-size 4096
                #:patches (list (make-patch 'write 0 16 #f) (make-patch 'append 8 16 #f)))))

;;; Plans own their payloads: they survive the collector after the
;;; bytevectors they were made from are gone.
(test-group "plans survive garbage collection"
  (let ((plans (map (lambda (i)
                      (make-plan #:total-file-size 1000000
                                 #:patches (list (make-patch 'write (* i 1000) 600
                                                             (make-bytevector 600 (modulo i 256))))))
                    (iota 200))))
    (do ((i 0 (+ i 1))) ((= i 5))
      (make-list 200000 i)
      (gc))
    (test-assert "every payload intact"
      (every (lambda (p i)
               (equal? (patch-payload (car (plan-patches p))) (make-bytevector 600 (modulo i 256))))
             plans (iota 200)))))

;;; images on files
(test-group "images"
  (let ((raw (tmp "a.raw")))
    (test-assert "create raw" (image-create raw #:format 'raw #:size (* 1024 1024)))
    (test-equal "created size" 1048576 (file-size raw))
    (test-eq "probe raw" 'raw (image-probe raw))
    (let ((p (image-plan raw "+1M")))
      (test-eq "plan grows" 'grow (plan-action p))
      (test-equal "plan total" 2097152 (plan-total-file-size p))
      (test-equal "plan leaves the file alone" 1048576 (file-size raw)))
    (test-assert "resize +1M" (image-resize raw "+1M"))
    (test-equal "resized" 2097152 (file-size raw))
    (test-equal "shrink needs the flag" 'shrink-needs-flag
      (instar-error-of (lambda () (image-resize raw "-1M"))))
    (test-equal "refused shrink left the size" 2097152 (file-size raw))
    (test-assert "shrink with #:shrink?" (image-resize raw "-1M" #:shrink? #t))
    (test-equal "shrunk" 1048576 (file-size raw))
    (test-assert "integer size spec" (image-resize raw 3072 #:shrink? #t #:format 'raw))
    (test-equal "absolute" 3072 (file-size raw))
    (test-assert "pair size spec" (image-resize raw '(plus . 1024)))
    (test-equal "plus pair" 4096 (file-size raw))
    (test-assert "falloc grow" (image-resize raw "8K" #:prealloc 'falloc))
    (test-equal "falloc grown" 8192 (file-size raw))
    (test-equal "metadata prealloc unsupported on raw" 'unsupported-prealloc
      (instar-error-of (lambda () (image-resize raw "+1M" #:prealloc 'metadata))))
    (test-equal "size string" 1536
      (begin (image-create raw #:size "1.5K") (file-size raw)))
    (test-equal "create rounds up to 512" 1024
      (begin (image-create raw #:size 1000) (file-size raw)))
    (test-assert "full preallocation create" (image-create raw #:size 65536 #:prealloc 'full))
    (test-equal "unknown create option" 'invalid-option
      (instar-error-of (lambda () (image-create raw #:size 512 #:options '(("bogus" . "1"))))))
    (test-equal "preallocation through options" 4096
      (begin (image-create raw #:size 4096 #:options '(("preallocation" . falloc)))
             (file-size raw))))
  (test-group "image-plan opens the backing chain"
    ;; An overlay over a longer backing file: the grow zeroes the new
    ;; range (a new L2 table), so the plan is the one image-resize applies.
    (let ((base (tmp "long.raw")) (ov (tmp "overlay.qcow2")))
      (image-create base #:format 'raw #:size (* 2 1024 1024))
      (test-assert "qemu-img made the overlay"
        (and (getenv "QEMU_IMG")
             (zero? (system* (getenv "QEMU_IMG") "create" "-q" "-f" "qcow2" "-b" base
                             "-F" "raw" ov "1M"))))
      (let ((p (image-plan ov "3M")))
        (test-assert "the plan writes more than the header" (> (plan-patch-count p) 1))
        (image-resize ov "3M")
        (test-equal "its file size is the resized one" (file-size ov)
          (plan-total-file-size p)))))
  (test-group "image-apply-plan"
    (let ((f (tmp "apply.raw")))
      (image-create f #:size 4096)
      (let ((p (image-plan f "+4K" #:prealloc 'falloc)))
        (test-eq "the plan remembers its preallocation mode" 'falloc (plan-prealloc p))
        (test-assert "apply an engine plan" (image-apply-plan f p))
        (test-equal "applied" 8192 (file-size f)))
      (let ((p (make-plan #:total-file-size 8192
                          #:patches (list (make-patch 'write 100 4 #vu8(1 2 3 4))
                                          (make-patch 'write 200 2 #vu8(9 9))))))
        (test-assert "crash after the first patch" (image-apply-plan f p #:limit 1))
        (test-equal "only the first patch landed" '(1 2 3 4 0 0)
          (let ((bv (call-with-input-file f get-bytevector-all #:binary #t)))
            (list (bytevector-u8-ref bv 100) (bytevector-u8-ref bv 101) (bytevector-u8-ref bv 102)
                  (bytevector-u8-ref bv 103) (bytevector-u8-ref bv 200) (bytevector-u8-ref bv 201))))
        (test-assert "the whole plan" (image-apply-plan f p))
        (test-equal "second patch too" '(9 9)
          (let ((bv (call-with-input-file f get-bytevector-all #:binary #t)))
            (list (bytevector-u8-ref bv 200) (bytevector-u8-ref bv 201)))))
      (test-equal "a plan breaking an invariant is refused" 'invalid-argument
        (instar-error-of
         (lambda () (image-apply-plan f (make-plan #:total-file-size 10
                                                   #:patches (list (make-patch 'write 8 4 #vu8(1 1 1 1))))))))
      (test-equal "a write without payload is refused" 'invalid-argument
        (instar-error-of
         (lambda () (image-apply-plan f (make-plan #:total-file-size 8192
                                                   #:patches (list (make-patch 'write 0 4 #f)))))))
      (test-equal "the refusals left the file" 8192 (file-size f))
      (test-equal "a missing file" 'io-error
        (instar-error-of (lambda () (image-apply-plan (tmp "none") (make-plan #:total-file-size 1)))))))
  (test-group "probe by content"
    (let ((f (tmp "probe")))
      (define (probe-bytes bv) (write-bytes f bv) (image-probe f))
      (test-eq "empty is raw" 'raw (probe-bytes #vu8()))
      (test-eq "QFI\\xfb" 'qcow2 (probe-bytes (u8-list->bytevector '(81 70 73 #xfb 0 0 0 3))))
      (test-eq "vhdxfile" 'vhdx (probe-bytes (string->utf8 "vhdxfile........")))
      (test-eq "KDMV" 'vmdk (probe-bytes (string->utf8 "KDMV")))
      (test-eq "conectix at the front" 'vpc (probe-bytes (string->utf8 "conectix")))
      (test-eq "conectix footer at the end" 'vpc
        (probe-bytes (let ((bv (make-bytevector 2048 0)))
                       (bytevector-copy! (string->utf8 "conectix") 0 bv 1536 8)
                       bv))))))

;;; fuzz inputs
(test-group "fuzz-decode"
  (let* ((bv (make-bytevector 40 0)))
    (bytevector-u8-set! bv 0 7)                 ; 7 mod 6 = 1: qcow2-grow
    (bytevector-u8-set! bv 1 #x2b)              ; shrink, ext-l2, raw slices, prealloc 2
    (bytevector-u8-set! bv 2 15)                ; 15 mod 8 = 7: 0xff
    (bytevector-u8-set! bv 3 9)
    (bytevector-u32-set! bv 4 65536 (endianness little))
    (bytevector-u64-set! bv 8 (* 64 1024 1024) (endianness little))
    (bytevector-u64-set! bv 16 (- (expt 2 64) 1) (endianness little))
    (bytevector-u64-set! bv 24 196608 (endianness little))
    (let ((h (fuzz-decode bv)))
      (test-eq "target" 'qcow2-grow (assq-ref h 'target))
      (test-equal "format byte" 7 (assq-ref h 'format-byte))
      (test-equal "flags" #x2b (assq-ref h 'flags))
      (test-eq "allow-shrink" #t (assq-ref h 'allow-shrink?))
      (test-eq "extended-l2" #t (assq-ref h 'extended-l2?))
      (test-eq "lazy-refcounts" #f (assq-ref h 'lazy-refcounts?))
      (test-eq "raw slices" #t (assq-ref h 'raw-slices?))
      (test-eq "prealloc" 'falloc (assq-ref h 'prealloc))
      (test-equal "refcount bits 0xff" #xff (assq-ref h 'refcount-bits))
      (test-equal "subformat" 9 (assq-ref h 'subformat))
      (test-equal "unit size" 65536 (assq-ref h 'unit-size))
      (test-equal "current virtual" (* 64 1024 1024) (assq-ref h 'current-virtual-size))
      (test-equal "new virtual (u64 max)" (- (expt 2 64) 1) (assq-ref h 'new-virtual-size))
      (test-equal "current file" 196608 (assq-ref h 'current-file-size))
      (test-equal "pool" 8 (assq-ref h 'pool-length))))
  (test-equal "every selector maps"
    '(raw qcow2-grow qcow2-shrink vmdk vhd vhdx raw)
    (map (lambda (i)
           (let ((bv (make-bytevector 32 0)))
             (bytevector-u8-set! bv 0 i)
             (assq-ref (fuzz-decode bv) 'target)))
         (iota 7)))
  (test-equal "refcount selectors" '(1 2 4 8 16 32 64 255)
    (map (lambda (i)
           (let ((bv (make-bytevector 32 0)))
             (bytevector-u8-set! bv 2 i)
             (assq-ref (fuzz-decode bv) 'refcount-bits)))
         (iota 8)))
  (test-equal "short input" 'parse-failed
    (instar-error-of (lambda () (fuzz-decode (make-bytevector 31 0))))))

;;; the C loops of make bench live only in its uninstalled copy
(test-assert "no benchmark primitives in the extension"
  (not (or (module-bound? (resolve-module '(instar core)) '%bench-plan-raw-c)
           (module-bound? (resolve-module '(instar core)) '%bench-plan-check-c))))

;;; how a plan prints: format, action, sizes, patches
(test-group "plan printing"
  (let ((q (tmp "print.qcow2")))
    (image-create q #:format 'qcow2 #:size "1G")
    (let* ((plan (image-plan q "+1G"))
           (text (with-output-to-string (lambda () (write plan)))))
      (test-equal "qcow2 grow" (format #f "#<plan qcow2 grow 1G→2G ~a patches>"
                                       (plan-patch-count plan))
                  text)
      (test-equal "display prints the same" text
                  (with-output-to-string (lambda () (display plan))))))
  (test-equal "a hand-made plan, one patch"
    "#<plan hand-made noop 3M→1536K 1 patch>"
    (with-output-to-string
      (lambda ()
        (write (make-plan #:action 'noop #:old-virtual-size (* 3 1024 1024)
                          #:new-virtual-size (* 1536 1024) #:total-file-size 512
                          #:patches (list (make-patch 'zero-fill 0 512 #f))))))))

;;; the instar-error condition through guard-style handlers
(test-group "instar-error accessors"
  (let ((exn (with-exception-handler
                 (lambda (e) e)
               (lambda () (plan-resize-raw #:current-file-size 4096 #:new-size 512))
               #:unwind? #t)))
    (test-assert "instar-error?" (instar-error? exn))
    (test-eq "name" 'shrink-needs-flag (instar-error-name exn))
    ;; Scheme callers pass a keyword, not --shrink: the message names it.
    (test-assert "message names the keyword"
      (string-contains (instar-error-message exn) "#:shrink? #t"))
    (test-equal "no details" '() (instar-error-details exn)))
  (test-assert "other errors are not instar errors"
    (not (instar-error? (with-exception-handler (lambda (e) e)
                          (lambda () (car 1)) #:unwind? #t)))))

(test-group "documentation"
  (test-assert "every export is documented"
    (every (lambda (name)
             (let ((v (module-ref (resolve-interface '(instar core)) name)))
               (or (not (procedure? v)) (string? (procedure-documentation v)))))
           (module-map (lambda (name var) name) (resolve-interface '(instar core))))))

(test-end "core")
(system* "rm" "-rf" tmpdir)
