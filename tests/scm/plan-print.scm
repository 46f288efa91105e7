;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; plan-print.scm -- the plan pretty-printer and its header-field diffs.
(use-modules (srfi srfi-64)
             (srfi srfi-1)
             (srfi srfi-11)
             (rnrs bytevectors)
             (instar core)
             (instar plan-print))

(define (contains? s sub) (and (string-contains s sub) #t))
(define big (endianness big))
(define little (endianness little))

(define (u64-bv n endian)
  (let ((bv (make-bytevector 8 0))) (bytevector-u64-set! bv 0 n endian) bv))

(test-begin "plan-print")

(test-group "summary and patch table"
  (let ((s (plan->string (plan-resize-raw #:current-file-size 0 #:new-size 5000
                                          #:prealloc 'falloc))))
    (test-assert "title" (contains? s "plan for raw: grow"))
    (test-assert "virtual sizes" (contains? s "0 B (0) -> 4.9 KiB (5000)"))
    (test-assert "hex length" (contains? s "5000 (0x1388)"))
    (test-assert "prealloc range" (contains? s "0x0 +0x1388"))
    (test-assert "patch row" (contains? s "0  zero-fill  0x0000000000000000  0x1000"))
    (test-assert "invariants" (contains? s "invariants    hold")))
  (let ((s (plan->string (make-plan #:total-file-size 100
                                    #:patches (list (make-patch 'write 0 40 (make-bytevector 40 #xab))
                                                    (make-patch 'write 90 20 #f))))))
    (test-assert "payload excerpt, elided" (contains? s "ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ..."))
    (test-assert "violations are printed" (contains? s "VIOLATION"))))

(test-group "qcow2 header diff"
  (let* ((old (let ((bv (make-bytevector 512 0)))
                (bytevector-copy! (u8-list->bytevector '(#x51 #x46 #x49 #xfb)) 0 bv 0 4)
                (bytevector-u32-set! bv 4 3 big)
                (bytevector-u64-set! bv 24 (* 1024 1024) big)
                (bytevector-u32-set! bv 36 1 big)
                bv))
         (plan (make-plan #:format 'qcow2 #:action 'grow #:total-file-size 327680
                          #:patches (list (make-patch 'write 24 8 (u64-bv (* 2 1024 1024) big))
                                          (make-patch 'write 36 4 #vu8(0 0 0 1)))))
         (changes (header-changes plan #:before old)))
    (test-equal "only the changed field, old and new"
      `(("qcow2 header" 0 ("size" ,(* 1024 1024) ,(* 2 1024 1024)))) changes)
    (test-equal "without the old image: new values of rewritten fields"
      `(("qcow2 header" 0 ("size" #f ,(* 2 1024 1024)) ("l1_size" #f 1)))
      (header-changes plan))
    (test-assert "printed" (contains? (plan->string plan #:before old)
                                      "size                     1048576 (0x100000) -> 2097152 (0x200000)"))))

(test-group "VHD footer moves to the new end"
  (let* ((footer (lambda (size)
                   (let ((bv (make-bytevector 512 0)))
                     (bytevector-copy! (string->utf8 "conectix") 0 bv 0 8)
                     (bytevector-u64-set! bv 48 size big)
                     bv)))
         (old (let ((bv (make-bytevector 2048 0)))
                (bytevector-copy! (footer 1536) 0 bv 1536 512) bv))
         (plan (make-plan #:format 'vpc #:action 'grow #:total-file-size 4096
                          #:patches (list (make-patch 'zero-fill 1536 512 #f)
                                          (make-patch 'append 3584 512 (footer 3584)))))
         (changes (header-changes plan #:before old)))
    (test-equal "current_size compared between old and new footer"
      '(("VHD footer" 3584 ("current_size" 1536 3584))) changes)))

(test-group "VMDK header and descriptor"
  (let* ((desc-old "# Disk DescriptorFile\nversion=1\nRW 2048 SPARSE \"a.vmdk\"\n")
         (desc-new "# Disk DescriptorFile\nversion=1\nRW 4096 SPARSE \"a.vmdk\"\n")
         (old (let ((bv (make-bytevector 2048 0)))
                (bytevector-copy! (string->utf8 "KDMV") 0 bv 0 4)
                (bytevector-u64-set! bv 12 2048 little)
                (bytevector-u64-set! bv 28 1 little)  ; descriptor at sector 1
                (bytevector-u64-set! bv 36 2 little)  ; two sectors
                (bytevector-copy! (string->utf8 desc-old) 0 bv 512 (string-length desc-old))
                bv))
         (dbv (let ((bv (make-bytevector 1024 0)))
                (bytevector-copy! (string->utf8 desc-new) 0 bv 0 (string-length desc-new))
                bv))
         (plan (make-plan #:format 'vmdk #:action 'grow #:total-file-size 2048
                          #:patches (list (make-patch 'write 12 8 (u64-bv 4096 little))
                                          (make-patch 'write 512 1024 dbv))))
         (changes (header-changes plan #:before old)))
    (test-equal "capacity" '("capacity" 2048 4096) (caddr (assoc "VMDK header" changes)))
    (test-equal "descriptor line diff"
      '(("-" "RW 2048 SPARSE \"a.vmdk\"" #f) ("+" #f "RW 4096 SPARSE \"a.vmdk\""))
      (cddr (assoc "VMDK descriptor" changes)))))

(test-group "VHDX headers"
  (let* ((hdr (lambda (seq)
                (let ((bv (make-bytevector 4096 0)))
                  (bytevector-copy! (string->utf8 "head") 0 bv 0 4)
                  (bytevector-u64-set! bv 8 seq little)
                  bv)))
         (old (let ((bv (make-bytevector #x50000 0)))
                (bytevector-copy! (hdr 1) 0 bv #x10000 4096)
                (bytevector-copy! (hdr 2) 0 bv #x20000 4096)
                bv))
         (plan (make-plan #:format 'vhdx #:action 'grow #:total-file-size #x50000
                          #:patches (list (make-patch 'write #x10000 4096 (hdr 3)))))
         (changes (header-changes plan #:before old)))
    (test-equal "sequence number of header 1"
      '(("VHDX header 1" #x10000 ("sequence_number" 1 3))) changes)))

(test-group "VHDX virtual disk size item, found through the region table"
  (let* ((old (make-bytevector #x120000 0))
         (guid (lambda (l) (u8-list->bytevector l))))
    (bytevector-copy! (string->utf8 "regi") 0 old #x30000 4)
    (bytevector-u32-set! old (+ #x30000 8) 1 little)
    (bytevector-copy! (guid '(#x06 #xA2 #x7C #x8B #x90 #x47 #x9A #x4B #xB8 #xFE #x57 #x5F #x05 #x0F #x88 #x6E))
                      0 old (+ #x30000 16) 16)
    (bytevector-u64-set! old (+ #x30000 32) #x100000 little)
    (bytevector-copy! (string->utf8 "metadata") 0 old #x100000 8)
    (bytevector-u16-set! old (+ #x100000 10) 1 little)
    (bytevector-copy! (guid '(#x24 #x42 #xA5 #x2F #x1B #xCD #x76 #x48 #xB2 #x11 #x5D #xBE #xD8 #x3B #xF4 #xB8))
                      0 old (+ #x100000 32) 16)
    (bytevector-u32-set! old (+ #x100000 48) #x10008 little)
    (bytevector-u64-set! old #x110008 (* 64 1024 1024) little)
    (let ((plan (make-plan #:format 'vhdx #:action 'grow #:total-file-size #x120000
                           #:patches (list (make-patch 'write #x110008 8
                                                       (u64-bv (* 128 1024 1024) little))))))
      (test-equal "old and new virtual disk size"
        `(("VHDX virtual disk size item" #x110008
           ("virtual_disk_size" ,(* 64 1024 1024) ,(* 128 1024 1024))))
        (header-changes plan #:before old)))))

(test-group "helpers"
  (test-equal "human-size bytes" "512 B" (human-size 512))
  (test-equal "human-size MiB" "1.5 MiB" (human-size (* 3 512 1024)))
  (test-equal "hexdump"
    "00000010  68 69                                             |hi|\n"
    (call-with-output-string (lambda (p) (hexdump (string->utf8 "hi") #:port p #:offset 16)))))

(test-group "show-plan on a real image"
  (let* ((dir (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp") "/instar-pp.XXXXXX")))
         (img (string-append dir "/a.raw")))
    (image-create img #:size 4096)
    (let* ((out #f)
           (plan (let ((s (open-output-string)))
                   (let ((p (show-plan img "+4K" #:port s)))
                     (set! out (get-output-string s))
                     p))))
      (test-assert "returns the plan" (plan? plan))
      (test-assert "old and new length" (contains? out "file length   4096 -> 8192 (0x2000)"))
      (test-equal "file untouched" 4096 (stat:size (stat img))))
    (system* "rm" "-rf" dir)))

(test-group "header diffs of real plans"
  (let* ((dir (mkdtemp (string-append (or (getenv "TMPDIR") "/tmp") "/instar-pp.XXXXXX")))
         (path (lambda (n) (string-append dir "/" n))))
    (define (field changes structure name)
      (let ((s (assoc structure changes)))
        (and s (assoc name (cddr s)))))
    (define (grown file fmt)
      ;; A 64M image FILE of FMT and its plan to grow by 64M: (values
      ;; plan header-changes).
      (image-create (path file) #:format fmt #:size "64M")
      (let ((plan (image-plan (path file) "+64M")))
        (values plan (header-changes plan #:image (path file)))))
    (let-values (((plan changes) (grown "a.vhd" 'vpc)))
      (test-equal "VHD footer copy: current_size old -> new"
        (list "current_size" (plan-old-virtual-size plan) (plan-new-virtual-size plan))
        (field changes "VHD footer copy" "current_size"))
      (test-equal "VHD footer at the end agrees"
        (field changes "VHD footer copy" "current_size")
        (field changes "VHD footer" "current_size")))
    (let-values (((plan changes) (grown "a.vmdk" 'vmdk)))
      (test-equal "VMDK capacity in sectors"
        (list "capacity" (/ (plan-old-virtual-size plan) 512) (/ (plan-new-virtual-size plan) 512))
        (field changes "VMDK header" "capacity"))
      (test-assert "VMDK descriptor extent line rewritten"
        (member (list "+" #f (format #f "RW ~d SPARSE \"a.vmdk\"" (/ (plan-new-virtual-size plan) 512)))
                (cddr (assoc "VMDK descriptor" changes)))))
    (let-values (((plan changes) (grown "a.vhdx" 'vhdx)))
      (test-equal "VHDX virtual disk size item, old -> new"
        (list "virtual_disk_size" (plan-old-virtual-size plan) (plan-new-virtual-size plan))
        (field changes "VHDX virtual disk size item" "virtual_disk_size"))
      (test-assert "VHDX header sequence numbers advance"
        (let ((f (field changes "VHDX header 1" "sequence_number")))
          (and f (> (caddr f) (cadr f))))))
    (system* "rm" "-rf" dir)))

(test-group "hostile plans print"
  (for-each
   (lambda (fmt)
     (test-assert (format #f "~a: huge offsets, overlaps, 129 patches" fmt)
       (not (string-contains (plan->string
                 (make-plan #:format fmt #:total-file-size 10
                            #:patches (append
                                       (list (make-patch 'write (- (expt 2 64) 1) 2 #f)
                                             (make-patch 'write 0 8 (make-bytevector 8 255))
                                             (make-patch 'append 4 8 (make-bytevector 8 1))
                                             (make-patch 'zero-fill #x10000 (expt 2 63) #f))
                                       (map (lambda (i) (make-patch 'zero-fill i 1 #f)) (iota 125))))
                 #:before (make-bytevector 600 #xff))
                             "unavailable"))))
   '(raw qcow2 vpc vhdx vmdk #f)))

(test-assert "every export of (instar plan-print) is documented"
  (every (lambda (name)
           (string? (procedure-documentation
                     (module-ref (resolve-interface '(instar plan-print)) name))))
         (module-map (lambda (name var) name) (resolve-interface '(instar plan-print)))))

(test-end "plan-print")
