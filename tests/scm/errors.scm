;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; errors.scm -- every error path of (instar core): the core's refusals
;;; raise instar-error, bad arguments raise Guile's standard errors, and
;;; nothing a caller passes crashes the process.
(use-modules (srfi srfi-64)
             (srfi srfi-1)
             (rnrs bytevectors)
             (instar core))

(define (error-key thunk)
  "The key THUNK throws (instar-error, wrong-type-arg, ...) or 'no-error."
  (catch #t (lambda () (thunk) 'no-error) (lambda (key . _) key)))

(define (error-args thunk)
  (catch #t (lambda () (thunk) '()) (lambda (key . args) args)))

(define (instar-error-of thunk)
  (catch 'instar-error (lambda () (thunk) 'no-error) (lambda (key name . _) name)))

(define-syntax-rule (test-key name key expr)
  (test-equal name key (error-key (lambda () expr))))

(define big (expt 2 64))
(define tmpdir (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp") "/instar-scm.XXXXXX")))

(test-begin "errors")

(test-group "instar-error shape"
  (let ((args (error-args (lambda () (plan-resize-raw #:current-file-size 512 #:new-size 0)))))
    (test-eq "error symbol first" 'size-not-positive (car args))
    (test-equal "then the message" "New image size must be positive" (cadr args)))
  (let ((args (error-args (lambda () (image-probe (string-append tmpdir "/missing"))))))
    (test-eq "io-error for a missing file" 'io-error (car args))
    (test-assert "message names the file" (string-contains (cadr args) "missing"))
    (test-equal "errno detail" '((errno . 2)) (cddr args))))

(test-group "planner refusals (C errors)"
  (define (raw . args) (instar-error-of (lambda () (apply plan-resize-raw args))))
  (test-eq "size 0" 'size-not-positive (raw #:current-file-size 512 #:new-size 0))
  (test-eq "2^63" 'size-not-positive (raw #:current-file-size 512 #:new-size (expt 2 63)))
  (test-eq "u64 max" 'size-not-positive (raw #:current-file-size 512 #:new-size (- big 1)))
  (test-eq "beyond BDRV_MAX_LENGTH" 'too-large
    (raw #:current-file-size 512 #:new-size #x7fffffffc0000001))
  (test-eq "shrink flag" 'shrink-needs-flag (raw #:current-file-size 4096 #:new-size 512))
  (test-eq "prealloc shrink" 'prealloc-not-grow
    (raw #:current-file-size 4096 #:new-size 512 #:allow-shrink? #t #:prealloc 'full))
  (test-eq "metadata" 'unsupported-prealloc
    (raw #:current-file-size 512 #:new-size 4096 #:prealloc 'metadata))
  (test-eq "current size that overflows when rounded" 'overflow
    (raw #:current-file-size (- big 1) #:new-size 4096)))

(test-group "wrong types name the procedure"
  (test-key "new-size as string" 'wrong-type-arg (plan-resize-raw #:new-size "1M"))
  (test-key "new-size as float" 'wrong-type-arg (plan-resize-raw #:new-size 1.5))
  ;; As the manual says: a missing required keyword is a keyword error.
  (test-key "missing new-size" 'keyword-argument-error (plan-resize-raw #:current-file-size 1))
  (test-key "missing new-size (qcow2)" 'keyword-argument-error (plan-resize-qcow2))
  ;; One name for the shrink flag: #:shrink?, as image-resize; the old
  ;; planner name still works, but not both at once.
  (test-eq "#:shrink? on a planner" 'shrink
    (plan-action (plan-resize-raw #:current-file-size 4096 #:new-size 512 #:shrink? #t)))
  (test-eq "#:allow-shrink? still accepted" 'shrink
    (plan-action (plan-resize-raw #:current-file-size 4096 #:new-size 512 #:allow-shrink? #t)))
  (test-key "both names at once" 'keyword-argument-error
    (plan-resize-raw #:current-file-size 4096 #:new-size 512 #:shrink? #t #:allow-shrink? #t))
  (test-key "allow-shrink? not a boolean" 'wrong-type-arg
    (plan-resize-raw #:new-size 512 #:allow-shrink? 1))
  (test-key "prealloc a number" 'wrong-type-arg (plan-resize-raw #:new-size 512 #:prealloc 3))
  (test-key "unknown keyword" 'keyword-argument-error (plan-resize-raw #:new-size 512 #:bogus 1))
  (test-key "odd keyword list" 'keyword-argument-error (plan-resize-raw #:new-size))
  (test-key "positional argument" 'keyword-argument-error (plan-resize-raw 512))
  (test-key "slice not a bytevector" 'wrong-type-arg
    (plan-resize-qcow2 #:new-size 512 #:header "QFI"))
  (test-key "staged table not a list" 'wrong-type-arg
    (plan-resize-qcow2 #:new-size 512 #:refblocks 5))
  (test-key "staged table entry" 'wrong-type-arg
    (plan-resize-qcow2 #:new-size 512 #:l2-tables '((0 . "x"))))
  (test-key "staged table improper" 'wrong-type-arg
    (plan-resize-qcow2 #:new-size 512 #:l2-tables (cons (cons 0 #vu8(1)) 5)))
  (test-key "vhd disk type" 'wrong-type-arg (plan-resize-vhd #:new-size 512 #:disk-type "x"))
  (test-key "plan accessor on a non-plan" 'wrong-type-arg (plan-action 'x))
  (test-key "plan-patches on a non-plan" 'wrong-type-arg (plan-patches #f))
  (test-key "plan-check on a non-plan" 'wrong-type-arg (plan-check "plan"))
  (test-key "xxh3-64 of a number" 'wrong-type-arg (xxh3-64 42))
  (test-key "xxh3-128 of a list" 'wrong-type-arg (xxh3-128 '(1 2)))
  (test-key "fuzz-decode of a string" 'wrong-type-arg (fuzz-decode "0123456789abcdef0123456789abcdef"))
  (test-key "parse-size of a number" 'wrong-type-arg (parse-size 5))
  (test-key "parse-size-spec of a symbol" 'wrong-type-arg (parse-size-spec 'x))
  (test-key "image-probe of a number" 'wrong-type-arg (image-probe 1))
  (test-key "image-plan spec a float" 'wrong-type-arg (image-plan "/dev/null" 1.5))
  (test-key "image-plan spec a bad pair" 'wrong-type-arg (image-plan "/dev/null" '(up . 5)))
  (test-key "image-resize #:shrink? a string" 'wrong-type-arg
    (image-resize "/dev/null" "+1" #:shrink? "yes"))
  (test-key "image-create format a number" 'wrong-type-arg (image-create "/dev/null" #:format 1))
  (test-key "image-create options not a list" 'wrong-type-arg
    (image-create (string-append tmpdir "/x") #:size 512 #:options 'cluster_size))
  (test-key "image-create option value a list" 'wrong-type-arg
    (image-create (string-append tmpdir "/x") #:size 512 #:options '(("preallocation" 1 2))))
  (test-key "image-apply-plan with a non-plan" 'wrong-type-arg (image-apply-plan "/dev/null" 5))
  (test-key "image-apply-plan limit negative" 'out-of-range
    (image-apply-plan "/dev/null" (make-plan) #:limit -1))
  (test-key "make-plan prealloc" 'out-of-range (make-plan #:prealloc 'lots))
  (test-key "make-plan patches not records" 'wrong-type-arg (make-plan #:patches '(1)))
  (test-key "make-plan bad kind" 'out-of-range
    (make-plan #:patches (list (make-patch 'scribble 0 1 #f))))
  (test-key "make-plan payload length mismatch" 'out-of-range
    (make-plan #:total-file-size 10 #:patches (list (make-patch 'write 0 5 #vu8(1))))))

(test-group "out of range"
  (test-key "negative new-size" 'out-of-range (plan-resize-raw #:new-size -1))
  (test-key "new-size 2^64" 'out-of-range (plan-resize-raw #:new-size big))
  (test-key "huge current size" 'out-of-range
    (plan-resize-raw #:new-size 512 #:current-file-size (expt 10 40)))
  (test-key "negative qcow2 cluster bits" 'out-of-range
    (plan-resize-qcow2 #:new-size 512 #:cluster-bits -1))
  (test-key "u32 field beyond 2^32" 'out-of-range
    (plan-resize-qcow2 #:new-size 512 #:l1-size (expt 2 32)))
  (test-key "negative staged index" 'out-of-range
    (plan-resize-qcow2 #:new-size 512 #:refblocks (list (cons -1 #vu8(0)))))
  (test-key "a GUID that is not 16 bytes" 'out-of-range
    (plan-resize-vhdx #:new-size 512 #:file-write-guid (make-bytevector 15 0)))
  (test-key "unknown prealloc mode" 'out-of-range (plan-resize-raw #:new-size 512 #:prealloc 'most))
  (test-key "unknown format" 'out-of-range (image-plan "/dev/null" "+1" #:format 'qcow3))
  (test-key "negative integer size spec" 'out-of-range (image-plan "/dev/null" -512))
  (test-key "size spec beyond 2^64" 'out-of-range (image-resize "/dev/null" big))
  (test-key "image-create size beyond 2^64" 'out-of-range
    (image-create (string-append tmpdir "/x") #:size big))
  (test-key "string with NUL" 'out-of-range (parse-size "1\x00M"))
  (test-key "make-plan offset negative" 'out-of-range
    (make-plan #:patches (list (make-patch 'zero-fill -5 1 #f)))))

(test-group "the core refuses, the process survives"
  (test-eq "image-create size beyond int64" 'invalid-new-size
    (instar-error-of (lambda () (image-create (string-append tmpdir "/x") #:size (- big 1)))))
  (test-assert "a nonsense subformat is refused"
    (memq (instar-error-of (lambda () (image-create (string-append tmpdir "/v") #:size 512
                                                    #:format 'vmdk
                                                    #:options '(("subformat" . "nonsense")))))
          '(unsupported-format invalid-option unsupported-subformat)))
  (test-eq "create option for another format" 'invalid-option
    (instar-error-of (lambda () (image-create (string-append tmpdir "/x") #:size 512
                                              #:options '(("cluster_size" . "65536"))))))
  (test-eq "bad option value" 'invalid-option
    (instar-error-of (lambda () (image-create (string-append tmpdir "/x") #:size 512
                                              #:options '(("preallocation" . "lots"))))))
  (test-eq "create in a missing directory" 'io-error
    (instar-error-of (lambda () (image-create (string-append tmpdir "/no/such/dir") #:size 512))))
  (test-eq "plan a missing file" 'io-error
    (instar-error-of (lambda () (image-plan (string-append tmpdir "/none") "+1M"))))
  (test-eq "resize a missing file" 'io-error
    (instar-error-of (lambda () (image-resize (string-append tmpdir "/none") "+1M"))))
  (test-eq "size syntax in a spec" 'size-syntax
    (instar-error-of (lambda () (image-plan "/dev/null" "lots"))))
  (test-eq "size range in a spec" 'size-range
    (instar-error-of (lambda () (image-plan "/dev/null" "+16E"))))
  (test-eq "empty fuzz input" 'parse-failed (instar-error-of (lambda () (fuzz-decode #vu8())))))

;;; Hostile input to every planner: whatever the numbers and slices, the
;;; answer is a valid plan or an instar-error, never a crash.
(test-group "planners survive hostile input"
  (define state (seed->random-state 20261125))
  (define (rand-u64)
    (case (random 5 state)
      ((0) 0)
      ((1) (random 4096 state))
      ((2) (- big 1 (random 4096 state)))
      ((3) (* 512 (random (expt 2 40) state)))
      (else (random big state))))
  (define (rand-bv)
    (let ((bv (make-bytevector (case (random 4 state) ((0) 0) ((1) 1) ((2) 512) (else (random 70000 state)))
                               0)))
      (let loop ((i 0))
        (when (< i (bytevector-length bv))
          (bytevector-u8-set! bv i (random 256 state))
          (loop (+ i (+ 1 (random 64 state))))))
      bv))
  (define (outcome thunk)
    (catch 'instar-error
      (lambda () (let ((p (thunk))) (if (and (plan? p) (null? (plan-check p))) 'plan 'bad-plan)))
      (lambda _ 'refused)))
  (define (trial planner args)
    (outcome (lambda () (apply planner args))))
  (define common (lambda () (list #:new-size (rand-u64) #:current-file-size (rand-u64)
                                  #:allow-shrink? (zero? (random 2 state))
                                  #:prealloc (list-ref '(off metadata falloc full) (random 4 state)))))
  (define (run name make-args)
    (test-assert name
      (every (lambda (i)
                     (let ((call (make-args)))
                       (memq (trial (car call) (cdr call)) '(plan refused))))
             (iota 150))))
  (run "raw" (lambda () (cons plan-resize-raw (common))))
  (run "qcow2" (lambda ()
                 (cons plan-resize-qcow2
                       (append (common)
                               (list #:version (random 5 state) #:cluster-bits (random 64 state)
                                     #:virtual-size (rand-u64) #:l1-size (random (expt 2 32) state)
                                     #:l1-table-offset (rand-u64) #:refcount-table-offset (rand-u64)
                                     #:refcount-table-clusters (random 70000 state)
                                     #:refcount-order (random 8 state)
                                     #:header-length (random 2000 state)
                                     #:header (rand-bv) #:l1 (rand-bv) #:reftable (rand-bv)
                                     #:refblocks (list (cons (random 4 state) (rand-bv)))
                                     #:l2-tables (list (cons (random 4 state) (rand-bv))))))))
  (run "vhd" (lambda ()
               (cons plan-resize-vhd
                     (append (common)
                             (list #:disk-type (list-ref '(fixed dynamic differencing 0 7) (random 5 state))
                                   #:virtual-size (rand-u64) #:block-size (random (expt 2 32) state)
                                   #:max-table-entries (random (expt 2 32) state)
                                   #:bat-offset (rand-u64) #:footer (rand-bv) #:dyn-header (rand-bv)
                                   #:bat (rand-bv) #:first-block-offset (rand-u64))))))
  (run "vhdx" (lambda ()
                (cons plan-resize-vhdx
                      (append (common)
                              (list #:virtual-size (rand-u64) #:block-size (random (expt 2 32) state)
                                    #:logical-sector-size (list-ref '(512 4096 0 3) (random 4 state))
                                    #:header1 (rand-bv) #:header2 (rand-bv) #:region1 (rand-bv)
                                    #:region2 (rand-bv) #:metadata (rand-bv) #:bat (rand-bv)
                                    #:metadata-offset (rand-u64) #:bat-offset (rand-u64)
                                    #:bat-region-length (random (expt 2 32) state)
                                    #:file-write-guid (make-bytevector 16 (random 256 state))
                                    #:data-write-guid (make-bytevector 16 1))))))
  (run "vmdk" (lambda ()
                (cons plan-resize-vmdk
                      (append (common)
                              (list #:capacity-sectors (rand-u64) #:grain-sectors (rand-u64)
                                    #:gtes-per-gt (random (expt 2 32) state)
                                    #:gd-offset-sectors (rand-u64) #:rgd-offset-sectors (rand-u64)
                                    #:descriptor-offset-sectors (rand-u64)
                                    #:descriptor-sectors (rand-u64)
                                    #:header (rand-bv) #:descriptor (rand-bv) #:gd (rand-bv)
                                    #:rgd (rand-bv))))))
  (test-assert "empty bytevector slices"
    (memq (outcome (lambda () (plan-resize-qcow2 #:new-size 1048576 #:header #vu8() #:l1 #vu8()
                                                 #:reftable #vu8())))
          '(plan refused)))
  (test-assert "a 64 MiB bytevector slice"
    (memq (outcome (lambda () (plan-resize-vmdk #:new-size 1048576 #:gd (make-bytevector (* 64 1024 1024) 0))))
          '(plan refused)))
  (test-equal "hashing a 64 MiB bytevector" #t
    (integer? (xxh3-128 (make-bytevector (* 64 1024 1024) 7)))))

(test-end "errors")
(system* "rm" "-rf" tmpdir)
