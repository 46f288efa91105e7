;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar corpus) -- libFuzzer corpus inputs as differential cases.
;;;
;;; A fuzz_resize_engine input is a whole image plus the arguments of one
;;; resize (core/fuzz/fuzz-resize-engine.c):
;;;   0  u8   format: mod 6 -> probe, raw, qcow2, vpc, vhdx, vmdk
;;;   1  u8   flags: bit0 --shrink, bits4-5 preallocation 0..3
;;;   2  u8   size spec: mod 3 -> absolute, +N, -N
;;;   8  u64  file length (capped at 64 MiB)
;;;   16 u64  size amount
;;;   24 ...  extents: u64 offset, u16 length, bytes (below 8 MiB, cut at
;;;           the file length)
;;; read exactly as the target reads it, so the image written out is the
;;; one the engine target resized in memory.  A fuzz_resize_planners input
;;; (instar/fuzz.h) is a planner's state, not an image; its raw target
;;; (format byte mod 6 = 0) is one all the same -- a file of the current
;;; length -- and becomes a case; the other targets' synthesised tables
;;; are not materialised (the case says so, and is counted).
;;;
;;; `corpus-case' makes the case: it writes the image into a private
;;; directory, asks the reference what it is (`qemu-img info', and `check'
;;; where the format has one) and labels the resize with its family as
;;; resize-diff labels its own draws ((instar pickers) `classify-resize'),
;;; with one family of its own: "hostile-image", a start image the
;;; reference cannot open or its check finds corrupt.

(define-module (instar corpus)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 binary-ports)
  #:use-module (rnrs bytevectors)
  #:use-module (json)
  #:use-module (instar process)
  #:use-module (instar pickers)
  #:use-module (instar chain)
  #:use-module (instar findings)
  #:export (engine-input->start
            planner-input->start
            input->start
            corpus-files
            corpus-input-id
            corpus-case
            corpus-max-length
            corpus-prealloc-budget))

(define corpus-max-length
  ;; The engine target's own cap on the file length.
  (* 64 1024 1024))

(define corpus-max-extent-offset (* 8 1024 1024))

(define corpus-prealloc-budget
  ;; A preallocating grow writes (full) or reserves (falloc) every new
  ;; byte on both sides; past this the case is not run (and says so).
  (* 256 1024 1024))

(define engine-formats #("probe" "raw" "qcow2" "vpc" "vhdx" "vmdk"))
(define prealloc-modes #(#f "metadata" "falloc" "full"))

(define (bytevector->hex bv start end)
  (let ((out (make-string (* 2 (- end start)))))
    (do ((i start (+ i 1))) ((= i end) out)
      (let ((s (number->string (bytevector-u8-ref bv i) 16)))
        (string-set! out (* 2 (- i start)) (if (= (string-length s) 1) #\0 (string-ref s 0)))
        (string-set! out (+ 1 (* 2 (- i start))) (string-ref s (- (string-length s) 1)))))))

(define (spec-string sign amount)
  (match sign (0 (number->string amount))
              (1 (string-append "+" (number->string amount)))
              (2 (string-append "-" (number->string amount)))))

(define (engine-input->start bv)
  "The start image and resize of fuzz_resize_engine input BV, as an
alist: declared-format, length, extents (a vector of alists offset, hex),
spec, shrink, prealloc (a mode or #f); or a string saying why BV is not
one (shorter than its 24-byte header)."
  (if (< (bytevector-length bv) 24)
      "shorter than the engine target's 24-byte header"
      (let* ((size (bytevector-length bv))
             (length (min corpus-max-length (bytevector-u64-ref bv 8 (endianness little))))
             (extents
              (let loop ((pos 24) (acc '()))
                (if (< (- size pos) 10)
                    (reverse acc)
                    (let* ((off (bytevector-u64-ref bv pos (endianness little)))
                           (len (min (bytevector-u16-ref bv (+ pos 8) (endianness little))
                                     (- size pos 10)))
                           (data (+ pos 10)))
                      ;; Extents stay inside the declared length and below
                      ;; 8 MiB, as the target's load_image keeps them.
                      (loop (+ data len)
                            (if (and (< off length) (< off corpus-max-extent-offset) (> len 0))
                                (let ((n (min len (- length off))))
                                  (cons `(("offset" . ,off)
                                          ("hex" . ,(bytevector->hex bv data (+ data n))))
                                        acc))
                                acc)))))))
        `(("target" . "fuzz_resize_engine")
          ("declared-format" . ,(vector-ref engine-formats (modulo (bytevector-u8-ref bv 0) 6)))
          ("length" . ,length)
          ("extents" . ,(list->vector extents))
          ("spec" . ,(spec-string (modulo (bytevector-u8-ref bv 2) 3)
                                  (bytevector-u64-ref bv 16 (endianness little))))
          ("shrink" . ,(logbit? 0 (bytevector-u8-ref bv 1)))
          ("prealloc" . ,(vector-ref prealloc-modes
                                     (logand 3 (ash (bytevector-u8-ref bv 1) -4))))))))

(define (planner-input->start bv)
  "Like `engine-input->start' for a fuzz_resize_planners input: its raw
