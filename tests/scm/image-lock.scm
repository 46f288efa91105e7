;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; image-lock.scm -- the Guile extension takes qemu's image locks: a
;;; qcow2 image a qemu-io process holds read-write cannot be resized,
;;; planned (like qemu-img measure), patched or created over, and every
;;; refusal leaves the file byte-identical.
(use-modules (srfi srfi-64)
             (ice-9 binary-ports)
             (instar core)
             (instar holder))

(define qemu-img (or (getenv "QEMU_IMG") "qemu-img"))
(define qemu-io (or (getenv "QEMU_IO") "qemu-io"))

(define (instar-error-of thunk)
  "The instar-error symbol THUNK raises, or 'no-error."
  (catch 'instar-error
    (lambda () (thunk) 'no-error)
    (lambda (key name . _) name)))
(define (instar-message-of thunk)
  (catch 'instar-error
    (lambda () (thunk) "")
    (lambda (key name message . _) message)))

(define tmpdir (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp") "/instar-lock.XXXXXX")))
(define img (string-append tmpdir "/t.qcow2"))
(define (contents) (call-with-input-file img get-bytevector-all #:binary #t))

(test-begin "image-lock")

(test-eqv "qemu-img creates the image" 0
  (status:exit-val (system* qemu-img "create" "-q" "-f" "qcow2" img "1M")))
(define plan (image-plan img "2M"))
(define before (contents))
(define holder (start-holder qemu-io "qcow2" img))
(test-assert "qemu-io holds it" (holder? holder))

(test-eq "image-resize: locked" 'locked (instar-error-of (lambda () (image-resize img "2M"))))
(test-assert "with qemu's message"
  (let ((m (instar-message-of (lambda () (image-resize img "2M")))))
    (and (string-contains m "Failed to get \"write\" lock")
         (string-contains m "Is another process using the image"))))
(test-eq "image-plan: locked like qemu-img measure" 'locked
  (instar-error-of (lambda () (image-plan img "2M"))))
(test-eq "image-apply-plan: locked" 'locked
  (instar-error-of (lambda () (image-apply-plan img plan))))
(test-eq "image-create over it: locked" 'locked
  (instar-error-of (lambda () (image-create img #:format 'qcow2 #:size (* 4 1024 1024)))))
(test-eq "image-probe only reads: allowed" 'qcow2 (image-probe img))
(test-equal "every refusal left the file byte-identical" before (contents))

(stop-holder! holder)
(test-assert "released: image-resize works" (image-resize img "2M"))
(test-assert "and the image grew" (not (equal? before (contents))))

(test-end "image-lock")
(system* "rm" "-rf" tmpdir)
