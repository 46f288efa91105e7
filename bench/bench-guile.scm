;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; bench-guile.scm -- what a call from Scheme costs: plans per second from
;;; Scheme against the same planner looped in C (same inputs as
;;; bench/bench-core.c's plan-raw-grow), the invariant checker likewise,
;;; and xxh3 throughput.  JSON lines, like bench/instar-bench.
(use-modules (instar core)
             (rnrs bytevectors)
             (ice-9 format))

(define %bench-plan-raw-c (@@ (instar core) %bench-plan-raw-c))
(define %bench-plan-check-c (@@ (instar core) %bench-plan-check-c))

(define (now)
  (exact->inexact (/ (get-internal-real-time) internal-time-units-per-second)))

(define (rate thunk seconds)
  "Call THUNK in doubling batches for about SECONDS; calls per second."
  (let ((start (now)))
    (let loop ((calls 0) (batch 64))
      (do ((i 0 (+ i 1))) ((= i batch)) (thunk))
      (let ((calls (+ calls batch))
            (elapsed (- (now) start)))
        (if (< elapsed seconds)
            (loop calls (min (* batch 2) (expt 2 20)))
            (/ calls elapsed))))))

(define (c-rate run seconds)
  "RUN takes an iteration count and returns elapsed seconds."
  (let loop ((n 1024))
    (let ((elapsed (run n)))
      (if (< elapsed seconds)
          (loop (* n 2))
          (/ n elapsed)))))

(define (report name unit value . extra)
  (format #t "{\"bench\": \"~a\", \"unit\": \"~a\", \"value\": ~,1f~{, ~a~}}~%"
          name unit value extra)
  (force-output))

(define M (* 1024 1024))
(define G (* 1024 M))

;; Raw grow 1M -> 1G with falloc: the C benchmark's inputs.
(let* ((scheme (rate (lambda () (plan-resize-raw #:current-file-size M #:new-size G
                                                 #:prealloc 'falloc))
                     0.5))
       (c (c-rate (lambda (n) (%bench-plan-raw-c n M G 'falloc)) 0.5)))
  (report "guile-plan-raw-grow" "plans/s" scheme "\"from\": \"scheme\"")
  (report "guile-plan-raw-grow-c" "plans/s" c "\"from\": \"c\"")
  (report "guile-plan-raw-grow-overhead" "ratio" (/ c scheme) "\"meaning\": \"C rate / Scheme rate\""))

;; What a differential case does per plan: plan, read the patches, check.
(report "guile-plan-raw-patches-check" "plans/s"
        (rate (lambda ()
                (let ((p (plan-resize-raw #:current-file-size 0 #:new-size 5000)))
                  (plan-patches p)
                  (plan-check p)))
              0.5)
        "\"from\": \"scheme\"")

;; The checker on a worst-case plan: 128 disjoint writes, shuffled.
(let* ((payload (make-bytevector 512 0))
       (plan (make-plan #:total-file-size (expt 2 40)
                        #:patches (map (lambda (i)
                                         (make-patch 'write (* 4096 (modulo (* i 37) 128))
                                                     512 payload))
                                       (iota 128))))
       (scheme (rate (lambda () (plan-check plan)) 0.5))
       (c (c-rate (lambda (n) (%bench-plan-check-c n plan)) 0.5)))
  (report "guile-plan-check-128-writes" "checks/s" scheme "\"from\": \"scheme\"")
  (report "guile-plan-check-128-writes-c" "checks/s" c "\"from\": \"c\""))

;; xxh3 over 1 MiB.
(let ((bv (make-bytevector M 7)))
  (report "guile-xxh3-64-1MiB" "MiB/s" (rate (lambda () (xxh3-64 bv)) 0.3))
  (report "guile-xxh3-128-1MiB" "MiB/s" (rate (lambda () (xxh3-128 bv)) 0.3)))
