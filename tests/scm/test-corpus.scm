;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-corpus.scm -- (instar corpus): libFuzzer inputs read as the fuzz
;;; targets read them, and written out as images.
(use-modules (srfi srfi-64) (rnrs bytevectors) (ice-9 binary-ports)
             (instar corpus) (instar chain) (instar process))

(define dir (make-private-directory (or (getenv "TMPDIR") "/tmp") "corpus."))

(define (engine-input fmt flags sign length amount . extents)
  "A fuzz_resize_engine input: header, then (OFFSET . BYTEVECTOR) extents."
  (let* ((body (apply append
                      (map (lambda (e)
                             (let ((h (make-bytevector 10 0)))
                               (bytevector-u64-set! h 0 (car e) (endianness little))
                               (bytevector-u16-set! h 8 (bytevector-length (cdr e))
                                                    (endianness little))
                               (list h (cdr e))))
                           extents)))
         (hdr (make-bytevector 24 0)))
    (bytevector-u8-set! hdr 0 fmt)
    (bytevector-u8-set! hdr 1 flags)
    (bytevector-u8-set! hdr 2 sign)
    (bytevector-u64-set! hdr 8 length (endianness little))
    (bytevector-u64-set! hdr 16 amount (endianness little))
    (let* ((parts (cons hdr body))
           (out (make-bytevector (apply + (map bytevector-length parts)))))
      (let loop ((ps parts) (at 0))
        (unless (null? ps)
          (bytevector-copy! (car ps) 0 out at (bytevector-length (car ps)))
          (loop (cdr ps) (+ at (bytevector-length (car ps))))))
      out)))

(test-begin "corpus")

(let ((s (engine-input 8 #x31 1 4096 512
                       (cons 0 (u8-list->bytevector '(1 2 3)))
                       (cons 4094 (u8-list->bytevector '(9 9 9 9)))      ; cut at the length
                       (cons 5000 (u8-list->bytevector '(7)))             ; past the length
                       (cons (* 9 1024 1024) (u8-list->bytevector '(7)))))) ; past 8 MiB
  (let ((st (engine-input->start s)))
    (test-equal "format byte mod 6" "qcow2" (assoc-ref st "declared-format"))
    (test-equal "spec +N" "+512" (assoc-ref st "spec"))
    (test-equal "--shrink from bit 0" #t (assoc-ref st "shrink"))
    (test-equal "preallocation from bits 4-5" "full" (assoc-ref st "prealloc"))
    (test-equal "length" 4096 (assoc-ref st "length"))
    (test-equal "extents inside the length only" 2 (vector-length (assoc-ref st "extents")))
    (test-equal "an extent cut at the length" "0909"
                (assoc-ref (vector-ref (assoc-ref st "extents") 1) "hex"))
    ;; Written out: the bytes where the target put them, zeros elsewhere.
    (let ((f (string-append dir "/img")))
      (write-sparse-image f (assoc-ref st "length") (assoc-ref st "extents"))
      (let ((bv (call-with-input-file f get-bytevector-all #:binary #t)))
        (test-equal "file length" 4096 (bytevector-length bv))
        (test-equal "first extent" '(1 2 3 0) (list-head (bytevector->u8-list bv) 4))
        (test-equal "cut extent" '(0 9 9) (list-tail (bytevector->u8-list bv) 4093)))
      (test-error "never overwrites a file" #t
                  (write-sparse-image f 10 #())))))

(let ((st (engine-input->start (engine-input 0 0 2 (expt 2 40) 7))))
  (test-equal "probe" "probe" (assoc-ref st "declared-format"))
  (test-equal "spec -N" "-7" (assoc-ref st "spec"))
  (test-equal "no preallocation" #f (assoc-ref st "prealloc"))
  (test-equal "length capped at 64 MiB" (* 64 1024 1024) (assoc-ref st "length")))

(test-assert "a short engine input is no image"
             (string? (engine-input->start (make-bytevector 23 0))))

;; Planner inputs: the raw target is a file of the current length.
(let ((p (make-bytevector 32 0)))
  (bytevector-u8-set! p 0 6)                              ; 6 mod 6 = raw
  (bytevector-u8-set! p 1 1)
  (bytevector-u64-set! p 16 100 (endianness little))
  (bytevector-u64-set! p 24 4096 (endianness little))
  (let ((st (planner-input->start p)))
    (test-equal "planner raw: length" 4096 (assoc-ref st "length"))
    (test-equal "planner raw: absolute new size" "100" (assoc-ref st "spec"))
    (test-equal "planner raw: --shrink" #t (assoc-ref st "shrink")))
  (bytevector-u8-set! p 0 1)
  (test-assert "planner qcow2: not an image" (string? (planner-input->start p)))
  (bytevector-u8-set! p 0 0)
  (bytevector-u64-set! p 24 (expt 2 62) (endianness little))
  (test-assert "planner raw past 64 MiB: not materialised" (string? (planner-input->start p))))

(test-equal "input id: the store's hash" 32
            (string-length (corpus-input-id (make-bytevector 5 1))))

(test-end "corpus")
(delete-tree dir)
