;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; repl.scm -- (instar repl): banner, fuzz-input explanations, carves.
(use-modules (srfi srfi-64)
             (rnrs bytevectors)
             (ice-9 binary-ports)
             (instar core)
             (instar repl))

(define (output-of thunk)
  (with-output-to-string thunk))

(test-begin "repl")

(test-group "banner"
  (let ((b (instar-banner)))
    (for-each (lambda (name)
                (test-assert (string-append "names " name) (string-contains b name)))
              '("image-create" "image-plan" "image-resize" "show-plan" "plan-print"
                "plan-resize-raw" "explain-fuzz-input" "xxh3-64" ",describe"))))

(test-group "fuzz-carves"
  (test-equal "qcow2, full pool"
    '(("L1 table" 32 4096) ("refcount table" 4128 4096) ("refcount blocks" 8224 32768)
      ("L2 tables" 40992 32768))
    (fuzz-carves 'qcow2-grow 100000))
  (test-equal "qcow2, short pool: short then empty carves"
    '(("L1 table" 32 4096) ("refcount table" 4128 904) ("refcount blocks" 5032 0)
      ("L2 tables" 5032 0))
    (fuzz-carves 'qcow2-shrink 5000))
  (test-equal "vhd"
    '(("header" 32 512) ("dynamic header" 544 1024) ("BAT / grain directory" 1568 100))
    (fuzz-carves 'vhd 1636))
  (test-equal "raw carves nothing" '() (fuzz-carves 'raw 500)))

(test-group "explain-fuzz-input"
  (let* ((bv (let ((bv (make-bytevector 600 0)))
               (bytevector-u8-set! bv 0 5)                 ; vhdx
               (bytevector-u8-set! bv 1 #x31)              ; shrink, prealloc 3
               (bytevector-u64-set! bv 16 (* 3 1024 1024) (endianness little))
               bv))
         (result #f)
         (out (output-of (lambda () (set! result (explain-fuzz-input bv))))))
    (test-eq "returns the decoded alist" 'vhdx (assq-ref result 'target))
    (test-assert "target explained" (string-contains out "vhdx (format byte 5 mod 6 = 5)"))
    (test-assert "prealloc" (string-contains out "preallocation     full"))
    (test-assert "sizes in words" (string-contains out "new virtual       3145728 (3.0 MiB)"))
    (test-assert "carves" (string-contains out "dynamic header"))
    (test-assert "hash" (string-contains out (format #f "~16,'0x" (xxh3-64 bv)))))
  (let* ((dir (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp") "/instar-repl.XXXXXX")))
         (file (string-append dir "/crash-1")))
    (call-with-output-file file
      (lambda (p) (put-bytevector p (make-bytevector 32 3))) #:binary #t)
    (test-eq "from a file" 'vmdk
      (assq-ref (let ((r #f)) (output-of (lambda () (set! r (explain-fuzz-input file)))) r)
                'target))
    (test-equal "a short input is an instar-error" 'parse-failed
      (catch 'instar-error
        (lambda () (output-of (lambda () (explain-fuzz-input (make-bytevector 3 0)))))
        (lambda (k name . _) name)))
    (test-equal "a number is a wrong-type-arg" 'wrong-type-arg
      (catch #t (lambda () (explain-fuzz-input 5)) (lambda (k . _) k)))
    (system* "rm" "-rf" dir)))

(test-group "documentation"
  (for-each (lambda (name)
              (test-assert (symbol->string name)
                (string? (procedure-documentation
                          (module-ref (resolve-interface '(instar repl)) name)))))
            '(explain-fuzz-input fuzz-carves instar-banner start-instar-repl instar-repl-main)))

(test-end "repl")
