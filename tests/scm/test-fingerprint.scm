;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-fingerprint.scm -- (instar fingerprint): a refusal's proof that
;;; the file was not touched.
(use-modules (srfi srfi-64) (rnrs bytevectors) (ice-9 binary-ports)
             (instar fingerprint) (instar process))

(define dir (make-private-directory (or (getenv "TMPDIR") "/tmp") "fingerprint."))
(define (path name) (string-append dir "/" name))
(define (write-file name bv)
  (call-with-output-file (path name) (lambda (p) (put-bytevector p bv)) #:binary #t))
(define (poke name offset byte)
  (let ((p (open-file (path name) "r+b")))
    (seek p offset SEEK_SET) (put-u8 p byte) (close-port p)))

(test-begin "fingerprint")

(write-file "a" (make-bytevector 70000 7))
(write-file "b" (make-bytevector 70000 7))
(define fa (file-fingerprint (path "a")))

(test-assert "size first" (string-prefix? "70000:" fa))
(test-equal "32 hex digits of hash" (+ 6 32) (string-length fa))
(test-equal "same bytes, same fingerprint" fa (file-fingerprint (path "b")))
(poke "b" 69999 8)
(test-assert "one byte changed" (not (equal? fa (file-fingerprint (path "b")))))
(write-file "c" (make-bytevector 70001 7))
(test-assert "one byte longer" (not (equal? fa (file-fingerprint (path "c")))))
(test-equal "absent" "absent" (file-fingerprint (path "nothing")))
(write-file "empty" (make-bytevector 0))
(test-assert "empty file" (string-prefix? "0:" (file-fingerprint (path "empty"))))
;; A sparse 1 GiB file: holes are skipped, so this is quick, and a byte
;; written in the middle shows.
(write-file "sparse" (make-bytevector 0))
(truncate-file (path "sparse") (* 1024 1024 1024))
(let* ((t0 (get-internal-real-time))
       (f1 (file-fingerprint (path "sparse")))
       (secs (/ (- (get-internal-real-time) t0) internal-time-units-per-second)))
  (test-assert "a sparse 1 GiB file in well under a second" (< secs 1))
  (poke "sparse" (* 512 1024 1024) 1)
  (test-assert "a byte in a hole shows" (not (equal? f1 (file-fingerprint (path "sparse"))))))

(delete-tree dir)
(test-end "fingerprint")
