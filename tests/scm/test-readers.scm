;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-readers.scm -- (instar readers): every independent reader accepts
;;; the images qemu-img creates (size and bytes as qemu reads them), and
;;; the reader oracle fails on images corrupted on purpose: a flipped
;;; table entry, a wrong size field, a truncated file, non-zero bytes
;;; where zeros are expected.  A missing reader is never skipped: the
;;; test fails.
(use-modules (srfi srfi-1) (srfi srfi-64) (ice-9 match) (ice-9 binary-ports)
             (rnrs bytevectors) (ice-9 regex) (ice-9 iconv)
             (instar process) (instar readers))

(define qemu-img (or (getenv "QEMU_IMG") "qemu-img"))
(define qemu-io (or (getenv "QEMU_IO") "qemu-io"))
(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-readers-test."))
(define mib (* 1024 1024))

(define (run . argv) (run-command argv #:timeout 120))
(define (ext fmt) (if (equal? fmt "vpc") "vhd" fmt))

(define (make-image fmt name size)
  "A qemu-img image of SIZE bytes with 0x21 in its first 64 KiB and 0x5a
in the 64 KiB at 1 MiB; its path."
  (let ((f (string-append tmp "/" name "." (ext fmt))))
    (when (file-exists? f) (delete-file f))
    (run qemu-img "create" "-q" "-f" fmt f (number->string size))
    (run qemu-io "-f" fmt "-c" "write -P 0x21 0 64k" "-c" "write -P 0x5a 1M 64k" f)
    f))

(define (qemu-size fmt f)
  (let* ((r (run qemu-img "info" "-f" fmt f))
         (m (string-match "virtual size: [^(]*\\(([0-9]+) bytes\\)" (result-stdout r))))
    (and m (string->number (match:substring m 1)))))

;; What qemu-io wrote, and zeros past it.
(define ranges `((#x21 0 65536) (#x5a ,mib 65536) (0 ,(* 2 mib) 65536)))

(define (probe reader fmt f)
  (run-command (append (reader-probe-argv reader fmt ranges) (list f)) #:timeout 120))

(define (diffs reader fmt f want-size)
  (reader-diffs reader (probe reader fmt f) want-size ranges #:grown-from (* 2 mib)))

(define (fields ds) (map (lambda (d) (assoc-ref d "field")) ds))

(define (poke! f off bytes)
  (let ((p (open-file f "r+b")))
    (seek p off SEEK_SET)
    (put-bytevector p (u8-list->bytevector bytes))
    (close-port p)))

(define (peek f off len)
  (let ((p (open-file f "rb")))
    (seek p off SEEK_SET)
    (let ((b (get-bytevector-n p len)))
      (close-port p)
      b)))

(define (be64-bytes n) (map (lambda (i) (logand (ash n (* -8 (- 7 i))) 255)) (iota 8)))

(define (vhd-fix-checksum! f off)
  "Recompute the checksum of the 512-byte VHD footer at OFF."
  (let* ((b (peek f off 512))
         (sum (fold + 0 (map (lambda (i) (if (<= 64 i 67) 0 (bytevector-u8-ref b i)))
                             (iota 512))))
         (c (logand (lognot sum) #xffffffff)))
    (poke! f (+ off 64) (map (lambda (i) (logand (ash c (* -8 (- 3 i))) 255)) (iota 4)))))

(define pairs
  '(("libvhdi" "vpc") ("7zip" "vpc") ("libvhdi" "vhdx") ("7zip" "vhdx")
    ("libvmdk" "vmdk") ("7zip" "vmdk") ("libqcow" "qcow2")))

(test-begin "readers")

(test-group "every reader is installed (bootstrap installs them)"
  (for-each (lambda (r) (test-assert r (reader-available? r))) known-readers)
  (test-equal "nothing missing" known-readers (available-readers)))

(test-group "--readers resolution"
  (call-with-values (lambda () (resolve-readers '("nope")))
    (lambda (rs kind msg) (test-eq "unknown name: usage" 'usage kind)))
  (call-with-values (lambda () (resolve-readers '("7zip")))
    (lambda (rs kind msg) (test-equal "listed and present" '("7zip") rs)))
  (let ((old (getenv "SEVENZIP")))
    (setenv "SEVENZIP" (string-append tmp "/no-such-7zz"))
    (call-with-values (lambda () (resolve-readers '("7zip")))
      (lambda (rs kind msg) (test-eq "listed but missing: environment" 'environment kind)))
    (if old (setenv "SEVENZIP" old) (unsetenv "SEVENZIP")))
  (test-equal "formats" '("libvhdi" "7zip") (readers-for-format known-readers "vpc"))
  (test-equal "qcow2" '("libqcow") (readers-for-format known-readers "qcow2")))

(test-group "readers accept qemu-img's own images"
  (for-each
   (match-lambda
     ((reader fmt)
      (let* ((f (make-image fmt (string-append "ok-" reader) (* 8 mib)))
             (size (qemu-size fmt f)))
        (test-equal (string-append reader " reads qemu's " fmt) '() (diffs reader fmt f size)))))
   pairs))

(test-group "the oracle fails on corrupted images"
  ;; Non-zero bytes where zeros are expected (as if a grow exposed old data).
  (for-each
   (match-lambda
     ((reader fmt)
      (let* ((f (make-image fmt (string-append "dirty-" reader) (* 8 mib))))
        (run qemu-io "-f" fmt "-c" "write -P 0x77 2M 64k" f)
        (test-equal (string-append reader " " fmt ": stale bytes in the new range")
          '("zero") (fields (diffs reader fmt f (qemu-size fmt f)))))))
   pairs)
  ;; A truncated file: half of it gone.
  (for-each
   (match-lambda
     ((reader fmt)
      (let* ((f (make-image fmt (string-append "trunc-" reader) (* 8 mib)))
             (size (qemu-size fmt f)))
        (truncate-file f (quotient (stat:size (stat f)) 2))
        (test-assert (string-append reader " " fmt ": truncated file")
          (pair? (diffs reader fmt f size))))))
   pairs)
  ;; A wrong size field: the VHD footer (both copies) says 4 MiB.
  (for-each
   (lambda (reader)
     (let* ((f (make-image "vpc" (string-append "size-" reader) (* 8 mib)))
            (size (qemu-size "vpc" f))
            (end (- (stat:size (stat f)) 512)))
       (for-each (lambda (off)
                   (poke! f (+ off 40) (be64-bytes (* 4 mib)))
                   (poke! f (+ off 48) (be64-bytes (* 4 mib)))
                   (vhd-fix-checksum! f off))
                 (list 0 end))
       ;; libvhdi shows the wrong size; 7-Zip refuses the file (its
       ;; table no longer matches the size).
       (test-assert (string-append reader " vpc: wrong size field")
         (let ((fs (fields (diffs reader "vpc" f size))))
           (or (member "size" fs) (member "open" fs))))))
   '("libvhdi" "7zip"))
  ;; A flipped table entry: the dynamic VHD's first BAT entry unmapped.
  (for-each
   (lambda (reader)
     (let* ((f (make-image "vpc" (string-append "bat-" reader) (* 8 mib)))
            (bat (bytevector-u64-ref (peek f (+ 512 16) 8) 0 (endianness big))))
       (poke! f bat '(#xff #xff #xff #xff))
       (test-assert (string-append reader " vpc: flipped BAT entry")
         (member "data" (fields (diffs reader "vpc" f (qemu-size "vpc" f)))))))
   '("libvhdi" "7zip"))
  ;; A flipped grain-directory entry in a VMDK (and its redundant copy):
  ;; the first grain table now the second one.
  (for-each
   (lambda (reader)
     (let* ((f (make-image "vmdk" (string-append "gd-" reader) (* 8 mib)))
            (h (peek f 0 512))
            (gd (* 512 (bytevector-u64-ref h 56 (endianness little))))
            (rgd (* 512 (bytevector-u64-ref h 48 (endianness little))))
            (second (peek f (+ gd 4) 4)))
       (poke! f gd (bytevector->u8-list second))
       (poke! f rgd (bytevector->u8-list (peek f (+ rgd 4) 4)))
       (test-assert (string-append reader " vmdk: flipped directory entry")
         (member "data" (fields (diffs reader "vmdk" f (* 8 mib)))))))
   '("libvmdk" "7zip"))
  ;; A flipped qcow2 L1 entry: the first L2 table gone.
  (let* ((f (make-image "qcow2" "l1-libqcow" (* 8 mib)))
         (l1 (bytevector-u64-ref (peek f 40 8) 0 (endianness big))))
    (poke! f l1 '(0 0 0 0 0 0 0 0))
    (test-assert "libqcow qcow2: flipped L1 entry"
      (member "data" (fields (diffs "libqcow" "qcow2" f (* 8 mib)))))))

;; The VMDK descriptor states the size in its extent line and geometry:
;; qemu-img's own image agrees with itself; a stale cylinder count or
;; extent line (the size qemu reads from the header) is a diff.
(define (descriptor-diffs f vsize)
  (let ((st (vmdk-descriptor-step)))
    (vmdk-descriptor-diffs
     (run-command (append (vector->list (assoc-ref st "argv")) (list f)) #:timeout 60)
     vsize)))
(define (replace-in-file! f from to)
  ;; Same length, so the descriptor keeps its place and padding.
  (let* ((bv (call-with-input-file f get-bytevector-all #:binary #t))
         (text (bytevector->string bv "ISO-8859-1"))
         (i (string-contains text from)))
    (when i (poke! f i (bytevector->u8-list (string->utf8 to))))
    i))
(let ((f (make-image "vmdk" "descriptor" (* 300 mib))))
  (test-equal "vmdk descriptor: qemu-img's image states its size" '()
    (descriptor-diffs f (* 300 mib)))
  (test-assert "vmdk descriptor: another size disagrees"
    (lset= equal? '("extent-sectors" "geometry-cylinders")
           (fields (descriptor-diffs f (* 600 mib)))))
  (test-assert "vmdk descriptor: a stale cylinder count"
    (and (replace-in-file! f "cylinders = \"609\"" "cylinders = \"608\"")
         (equal? '("geometry-cylinders") (fields (descriptor-diffs f (* 300 mib))))))
  (test-assert "vmdk descriptor: a stale extent line"
    (and (replace-in-file! f "RW 614400 " "RW 614399 ")
         (member "extent-sectors" (fields (descriptor-diffs f (* 300 mib)))))))

;; 7-Zip streams the disk from its start: a range past its first GiB is
;; not read (a 3 TiB read of zeros otherwise); the size is still compared.
(let* ((big (* 2000 1024 mib))
       (f (make-image "vpc" "far-7zip" big))
       (size (qemu-size "vpc" f))
       (far `((#x21 0 65536) (0 ,(- size mib) ,mib)))
       (t0 (current-time))
       (r (run-command (append (reader-probe-argv "7zip" "vpc" far) (list f)) #:timeout 60)))
  (test-equal "7zip: a range past its first GiB is left out" '()
    (reader-diffs "7zip" r size far))
  (test-assert "7zip: and costs no stream of the disk" (< (- (current-time) t0) 30))
  (test-assert "7zip: the size is still compared"
    (member "size" (fields (reader-diffs "7zip" r (+ size mib) far)))))

(test-end "readers")

(system* "rm" "-rf" tmp)
