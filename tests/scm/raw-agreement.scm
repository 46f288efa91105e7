;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; raw-agreement.scm -- raw plans computed from Scheme agree with the C
;;; tests' expectations (the same inputs as test_planner in tests/c/test-raw.c,
;;; which carry qemu-img 7.2's answers).
(use-modules (srfi srfi-64)
             (instar core))

(define (raw cur new shrink prealloc)
  (catch 'instar-error
    (lambda () (plan-resize-raw #:current-file-size cur #:new-size new
                                #:allow-shrink? shrink #:prealloc prealloc))
    (lambda (key name . _) name)))

(define (summary p)
  "A plan as (action total prealloc-range (kind offset length) ...)."
  (if (plan? p)
      (cons* (plan-action p) (plan-total-file-size p) (plan-prealloc-range p)
             (map (lambda (x) (list (patch-kind x) (patch-offset x) (patch-length x)))
                  (plan-patches p)))
      p))

(define M (* 1024 1024))

(test-begin "raw-agreement")

(test-equal "grow 1M -> 2M: length only" `(grow ,(* 2 M) (0 . 0))
  (summary (raw M (* 2 M) #f 'off)))
(test-equal "grow by one byte with falloc: exact length, 1-byte prealloc range"
  `(grow ,(+ M 1) (,M . 1)) (summary (raw M (+ M 1) #f 'falloc)))
(test-equal "shrink to 513 with the flag: exact byte count" '(shrink 513 (0 . 0))
  (summary (raw M 513 #t 'off)))
(test-eq "shrink without the flag is refused" 'shrink-needs-flag (raw M 513 #f 'off))
(test-eq "falloc with shrink is refused" 'prealloc-not-grow (raw M 513 #t 'falloc))
(test-eq "full with shrink is refused" 'prealloc-not-grow (raw M 513 #t 'full))
(test-eq "prealloc is checked before the shrink flag" 'prealloc-not-grow (raw M 513 #f 'full))
(test-eq "prealloc with the same size is refused" 'prealloc-not-grow (raw M M #f 'falloc))
(test-eq "metadata preallocation is unsupported on raw" 'unsupported-prealloc
  (raw M (* 2 M) #f 'metadata))
(test-eq "metadata on a shrink fails the generic check first" 'prealloc-not-grow
  (raw M 512 #t 'metadata))
(test-eq "size 0 is refused" 'size-not-positive (raw M 0 #t 'off))
(test-eq "size 0 on an empty file is refused" 'size-not-positive (raw 0 0 #t 'off))
(test-eq "2^63 is not positive as int64" 'size-not-positive (raw 1 (expt 2 63) #f 'off))
(test-eq "beyond BDRV_MAX_LENGTH is too large" 'too-large (raw 1 #x7fffffffc0000001 #f 'off))
(test-equal "same size is a no-op" `(noop ,M (0 . 0)) (summary (raw M M #f 'off)))
(test-equal "0 -> 100: first 512 bytes written, file becomes 512 bytes"
  '(grow 512 (0 . 0) (zero-fill 0 512)) (summary (raw 0 100 #f 'off)))
(test-equal "0 -> 5000 falloc: first 4096 bytes written"
  '(grow 5000 (0 . 5000) (zero-fill 0 4096)) (summary (raw 0 5000 #f 'falloc)))
(test-equal "0 -> 100 full: no first-block write, exact length"
  '(grow 100 (0 . 100)) (summary (raw 0 100 #f 'full)))
(test-equal "a 513-byte file counts as 1024: +0 pads it (noop, length 1024)" `(noop 1024 (0 . 0))
  (summary (raw 513 1024 #f 'off)))
(test-equal "old virtual size is whole sectors" 1024
  (plan-old-virtual-size (raw 513 1024 #f 'off)))
(test-equal "raw plans satisfy the invariants" '()
  (append-map plan-check (filter plan? (list (raw 0 100 #f 'off) (raw 0 5000 #f 'falloc)
                                             (raw M (* 2 M) #f 'full) (raw M 513 #t 'off)))))

(test-end "raw-agreement")
