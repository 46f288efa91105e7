;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar plan-print) -- plans made pleasant to read.
;;;
;;; plan-print shows a plan as a summary, a patch table (hex offsets and
;;; lengths, payload excerpts) and, where patches rewrite a format's header
;;; (qcow2 header, VHD footer and dynamic header, VHDX headers and region
;;; tables, VMDK header and descriptor), the header fields that change.
;;; Old field values need the image before the resize: pass #:image PATH
;;; (read only) or #:before BYTEVECTOR; without either only new values show.

(define-module (instar plan-print)
  #:use-module (instar core)
  #:use-module (rnrs bytevectors)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:export (plan-print plan->string show-plan hexdump human-size
            header-changes))

;;; Small helpers

(define (human-size n)
  "N bytes as a short human string: \"512 B\", \"1.5 KiB\", \"2.0 GiB\"."
  (let loop ((v (exact->inexact n)) (units '("B" "KiB" "MiB" "GiB" "TiB" "PiB" "EiB")))
    (cond ((and (string=? (car units) "B") (< v 1024)) (format #f "~d B" n))
          ((or (< v 1024) (null? (cdr units))) (format #f "~,1f ~a" v (car units)))
          (else (loop (/ v 1024) (cdr units))))))

(define (hex n) (format #f "0x~x" n))

(define* (hexdump bv #:key (port (current-output-port)) (offset 0) (limit 256)
                  (indent ""))
  "Print BV as a classic hex dump (16 bytes a line, with ASCII), numbering
lines from OFFSET and stopping after LIMIT bytes."
  (let* ((len (bytevector-length bv))
         (n (min len limit)))
    (let line ((i 0))
      (when (< i n)
        (let ((end (min n (+ i 16))))
          (format port "~a~8,'0x  " indent (+ offset i))
          (do ((j i (+ j 1))) ((= j (+ i 16)))
            (if (< j end)
                (format port "~2,'0x " (bytevector-u8-ref bv j))
                (display "   " port))
            (when (= j (+ i 7)) (display " " port)))
          (display " |" port)
          (do ((j i (+ j 1))) ((= j end))
            (let ((b (bytevector-u8-ref bv j)))
              (display (if (and (>= b 32) (< b 127)) (integer->char b) #\.) port)))
          (display "|" port)
          (newline port)
          (line end))))
    (when (> len n)
      (format port "~a... ~d more bytes~%" indent (- len n)))))

(define (excerpt bv n)
  (let ((k (min n (bytevector-length bv))))
    (string-append
     (string-join (map (lambda (i) (format #f "~2,'0x" (bytevector-u8-ref bv i))) (iota k)) " ")
     (if (> (bytevector-length bv) k) " ..." ""))))

;;; Where the old bytes come from

(define (make-reader image before)
  "A procedure (OFFSET LENGTH) -> bytevector of the image before the resize
(zeros past its end), or #f when neither IMAGE nor BEFORE is given."
  (cond
   (before
    (lambda (off len)
      (let ((out (make-bytevector len 0))
            (have (bytevector-length before)))
        (when (< off have)
          (bytevector-copy! before off out 0 (min len (- have off))))
        out)))
   (image
    (lambda (off len)
      (let ((out (make-bytevector len 0)))
        (call-with-input-file image
          (lambda (port)
            (let ((size (stat:size (stat port))))
              (when (< off size)
                (seek port off SEEK_SET)
                (let ((got (get-bytevector-n port (min len (- size off)))))
                  (unless (eof-object? got)
                    (bytevector-copy! got 0 out 0 (bytevector-length got)))))))
          #:binary #t)
        out)))
   (else #f)))

(define (old-file-size image before)
  (cond (before (bytevector-length before))
        (image (stat:size (stat image)))
        (else #f)))

;;; Header layouts: (name offset size type); type u8 u16 u32 u64 or ascii.

(define qcow2-header
  '(("magic" 0 4 ascii) ("version" 4 4 u32) ("backing_file_offset" 8 8 u64)
    ("backing_file_size" 16 4 u32) ("cluster_bits" 20 4 u32) ("size" 24 8 u64)
    ("crypt_method" 32 4 u32) ("l1_size" 36 4 u32) ("l1_table_offset" 40 8 u64)
    ("refcount_table_offset" 48 8 u64) ("refcount_table_clusters" 56 4 u32)
    ("nb_snapshots" 60 4 u32) ("snapshots_offset" 64 8 u64)
    ("incompatible_features" 72 8 u64) ("compatible_features" 80 8 u64)
    ("autoclear_features" 88 8 u64) ("refcount_order" 96 4 u32)
    ("header_length" 100 4 u32)))

(define vhd-footer
  '(("cookie" 0 8 ascii) ("features" 8 4 u32) ("version" 12 4 u32)
    ("data_offset" 16 8 u64) ("timestamp" 24 4 u32) ("creator_app" 28 4 ascii)
    ("creator_version" 32 4 u32) ("creator_os" 36 4 u32) ("original_size" 40 8 u64)
    ("current_size" 48 8 u64) ("cylinders" 56 2 u16) ("heads" 58 1 u8)
    ("sectors_per_track" 59 1 u8) ("disk_type" 60 4 u32) ("checksum" 64 4 u32)
    ("saved_state" 84 1 u8)))

(define vhd-dyn-header
  '(("cookie" 0 8 ascii) ("data_offset" 8 8 u64) ("table_offset" 16 8 u64)
    ("header_version" 24 4 u32) ("max_table_entries" 28 4 u32)
    ("block_size" 32 4 u32) ("checksum" 36 4 u32)))

(define vhdx-header
  '(("signature" 0 4 ascii) ("checksum" 4 4 u32) ("sequence_number" 8 8 u64)
    ("log_version" 64 2 u16) ("version" 66 2 u16) ("log_length" 68 4 u32)
    ("log_offset" 72 8 u64)))

(define vhdx-region-table
  '(("signature" 0 4 ascii) ("checksum" 4 4 u32) ("entry_count" 8 4 u32)
    ("entry0.file_offset" 32 8 u64) ("entry0.length" 40 4 u32)
    ("entry1.file_offset" 64 8 u64) ("entry1.length" 72 4 u32)))

(define vmdk-header
  '(("magic" 0 4 ascii) ("version" 4 4 u32) ("flags" 8 4 u32) ("capacity" 12 8 u64)
    ("grain_size" 20 8 u64) ("desc_offset" 28 8 u64) ("desc_size" 36 8 u64)
    ("num_gtes_per_gt" 44 4 u32) ("rgd_offset" 48 8 u64) ("gd_offset" 56 8 u64)
    ("overhead" 64 8 u64) ("unclean_shutdown" 72 1 u8)))

(define (field-value bv off size type endian)
  (match type
    ('ascii (list->string
             (map (lambda (i)
                    (let ((b (bytevector-u8-ref bv (+ off i))))
                      (if (and (>= b 32) (< b 127)) (integer->char b) #\.)))
                  (iota size))))
    ('u8 (bytevector-u8-ref bv off))
    ('u16 (bytevector-u16-ref bv off endian))
    ('u32 (bytevector-u32-ref bv off endian))
    ('u64 (bytevector-u64-ref bv off endian))))

;;; VHDX keeps the virtual size in a metadata item found through the region
;;; table (MS-VHDX 2.2.3, 2.6.1); GUIDs as stored (first three fields LE).
(define vhdx-metadata-region-guid
  #vu8(#x06 #xA2 #x7C #x8B #x90 #x47 #x9A #x4B #xB8 #xFE #x57 #x5F #x05 #x0F #x88 #x6E))
(define vhdx-virtual-disk-size-guid
  #vu8(#x24 #x42 #xA5 #x2F #x1B #xCD #x76 #x48 #xB2 #x11 #x5D #xBE #xD8 #x3B #xF4 #xB8))

(define (vhdx-virtual-disk-size-offset read-old)
  "The file offset of the Virtual Disk Size item in the old image, or #f."
  (define little (endianness little))
  (define (guid-at bv off)
    (let ((g (make-bytevector 16)))
      (bytevector-copy! bv off g 0 16)
      g))
  (let* ((rt (read-old #x30000 65536))
         (count (min 2047 (bytevector-u32-ref rt 8 little)))
         (meta (and (string=? (field-value rt 0 4 'ascii little) "regi")
                    (let loop ((i 0))
                      (and (< i count)
                           (let ((e (+ 16 (* 32 i))))
                             (if (equal? (guid-at rt e) vhdx-metadata-region-guid)
                                 (bytevector-u64-ref rt (+ e 16) little)
                                 (loop (+ i 1)))))))))
    (and meta
         (let* ((mt (read-old meta 65536))
                (n (min 2047 (bytevector-u16-ref mt 10 little))))
           (and (string=? (field-value mt 0 8 'ascii little) "metadata")
                (let loop ((i 0))
                  (and (< i n)
                       (let ((e (+ 32 (* 32 i))))
                         (if (equal? (guid-at mt e) vhdx-virtual-disk-size-guid)
                             (+ meta (bytevector-u32-ref mt (+ e 16) little))
                             (loop (+ i 1)))))))))))

;;; A structure: (name old-offset new-offset length layout endian); layout
;;; 'text for descriptors.
(define (structures format plan read-old old-size)
  (define total (plan-total-file-size plan))
  (define big (endianness big))
  (define little (endianness little))
  (match format
    ('qcow2 `(("qcow2 header" 0 0 104 ,qcow2-header ,big)))
    ('vpc (append
           `(("VHD footer copy" 0 0 512 ,vhd-footer ,big)
             ("VHD dynamic header" 512 512 1024 ,vhd-dyn-header ,big))
           (if (>= total 512)
               `(("VHD footer" ,(if (and old-size (>= old-size 512)) (- old-size 512) (- total 512))
                  ,(- total 512) 512 ,vhd-footer ,big))
               '())))
    ('vhdx (append
            `(("VHDX header 1" #x10000 #x10000 4096 ,vhdx-header ,little)
              ("VHDX header 2" #x20000 #x20000 4096 ,vhdx-header ,little)
              ("VHDX region table 1" #x30000 #x30000 65536 ,vhdx-region-table ,little)
              ("VHDX region table 2" #x40000 #x40000 65536 ,vhdx-region-table ,little))
            (let ((at (and read-old (vhdx-virtual-disk-size-offset read-old))))
              (if at
                  `(("VHDX virtual disk size item" ,at ,at 8 (("virtual_disk_size" 0 8 u64))
                     ,little))
                  '()))))
    ('vmdk (let* ((hdr (and read-old (read-old 0 512)))
                  (desc (and hdr (equal? (field-value hdr 0 4 'ascii little) "KDMV")
                             (cons (* 512 (bytevector-u64-ref hdr 28 little))
                                   (* 512 (bytevector-u64-ref hdr 36 little))))))
             (append `(("VMDK header" 0 0 512 ,vmdk-header ,little))
                     (if (and desc (> (cdr desc) 0) (<= (cdr desc) (* 1024 1024)))
                         `(("VMDK descriptor" ,(car desc) ,(car desc) ,(cdr desc) text ,little))
                         '()))))
    (_ '())))

(define (overlap? a alen b blen)
  (and (> alen 0) (> blen 0) (< a (+ b blen)) (< b (+ a alen))))

(define (apply-patches! bv covered start len patches)
  "Lay every patch overlapping [START, START+LEN) onto BV (the structure's
bytes), marking COVERED (a bytevector of flags)."
  (for-each
   (lambda (p)
     (let ((off (patch-offset p)) (plen (patch-length p)))
       (when (overlap? off plen start len)
         (let ((from (max off start))
               (to (min (+ off plen) (+ start len)))
               (payload (patch-payload p)))
           (do ((i from (+ i 1))) ((= i to))
             (bytevector-u8-set! bv (- i start)
                                 (if payload (bytevector-u8-ref payload (- i off)) 0))
             (bytevector-u8-set! covered (- i start) 1))))))
   patches))

(define* (header-changes plan #:key image before)
  "The header fields PLAN rewrites: a list of (structure-name offset
(field old new) ...) where OLD is #f when the old image is unknown.  Keywords
#:image PATH or #:before BYTEVECTOR give the image before the resize."
  (let* ((read-old (make-reader image before))
         (old-size (old-file-size image before))
         (patches (plan-patches plan)))
    (filter-map
     (match-lambda
       ((name old-off new-off len layout endian)
        (and (any (lambda (p) (overlap? (patch-offset p) (patch-length p) new-off len)) patches)
             (let* ((old (and read-old (read-old old-off len)))
                    (new (if old (bytevector-copy old) (make-bytevector len 0)))
                    (covered (make-bytevector len 0)))
               (apply-patches! new covered new-off len patches)
               (cons* name new-off
                      (if (eq? layout 'text)
                          (text-changes old new)
                          (field-changes layout endian old new covered)))))))
     (structures (plan-format plan) plan read-old old-size))))

(define (field-changes layout endian old new covered)
  (filter-map
   (match-lambda
     ((fname off size type)
      (let ((touched (any (lambda (i) (= 1 (bytevector-u8-ref covered (+ off i)))) (iota size)))
            (nv (field-value new off size type endian)))
        (and touched
             (if old
                 (let ((ov (field-value old off size type endian)))
                   (and (not (equal? ov nv)) (list fname ov nv)))
                 (list fname #f nv))))))
   layout))

(define (text-lines bv)
  (let* ((s (utf8->string bv))
         (s (let ((nul (string-index s #\nul))) (if nul (substring s 0 nul) s))))
    (filter (lambda (l) (not (string-null? l))) (string-split s #\newline))))

(define (text-changes old new)
  (let ((ol (if old (text-lines old) '()))
        (nl (text-lines new)))
    (append (map (lambda (l) (list "-" l #f)) (lset-difference string=? ol nl))
            (map (lambda (l) (list "+" #f l)) (lset-difference string=? nl ol)))))

;;; The printer

(define* (plan-print plan #:key (port (current-output-port)) image before
                     (excerpt-bytes 16))
  "Print PLAN: summary, patch table (hex offsets and lengths, payload
excerpts), header-field changes, invariant violations.  #:image PATH (the
image before the resize, read only) or #:before BYTEVECTOR supply old header
values; #:excerpt-bytes sets how many payload bytes each row shows."
  (let ((patches (plan-patches plan))
        (range (plan-prealloc-range plan))
        (violations (plan-check plan)))
    (format port "plan~a: ~a~%"
            (if (plan-format plan) (format #f " for ~a" (plan-format plan)) "")
            (plan-action plan))
    (format port "  virtual size  ~a (~d) -> ~a (~d)~%"
            (human-size (plan-old-virtual-size plan)) (plan-old-virtual-size plan)
            (human-size (plan-new-virtual-size plan)) (plan-new-virtual-size plan))
    (format port "  file length   ~a~a (~a)~%"
            (let ((old (old-file-size image before)))
              (if old (format #f "~d -> " old) ""))
            (plan-total-file-size plan) (hex (plan-total-file-size plan)))
    (format port "  preallocate   ~a~%"
            (if (zero? (cdr range))
                "nothing"
                (format #f "~a +~a (~a)" (hex (car range)) (hex (cdr range))
                        (human-size (cdr range)))))
    (format port "  patches       ~d~%" (plan-patch-count plan))
    (unless (null? patches)
      (format port "  ~3@a  ~9a  ~18a  ~10a  ~a~%" "#" "kind" "offset" "length" "payload")
      (let loop ((ps patches) (i 0))
        (unless (null? ps)
          (let ((p (car ps)))
            (format port "  ~3d  ~9a  0x~16,'0x  ~10a  ~a~%"
                    i (patch-kind p) (patch-offset p) (hex (patch-length p))
                    (if (patch-payload p) (excerpt (patch-payload p) excerpt-bytes) "-")))
          (loop (cdr ps) (+ i 1)))))
    (for-each
     (match-lambda
       ((name offset . changes)
        (format port "  ~a @ ~a:~a~%" name (hex offset)
                (if (null? changes) " rewritten, no field changes" ""))
        (for-each
         (match-lambda
           (("-" line _) (format port "    - ~a~%" line))
           (("+" _ line) (format port "    + ~a~%" line))
           ((field old new)
            (let ((show (lambda (v) (if (integer? v) (format #f "~d (~a)" v (hex v))
                                        (format #f "~s" v)))))
              (if old
                  (format port "    ~24a ~a -> ~a~%" field (show old) (show new))
                  (format port "    ~24a = ~a~%" field (show new))))))
         changes)))
     (catch #t
       (lambda () (apply header-changes plan
                         (append (if image (list #:image image) '())
                                 (if before (list #:before before) '()))))
       (lambda (key . args)
         (format port "  (header fields unavailable: ~a)~%" key)
         '())))
    (if (null? violations)
        (format port "  invariants    hold~%")
        (for-each (lambda (v)
                    (format port "  VIOLATION     ~a~%" (violation-message v)))
                  violations))
    *unspecified*))

(define (plan->string plan . args)
  "PLAN as plan-print would print it, as a string."
  (call-with-output-string
    (lambda (port) (apply plan-print plan #:port port args))))

(define* (show-plan path size-spec #:key format shrink? (prealloc 'off)
                    (port (current-output-port)))
  "Plan resizing the image at PATH to SIZE-SPEC (image-plan; nothing is
written) and print the plan with old header values read from PATH.
Returns the plan."
  (let ((plan (image-plan path size-spec #:format format #:shrink? shrink?
                          #:prealloc prealloc)))
    (plan-print plan #:port port #:image path)
    plan))