target (format byte mod 6 = 0) is a file of the current length resized
to the new virtual size; the others are a string saying why not."
  (cond
   ((< (bytevector-length bv) 32) "shorter than the planner target's 32-byte header")
   ((not (zero? (modulo (bytevector-u8-ref bv 0) 6)))
    (format #f "planner input for ~a: synthesised tables, not an image"
            (vector-ref #("raw" "qcow2-grow" "qcow2-shrink" "vmdk" "vhd" "vhdx")
                        (modulo (bytevector-u8-ref bv 0) 6))))
   (else
    (let ((length (bytevector-u64-ref bv 24 (endianness little)))
          (flags (bytevector-u8-ref bv 1)))
      (if (> length corpus-max-length)
          (format #f "raw planner input: a file of ~a bytes (past ~a)" length corpus-max-length)
          `(("target" . "fuzz_resize_planners")
            ("declared-format" . "raw")
            ("length" . ,length)
            ("extents" . #())
            ("spec" . ,(number->string (bytevector-u64-ref bv 16 (endianness little))))
            ("shrink" . ,(logbit? 0 flags))
            ("prealloc" . ,(vector-ref prealloc-modes (logand 3 (ash flags -4))))))))))

(define (input->start target bv)
  "TARGET's input BV as a start image (see `engine-input->start')."
  (match target
    ("fuzz_resize_engine" (engine-input->start bv))
    ("fuzz_resize_planners" (planner-input->start bv))))

(define (corpus-files dir)
  "The regular files of corpus directory DIR, sorted by name."
  (map (lambda (f) (string-append dir "/" f))
       (or (scandir dir (lambda (f)
                          (let ((st (false-if-exception (stat (string-append dir "/" f)))))
                            (and st (eq? (stat:type st) 'regular)))))
           '())))

(define (read-file-bytes file)
  (call-with-input-file file get-bytevector-all #:binary #t))

(define (corpus-input-id bv)
  "An input's identity: xxh3-128 of its bytes (the store's hash), hex."
  (xxh3-128-hex (if (eof-object? bv) (make-bytevector 0) bv)))

;;; Asking the reference what the start image is.

(define (parse-json s) (false-if-exception (json-string->scm s)))

(define (header-bits path)
  "Bytes 72..79 of PATH (qcow2 v3 incompatible features) as an integer."
  (call-with-input-file path
    (lambda (p)
      (seek p 72 SEEK_SET)
      (let ((b (get-bytevector-n p 8)))
        (if (and (bytevector? b) (= (bytevector-length b) 8))
            (bytevector-u64-ref b 0 (endianness big))
            0)))
    #:binary #t))

(define* (inspect-start path fmt qemu-img #:key (timeout 60) (scratch #f))
  "What the reference makes of the start image PATH: (values FORMAT SIZE
OPTIONS STATE WHY), FORMAT as qemu-img probed it when FMT is \"probe\",
STATE one of clean dirty corrupt snapshots v2-snapshots bitmaps
hostile-image (WHY then says why)."
  (let* ((info (run-command `(,qemu-img "info" "--output=json"
                                        ,@(if (equal? fmt "probe") '() (list "-f" fmt)) ,path)
                            #:timeout timeout #:scratch scratch))
         (json (and (result-ok? info) (parse-json (result-stdout info)))))
    (if (not json)
        (values (if (equal? fmt "probe") "raw" fmt) 0 '() "hostile-image"
                (format #f "qemu-img info refuses it: ~a"
                        (string-trim-both (result-stderr info))))
        (let* ((found (assoc-ref json "format"))
               (size (or (assoc-ref json "virtual-size") 0))
               (specific (or (assoc-ref (or (assoc-ref json "format-specific") '()) "data") '()))
               (compat (assoc-ref specific "compat"))
               (options (append
                         (let ((cs (assoc-ref json "cluster-size")))
                           (if (and cs (equal? found "qcow2"))
                               `(("cluster_size" . ,(number->string cs)))
                               '()))
                         (if (string? compat) `(("compat" . ,compat)) '())))
               (snapshots? (let ((s (assoc-ref json "snapshots")))
                             (and (vector? s) (> (vector-length s) 0))))
               (check (and (member found '("qcow2" "vhdx" "vmdk"))
                           (run-command `(,qemu-img "check" "--output=json" "-f" ,found ,path)
                                        #:timeout timeout #:scratch scratch)))
               (bits (if (and (equal? found "qcow2") (not (equal? compat "0.10")))
                         (header-bits path)
                         0)))
          (cond
           ((logbit? 1 bits) (values found size options "corrupt" #f))
           ((logbit? 0 bits) (values found size options "dirty" #f))
           ;; qemu-img check: 2 corruptions, 1 the check could not run;
           ;; 3 (leaks only) is an image qemu uses as it is.
           ((and check (memv (result-status check) '(1 2)))
            (values found size options "hostile-image"
                    (format #f "qemu-img check: ~a"
                            (let ((j (parse-json (result-stdout check))))
                              (if j
                                  (format #f "~a corruption~:p, ~a error~:p"
                                          (or (assoc-ref j "corruptions") 0)
                                          (or (assoc-ref j "check-errors") 0))
                                  (string-trim-both (result-stderr check)))))))
           ((and check (not (memv (result-status check) '(0 3))))
            (values found size options "hostile-image"
                    (format #f "qemu-img check ends in ~a" (result-class check))))
           (snapshots? (values found size options
                               (if (equal? compat "0.10") "v2-snapshots" "snapshots") #f))
           ((let ((b (assoc-ref specific "bitmaps"))) (and (vector? b) (> (vector-length b) 0)))
            (values found size options "bitmaps" #f))
           (else (values found size options "clean" #f)))))))

(define* (corpus-case file target #:key qemu-img (tmpdir "/tmp") (timeout 60))
  "The differential case of corpus input FILE of TARGET
(\"fuzz_resize_engine\" or \"fuzz_resize_planners\"): the start image as
data (import step), the reference's view of it and the resize labelled
with its family.  An input that is no image gives a case with a `skip'
reason (the run counts it, never drops it)."
  (let* ((bv (read-file-bytes file))
         (bv (if (eof-object? bv) (make-bytevector 0) bv))
         (id (corpus-input-id bv))
         (start (input->start target bv))
         (base `(("op" . "corpus") ("target" . ,target) ("input" . ,id)
                 ("input-file" . ,file))))
    (if (string? start)
        `(,@base ("format" . "?") ("skip" . ,start))
        (let ((dir (make-private-directory tmpdir "instar-corpus.")))
          (dynamic-wind
            (lambda () #t)
            (lambda ()
              (let ((path (string-append dir "/start")))
                (write-sparse-image path (assoc-ref start "length") (assoc-ref start "extents"))
                (call-with-values
                    (lambda () (inspect-start path (assoc-ref start "declared-format") qemu-img
                                              #:timeout timeout #:scratch dir))
                  (lambda (probed size options state why)
                    (let* ((declared (assoc-ref start "declared-format"))
                           (fmt (if (equal? declared "probe") probed declared))
                           (spec (assoc-ref start "spec"))
                           (shrink (assoc-ref start "shrink"))
                           (prealloc (assoc-ref start "prealloc"))
                           (fe (if (equal? state "hostile-image")
                                   '("hostile-image" . "refuse")
                                   (classify-resize fmt size spec shrink prealloc
                                                    #:options options #:state state)))
                           (end (spec-end size spec)))
                      `(,@base
                        ("format" . ,fmt)
                        ("declared-format" . ,declared)
                        ("size" . ,(number->string size))
                        ("options" . ,options)
                        ("image-state" . ,state)
                        ,@(if why `(("hostile-why" . ,why)) '())
                        ("start-mode" . "shared")
                        ("patterns" . #())
                        ("length" . ,(assoc-ref start "length"))
                        ("extents" . ,(assoc-ref start "extents"))
                        ,@(if (and prealloc (member prealloc '("falloc" "full"))
                                   end (> (- end size) corpus-prealloc-budget))
                              `(("skip" . ,(format #f "preallocation ~a of more than ~a bytes (disk budget)"
                                                   prealloc corpus-prealloc-budget)))
                              '())
                        ("resizes" . #((("spec" . ,spec) ("shrink" . ,shrink)
                                        ("prealloc" . ,(or prealloc 'null))
                                        ("family" . ,(car fe)) ("expect" . ,(cdr fe)))))))))))
            (lambda () (delete-tree dir)))))))
