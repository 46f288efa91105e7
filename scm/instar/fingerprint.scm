;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar fingerprint) -- the size and xxh3-128 of a file.
;;;
;;; A refused resize must leave its file byte-identical.  The chain takes a
;;; fingerprint before each resize and again after a refusal; the oracles
;;; compare them.  The hash is XXH3-128 over the file's data extents
;;; (offset, length, bytes), streamed in 128 KiB reads through libxxhash
;;; (the library the extension's xxh3-128 uses).

(define-module (instar fingerprint)
  #:use-module (rnrs bytevectors)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (system foreign)
  #:export (file-fingerprint string-xxh64))

(define libxxhash (delay (dynamic-link "libxxhash")))

(define (xxh name ret args)
  (pointer->procedure ret (dynamic-func name (force libxxhash)) args))

(define procs
  (delay
    (list (xxh "XXH3_createState" '* '())
          (xxh "XXH3_128bits_reset" int '(*))
          (xxh "XXH3_128bits_update" int (list '* '* size_t))
          ;; XXH128_hash_t is { low64, high64 }, returned by value.
          (xxh "XXH3_128bits_digest" (list uint64 uint64) '(*))
          (xxh "XXH3_freeState" int '(*)))))

;; XXH3-64 in one call: a short key for a string (a drawn case's JSON).
(define xxh3-64 (delay (xxh "XXH3_64bits" uint64 (list '* size_t))))

(define (string-xxh64 s)
  "16 hex digits of XXH3-64 of the UTF-8 bytes of string S."
  (let ((bv (string->utf8 s)))
    (format #f "~16,'0x" ((force xxh3-64) (bytevector->pointer bv) (bytevector-length bv)))))

;; Holes are skipped (SEEK_DATA/SEEK_HOLE): reading one makes the kernel
;; fill the page cache with zero pages, seconds for a fresh sparse 1 GiB
;; image.  Each data extent is hashed as its offset and length, then its
;; bytes, so the fingerprint changes when any byte or the allocation does.
(define chunk (* 128 1024))
(define seek-data 3)                    ; Linux SEEK_DATA
(define seek-hole 4)                    ; Linux SEEK_HOLE

(define c-lseek
  (delay (pointer->procedure int64 (dynamic-func "lseek" (dynamic-link))
                             (list int int64 int))))
(define c-pread
  (delay (pointer->procedure ssize_t (dynamic-func "pread" (dynamic-link))
                             (list int '* size_t int64))))

(define (file-fingerprint path)
  "\"SIZE:HASH\" for the file at PATH (HASH: 32 hex digits of XXH3-128 of
its bytes), or \"absent\" when there is no such file."
  (if (not (file-exists? path))
      "absent"
      (apply
       (lambda (create reset update digest free)
         (let ((state (create))
               (buf (make-bytevector chunk)))
           (when (null-pointer? state) (error "XXH3_createState failed"))
           (dynamic-wind
             (lambda () #t)
             (lambda ()
               (reset state)
               (call-with-input-file path
                 (lambda (port)
                   (let ((fd (port->fdes port))
                         (p (bytevector->pointer buf))
                         (desc (make-bytevector 16)))
                     (define (hash-extent! start end)
                       ;; Where the extent lies, then its bytes.
                       (bytevector-u64-native-set! desc 0 start)
                       (bytevector-u64-native-set! desc 8 (- end start))
                       (update state (bytevector->pointer desc) 16)
                       (let loop ((off start))
                         (when (< off end)
                           (let ((n ((force c-pread) fd p (min chunk (- end off)) off)))
                             (when (<= n 0) (error "read failed" path))
                             (update state p n)
                             (loop (+ off n))))))
                     (let ((size (stat:size (stat port))))
                       (let loop ((off 0))
                         (let ((data (if (< off size) ((force c-lseek) fd off seek-data) -1)))
                           (if (< data 0)
                               (let ((h (pointer->bytevector (digest state) 16)))
                                 (format #f "~d:~32,'0x" size
                                         (+ (ash (bytevector-u64-native-ref h 8) 64)
                                            (bytevector-u64-native-ref h 0))))
                               (let ((hole ((force c-lseek) fd data seek-hole)))
                                 (hash-extent! data (if (< hole 0) size hole))
                                 (loop (if (< hole 0) size hole)))))))))
                 #:binary #t))
             (lambda () (free state)))))
       (force procs))))
